#!/usr/bin/env bash
# `discipline tune` against what a user gets in the same time without it: `lr-find` (its
# suggested max LR), then `fit` with one-cycle at that rate for as many epochs as the rest of
# the same budget holds (timed by runs of one and three epochs first, which count against the
# budget too).
# Both train on all the training data and report the test split. Run it alone on the machine:
#
#   scripts/against-fit.sh              # the problems below, at their budgets
#   scripts/against-fit.sh --quick      # budgets halved
#   scripts/against-fit.sh --keep DIR   # keep every run's files (reports, journals) in DIR
#   scripts/against-fit.sh --only "blobs|cnn"  # the problems whose name matches (a regex)
#
# The problems are ones the recipe's defaults were not tuned on: synthetic spirals and
# overlapping blobs, Fashion-MNIST through an mlp, a table made from Fashion-MNIST (7×7
# average-pooled pixels as 49 numeric columns, 6,000 rows: a CSV the tool reads as any user's
# table), two small real tables that ship with scikit-learn (handwritten digits as 8×8 pixels,
# 1,797 rows; breast-cancer measurements, 30 columns of unlike scales, 569 rows: smaller than
# the largest default batch), and the Fashion-MNIST cnn at 5 minutes instead of 20.
# The scikit-learn tables are taken from Debian's python3-sklearn package, unpacked here
# (`apt-get download`, no installation); without it those two problems are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=1
keep=""
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) scale=0.5; shift ;;
    --keep) keep=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: scripts/against-fit.sh [--quick] [--keep DIR] [--only NAME]" >&2; exit 64 ;;
  esac
done
swift build -c release >/dev/null
bin=$PWD/.build/release/discipline
if [[ -n "$keep" ]]; then
  mkdir -p "$keep"; work=$(cd "$keep" && pwd)
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

# scikit-learn's bundled tables, as CSVs with a header and a `label` column.
sklearn=/usr/lib/python3/dist-packages/sklearn/datasets/data
if [[ ! -d "$sklearn" ]]; then
  (cd "$work" && apt-get download python3-sklearn >/dev/null 2>&1 \
    && dpkg-deb -x python3-sklearn_*.deb sklearn-deb) || true
  sklearn=$work/sklearn-deb/usr/lib/python3/dist-packages/sklearn/datasets/data
fi
if [[ -f "$sklearn/digits.csv.gz" ]]; then
  python3 - "$sklearn" "$work" <<'EOF'
import csv, gzip, sys
data, out = sys.argv[1], sys.argv[2]
with gzip.open(f"{data}/digits.csv.gz", "rt") as f, open(f"{out}/digits.csv", "w") as o:
    o.write(",".join(f"p{i}" for i in range(64)) + ",label\n")
    for row in csv.reader(f):
        o.write(",".join(row[:64]) + f",{int(float(row[64]))}\n")
with open(f"{data}/breast_cancer.csv") as f, open(f"{out}/breast_cancer.csv", "w") as o:
    rows = list(csv.reader(f))[1:]
    o.write(",".join(f"x{i}" for i in range(30)) + ",label\n")
    for row in rows:
        o.write(",".join(row[:30]) + f",{row[30]}\n")
EOF
fi

# The table: a header row, 49 numeric columns and `label`.
python3 - "$work/fashion7.csv" <<'EOF'
import gzip, struct, sys
def idx(name):
    data = gzip.open("/usr/share/datasets/fashion-mnist/" + name, "rb").read()
    n = data[3]; dims = struct.unpack(">" + "I" * n, data[4:4 + 4 * n])
    return dims, data[4 + 4 * n:]
(count, h, w), images = idx("train-images-idx3-ubyte.gz")
_, labels = idx("train-labels-idx1-ubyte.gz")
with open(sys.argv[1], "w") as f:
    f.write(",".join(f"p{i}" for i in range(49)) + ",label\n")
    for k in range(6000):
        img = images[k * 784:(k + 1) * 784]
        cells = [sum(img[(4 * r + dr) * 28 + 4 * c + dc] for dr in range(4) for dc in range(4)) / (16 * 255)
                 for r in range(7) for c in range(7)]
        f.write(",".join(f"{v:.4f}" for v in cells) + f",{labels[k]}\n")
EOF

