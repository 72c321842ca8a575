#!/usr/bin/env bash
# Runs `discipline tune` at short budgets and prints how long each took against its budget:
# the measurement behind "tune ends within its budget plus 10%" (run it on an idle machine;
# the test suite checks the recipe's accounting on a virtual clock instead of timing it).
#
#   scripts/budget-check.sh                       # spirals 30s and 90s, Fashion-MNIST 3m
#   scripts/budget-check.sh table1.csv table2.csv # and a 2-minute tune on each table
#
# A table is a CSV file with a header row, numeric features and a `label` column.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin=.build/release/discipline
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%-60s %8s %8s %7s  %s\n' "run" "budget" "wall" "ratio" "result"
run() {
  local name=$1 budget=$2; shift 2
  local out="$work/$(echo "$name" | tr -c 'a-zA-Z0-9' '_')"
  local start end
  start=$(date +%s.%N)
  if "$bin" tune "$@" --budget "${budget}s" --out "$out" --json >"$out.json" 2>"$out.log"; then
    end=$(date +%s.%N)
    local accuracy
    accuracy=$(sed -n 's/.*"test_accuracy":\([0-9.]*\).*/\1/p' "$out.json")
    printf '%-60s %7ss %7.1fs %7.3f  test accuracy %s\n' "$name" "$budget" "$(echo "$end - $start" | bc)" \
      "$(echo "($end - $start) / $budget" | bc -l)" "$accuracy"
  else
    printf '%-60s %7ss %8s %7s  failed: %s\n' "$name" "$budget" "-" "-" "$(tail -1 "$out.log")"
  fi
}

run "spirals, mlp" 30 --dataset spirals --model mlp
run "spirals, mlp" 90 --dataset spirals --model mlp
run "fashion-mnist, cnn" 180 --dataset fashion-mnist --model cnn
for table in "$@"; do
  run "$(basename "$table"), mlp" 120 --dataset "csv:$table" --model mlp
done
