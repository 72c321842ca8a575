#!/bin/sh
# A training program for the tests of --command, in sh and awk: it follows the spec's schedule
# with loss = 1/(1 + 1000·lr) + 10⁵·lr², which falls and then blows up as the learning rate
# rises, reports a validation loss every 10 steps, and checks the stop file after every step.
e="$DISCIPLINE_EVENTS"
printf '{"event":"start","protocol":1,"honours":["dropout"],"time":0}\n' >> "$e"
awk -F, -v stop="$DISCIPLINE_STOP" -v e="$e" 'NR > 1 {
  if (system("test -e " stop) == 0) exit
  loss = 1 / (1 + 1000 * $2) + 100000 * $2 * $2
  printf "{\"event\":\"train\",\"step\":%d,\"loss\":%.6g,\"samples\":32,\"time\":0}\n", $1, loss >> e
  if (($1 + 1) % 10 == 0) printf "{\"event\":\"val\",\"step\":%d,\"loss\":%.6g,\"accuracy\":0.5,\"time\":0}\n", $1 + 1, loss * 1.1 >> e
  fflush(e)
  n = $1 + 1
} END { printf "{\"event\":\"end\",\"steps\":%d,\"time\":0}\n", n >> e }' "$DISCIPLINE_DIR/schedule.csv"
