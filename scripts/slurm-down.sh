#!/usr/bin/env bash
# Stops the single-node Slurm that scripts/slurm-up.sh started in DISCIPLINE_SLURM_DIR
# (default /tmp/discipline-slurm): cancels its jobs, stops slurmctld and slurmd, kills any job
# step left behind, and stops munged if slurm-up.sh started it. Safe to run when nothing runs.
# Leaves the directory (logs, state) for inspection; the next slurm-up.sh clears it.
#
#   scripts/slurm-down.sh
set -uo pipefail
D=${DISCIPLINE_SLURM_DIR:-/tmp/discipline-slurm}
[ -d "$D" ] || exit 0
D=$(cd "$D" && pwd)
export SLURM_CONF=$D/slurm.conf

# A zombie (ended, not yet reaped by its parent) counts as gone.
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# Waits up to $2 quarter-seconds for pid $1 to end, then kills it.
stop_pid() {
  local pid=$1 i
  for i in $(seq "$2"); do alive "$pid" || return 0; sleep 0.25; done
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 20); do alive "$pid" || return 0; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null
}
# The job steps of this cluster: slurmstepd processes that inherited this SLURM_CONF.
steps() {
  local pid
  for pid in $(pgrep -x slurmstepd); do
    grep -qzxF "SLURM_CONF=$SLURM_CONF" "/proc/$pid/environ" 2>/dev/null && echo "$pid"
  done
}

if [ -f "$SLURM_CONF" ] && scontrol ping >/dev/null 2>&1; then
  jobs=$(squeue -h -t pending,running,suspended,configuring -o %A 2>/dev/null)
  if [ -n "$jobs" ]; then
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 40); do
      [ -z "$(squeue -h -t running,configuring,completing -o %A 2>/dev/null)" ] && [ -z "$(steps)" ] && break
      sleep 0.25
    done
  fi
  scontrol shutdown >/dev/null 2>&1
fi

pids=()
for f in "$D/run/slurmctld.bgpid" "$D/run/slurmd.bgpid" "$D/run/slurmctld.pid" "$D/run/slurmd.pid"; do
  [ -s "$f" ] && pids+=("$(cat "$f")")
done
for pid in "${pids[@]}"; do
  # Only a slurm daemon: a stale pid file must not kill an unrelated process.
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in slurmctld|slurmd) stop_pid "$pid" 40 ;; esac
done
tree() {  # a pid and all its descendants
  local child
  echo "$1"
  for child in $(pgrep -P "$1"); do tree "$child"; done
}
for pid in $(steps); do
  # shellcheck disable=SC2046
  kill -KILL $(tree "$pid") 2>/dev/null
done

if [ -s "$D/run/munged.pid" ]; then
  pid=$(cat "$D/run/munged.pid")
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = munged ]; then
    kill -TERM "$pid" 2>/dev/null
    stop_pid "$pid" 1
  fi
  rm -f "$D/run/munged.pid"
fi
rm -f "$D/run/slurmctld.bgpid" "$D/run/slurmd.bgpid"
exit 0
