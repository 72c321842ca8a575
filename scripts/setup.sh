#!/usr/bin/env bash
# Installs what Discipline needs on a fresh Debian machine (run as root): oneDNN, OpenBLAS,
# zlib and the Fashion-MNIST data set; and for the tests of --command and the Python helper,
# Debian's CPU PyTorch (python3-torch, importable from /usr/bin/python3); and for the tests of
# the cluster executor, Slurm and munge (started by scripts/slurm-up.sh, installed without
# recommends to avoid ~25 plugin packages). Safe to run again: it skips what is already there.
set -euo pipefail
missing() {  # prints those of the named packages that are not installed
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}
mapfile -t need < <(missing libdnnl-dev libopenblas-dev zlib1g-dev dataset-fashion-mnist python3-torch)
mapfile -t need_bare < <(missing slurmctld slurmd slurm-client munge)
export DEBIAN_FRONTEND=noninteractive
all=("${need[@]}" "${need_bare[@]}")
if [ ${#all[@]} -gt 0 ]; then
  echo "setup: installing ${all[*]}" >&2
  apt-get update -qq
fi
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ${#need_bare[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${need_bare[@]}" >/dev/null
fi
