#!/usr/bin/env bash
# Starts a private single-node Slurm on this machine, for the tests of the cluster executor
# (run as root; no systemd needed; install the packages first with scripts/setup.sh).
#
#   eval "$(scripts/slurm-up.sh)"     # prints one line: export SLURM_CONF=<dir>/slurm.conf
#   sbatch ... ; squeue ... ; scontrol ...
#   scripts/slurm-down.sh             # stops slurmctld, slurmd, their jobs and munged
#
# Everything lives in DISCIPLINE_SLURM_DIR (default /tmp/discipline-slurm): slurm.conf,
# state/, spool/, log/ (daemon logs, jobcomp.txt), run/ (pids). Nothing in /etc/slurm is used.
# The node "localhost" in partition "ci" has DISCIPLINE_SLURM_CPUS CPUs (default: the cores online;
# more than the machine has is allowed). Finished jobs stay visible in `squeue -t all` for an
# hour (MinJobAge=3600); there is no accounting database, so no sacct.
#
# A previous instance in the same directory is stopped first (scripts/slurm-down.sh) and its
# state, spool and logs are removed: every start is a fresh cluster with no jobs, and job ids
# start again at 1. munged is started only if no munged answers; slurm-down.sh stops it only
# if this script started it. Uses the default ports 6817 (slurmctld) and 6818 (slurmd).
# Diagnostics go to stderr; on failure the exit status is non-zero and the logs' tails are shown.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${DISCIPLINE_SLURM_DIR:-/tmp/discipline-slurm}
# Not nproc: it follows OMP_NUM_THREADS, which the test command sets to 1.
cpus=${DISCIPLINE_SLURM_CPUS:-$(getconf _NPROCESSORS_ONLN)}
for cmd in slurmctld slurmd sinfo munged; do
  command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] \
    || { echo "slurm-up: $cmd is missing; run scripts/setup.sh as root" >&2; exit 1; }
done

DISCIPLINE_SLURM_DIR=$D "$here/slurm-down.sh" >&2
mkdir -p "$D"
D=$(cd "$D" && pwd)
rm -rf "$D/state" "$D/spool" "$D/log" "$D/run" "$D/slurm.conf"
mkdir -p "$D/state" "$D/spool" "$D/log" "$D/run"
export SLURM_CONF=$D/slurm.conf
mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
cat > "$SLURM_CONF" <<CONF
# Written by scripts/slurm-up.sh; removed by the next start.
ClusterName=discipline
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

# munge: the key is made by the package; start munged unless one already answers.
if ! { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }; then
  install -d -o munge -g munge -m 755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey -c -f
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged --force   # forks; pid in /run/munge/munged.pid
  cp /run/munge/munged.pid "$D/run/munged.pid"   # ours: slurm-down.sh stops it
fi

# The daemons in the foreground of background shells, so that no systemd is needed.
setsid /usr/sbin/slurmctld -D -i > "$D/log/slurmctld.out" 2>&1 < /dev/null &
echo $! > "$D/run/slurmctld.bgpid"
setsid /usr/sbin/slurmd -D -N localhost > "$D/log/slurmd.out" 2>&1 < /dev/null &
echo $! > "$D/run/slurmd.bgpid"

for _ in $(seq 120); do
  if sinfo -h -n localhost -o %T 2>/dev/null | grep -qxE 'idle|mixed|allocated'; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "slurm-up: the node did not become idle within 60 s; logs in $D/log" >&2
sinfo -N -l >&2 || true
tail -n 20 "$D"/log/* >&2 || true
exit 1
