#!/usr/bin/env bash
# Installs what Discipline needs on a fresh Debian machine (run as root): oneDNN, OpenBLAS,
# zlib and the Fashion-MNIST data set; and for the tests of --command and the Python helper,
# Debian's CPU PyTorch (python3-torch, importable from /usr/bin/python3). Safe to run again: it
# skips what is already there.
set -euo pipefail
need=()
for pkg in libdnnl-dev libopenblas-dev zlib1g-dev dataset-fashion-mnist python3-torch; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
