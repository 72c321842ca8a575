#!/usr/bin/env bash
# Runs a spirals tune (its budget counted in work: --virtual-clock) and a Fashion-MNIST momentum
# study (fixed --trial-steps) into OUT; with BASELINE, a folder an earlier version wrote the
# same way, says whether the journals, hyperparameters.json and study.json are the same but for
# the time measured on the wall clock (when an entry finished, a trial's seconds). For refactorings: the same seed must give the same choices.
#
#   scripts/behaviour-check.sh /tmp/before            # on the old version
#   scripts/behaviour-check.sh /tmp/after /tmp/before # on the new one
set -euo pipefail
out=${1:?usage: scripts/behaviour-check.sh OUT [BASELINE]}
baseline=${2:-}
bin=${DISCIPLINE:-$(dirname "$0")/../.build/release/discipline}
rm -rf "$out" && mkdir -p "$out"
"$bin" tune --dataset spirals --model mlp --budget 60s --virtual-clock 20000 --seed 0 \
  --out "$out/spirals-tune" 2>"$out/spirals-tune.log"
"$bin" study momentum --dataset fashion-mnist --model cnn --batch-size 128 --trial-steps 60 \
  --seed 0 --out "$out/fashion-momentum" 2>"$out/fashion-momentum.log"
echo "wrote $out/spirals-tune and $out/fashion-momentum"
[ -z "$baseline" ] && exit 0
# What a run measured of time (when an entry finished, a trial's seconds) differs run to run on
# the wall clock; everything else must match.
strip() {
  /usr/bin/python3 -c '
import json, sys
def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items() if k not in ("finished", "seconds", "evaluationSeconds")}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v
text = open(sys.argv[1]).read()
records = [json.loads(line) for line in text.splitlines() if line.strip()] \
    if sys.argv[1].endswith(".jsonl") else [json.loads(text)]
for record in records:
    print(json.dumps(clean(record), sort_keys=True))
' "$1" >"$2"
}
same=0
for f in spirals-tune/journal.jsonl spirals-tune/hyperparameters.json \
  fashion-momentum/journal.jsonl fashion-momentum/study.json; do
  if [ ! -f "$baseline/$f" ]; then echo "MISSING: $baseline/$f"; same=1; continue; fi
  strip "$baseline/$f" "$out/.baseline"
  strip "$out/$f" "$out/.this"
  if diff "$out/.baseline" "$out/.this" >/dev/null; then
    echo "same:    $f"
  else
    echo "DIFFERS: $f"; same=1
  fi
done
exit $same