json() { python3 -c "import json,sys; d=json.loads(sys.stdin.readlines()[-1]); print(d$1)"; }
now() { date +%s.%N; }

printf '%-30s %7s | %-24s | %-34s\n' "problem" "budget" "tune: accuracy, wall" "lr-find + fit: accuracy, epochs, wall"
run() {
  local name=$1 budget; budget=$(printf '%.0f' "$(echo "$2 * $scale" | bc -l)"); shift 2
  [[ -z "$only" || "$name" =~ $only ]] || return 0
  local dir="$work/$(echo "$name" | tr -c 'a-zA-Z0-9' '_')"
  mkdir -p "$dir"
  local t0 t1 tuned tuneWall
  t0=$(now)
  if ! "$bin" tune "$@" --budget "${budget}s" --out "$dir/tune" --json >"$dir/tune.json" 2>"$dir/tune.log"; then
    echo "$name: tune failed: $(tail -1 "$dir/tune.log")"; return
  fi
  t1=$(now)
  tuned=$(json "['test_accuracy']" <"$dir/tune.json")
  tuneWall=$(echo "$t1 - $t0" | bc)
  # The user's way: lr-find, one epoch to time an epoch, then the epochs the rest of the budget holds.
  t0=$(now)
  "$bin" lr-find "$@" --out "$dir/lr" --json >"$dir/lr.json" 2>"$dir/lr.log"
  local lr; lr=$(json "['suggested_max_lr']" <"$dir/lr.json")
  # An epoch's cost from runs of 1 and 3 epochs (the first epoch of a run costs more: its
  # primitives are made then), and the start-up of a run from the longer one's wall time.
  "$bin" fit "$@" --epochs 1 --max-lr "$lr" --validation-split 0 --out "$dir/probe1" --json >"$dir/probe1.json" 2>"$dir/probe.log"
  local c0 c1; c0=$(now)
  "$bin" fit "$@" --epochs 3 --max-lr "$lr" --validation-split 0 --out "$dir/probe3" --json >"$dir/probe3.json" 2>>"$dir/probe.log"
  c1=$(now)
  local one three epochSeconds overhead left epochs
  one=$(json "['seconds']" <"$dir/probe1.json"); three=$(json "['seconds']" <"$dir/probe3.json")
  # Epochs of a small problem take milliseconds, where the difference is noise (it can come
  # out negative): then the longer run's mean epoch.
  epochSeconds=$(python3 -c "d = ($three - $one) / 2; print(d if d > $three / 10 else $three / 3)")
  overhead=$(echo "$c1 - $c0 - $three + $epochSeconds" | bc -l)
  left=$(echo "$budget - ($c1 - $t0) - $overhead" | bc -l)
  epochs=$(python3 -c "print(max(1, int($left / $epochSeconds)))")
  "$bin" fit "$@" --epochs "$epochs" --max-lr "$lr" --validation-split 0 --out "$dir/fit" --json >"$dir/fit.json" 2>"$dir/fit.log"
  local fitted fitWall; fitted=$(json "['test_accuracy']" <"$dir/fit.json"); fitWall=$(echo "$(now) - $t0" | bc)
  printf '%-30s %6ss | %6.2f%% in %6.1fs       | %6.2f%% at LR %-8.3g %3d ep %6.1fs\n' "$name" "$budget" \
    "$(echo "100 * $tuned" | bc -l)" "$tuneWall" "$(echo "100 * $fitted" | bc -l)" "$lr" "$epochs" "$fitWall"
}

run "spirals, mlp" 60 --dataset spirals --model mlp
run "blobs (noise 3), mlp" 60 --dataset blobs --noise 3 --model mlp
run "fashion-mnist, mlp" 120 --dataset fashion-mnist --model mlp
run "fashion 7x7 table (csv), mlp" 120 --dataset "csv:$work/fashion7.csv" --model mlp
if [[ -f "$work/digits.csv" ]]; then
  run "digits 8x8 (csv), mlp" 60 --dataset "csv:$work/digits.csv" --model mlp
  run "breast cancer (csv), mlp" 60 --dataset "csv:$work/breast_cancer.csv" --model mlp
else
  echo "digits, breast cancer: skipped (no python3-sklearn package to take them from)"
fi
run "fashion-mnist, cnn" 300 --dataset fashion-mnist --model cnn
