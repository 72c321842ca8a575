#!/usr/bin/env bash
# Makes the Python environments that the framework callbacks' tests (issue 26) run in, at the
# repository root (git-ignored):
#   .venv-hf         Debian's CPU PyTorch 1.13 (python3-torch, installed by scripts/setup.sh),
#                    seen through --system-site-packages, plus transformers 4.40.2 and
#                    accelerate 0.29.3; a constraint pins torch to Debian's, so pip never pulls
#                    PyPI's multi-gigabyte torch. ~160 MB, ~10 s.
#   .venv-lightning  PyTorch Lightning 2.6.6 on torch 2.13.0 (Lightning cannot run on Debian's
#                    torch 1.13 under Python 3.11). pip takes the CPU-only wheel
#                    (torch-2.13.0+cpu, ~190 MB) where its find-links offer it (this machine's
#                    /opt/wheels), else PyPI's build with its CUDA libraries (~4.8 GB installed,
#                    ~75 s here; still CPU-only use). ~1 GB and ~30 s with the CPU wheel.
# Usage: scripts/setup-frameworks.sh [hf|lightning|all]   (default all)
# Idempotent and quiet: an environment whose pins are unchanged is kept (then ~0.1 s).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}

# Exact pins (what the tests ran with); newer versions are expected to work.
HF_PINS="transformers==4.40.2 accelerate==0.29.3 tokenizers==0.19.1 huggingface-hub==0.36.2
safetensors==0.8.0 regex==2026.12.2 filelock==4.3.2 fsspec==2026.9.0 packaging==26.4 tqdm==4.70.1"
LIGHTNING_PINS="torch==2.13.0 lightning==2.6.6 pytorch-lightning==2.6.6 torchmetrics==1.9.0
lightning-utilities==0.15.3 numpy==2.4.6 PyYAML==6.0.4 fsspec==2026.9.0 packaging==26.4 tqdm==4.70.1
typing_extensions==4.16.0 filelock==4.3.2 sympy==1.14.0 mpmath==1.3.0 networkx==3.6.1 Jinja2==3.1.6
MarkupSafe==3.0.4 aiohttp==3.14.5 aiohappyeyeballs==2.7.1 aiosignal==1.4.0 attrs==26.1.0
frozenlist==1.8.0 idna==3.21 multidict==7.2.1 propcache==0.5.4 yarl==1.25.1"

fresh() {  # fresh DIR PINS...: true when DIR was made with exactly these pins
  local dir=$1; shift
  [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.pins" 2>/dev/null)" = "$*" ]
}

make_hf() {
  local dir=.venv-hf torch
  torch=$(/usr/bin/python3 -c 'import importlib.metadata as m; print(m.version("torch").split("+")[0])' 2>/dev/null) || {
    echo "setup-frameworks: Debian's python3-torch is not importable from /usr/bin/python3 (scripts/setup.sh installs it)" >&2
    return 1
  }
  fresh "$dir" torch==$torch $HF_PINS && return 0
  echo "setup-frameworks: making $dir (transformers on Debian's torch $torch)" >&2
  rm -rf "$dir"
  /usr/bin/python3 -m venv --system-site-packages "$dir"
  echo "torch==$torch" > "$dir/constraints.txt"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -c "$dir/constraints.txt" $HF_PINS
  "$dir/bin/python" -c 'import transformers, accelerate, torch' 
  echo torch==$torch $HF_PINS > "$dir/.pins"
}

make_lightning() {
  local dir=.venv-lightning
  fresh "$dir" $LIGHTNING_PINS && return 0
  echo "setup-frameworks: making $dir (lightning on torch 2.13)" >&2
  rm -rf "$dir"
  /usr/bin/python3 -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check $LIGHTNING_PINS
  "$dir/bin/python" -c 'import lightning.pytorch, torch'
  echo $LIGHTNING_PINS > "$dir/.pins"
}

case "$which" in
  hf) make_hf ;;
  lightning) make_lightning ;;
  all) make_hf; make_lightning ;;
  *) echo "usage: scripts/setup-frameworks.sh [hf|lightning|all]" >&2; exit 64 ;;
esac
