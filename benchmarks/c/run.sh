#!/usr/bin/env bash
# Prints the C core's ns per evaluation, the many-value rows, and, when valgrind is installed,
# callgrind's instruction count per evaluation (the difference between 11,000 and 1,000
# evaluations, divided by 10,000, so set-up and process start cancel out).
set -euo pipefail

bench=${1:?usage: run.sh path/to/eval_bench}

echo "== C core: ns per evaluation (best of 7 rounds of 2,000,000) =="
"$bench" time
echo
echo "== C core: S1 ns per evaluation per thread, all threads on one store =="
"$bench" threads
echo
echo "== C core: one rule of 10,000 values against a long attribute (microseconds, median of 9) =="
"$bench" large

if ! command -v valgrind >/dev/null; then
  echo "valgrind not installed: skipping instruction counts"
  exit 0
fi

collected() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench" count "$1" "$2" "$3" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

echo
echo "== C core: instructions per evaluation (callgrind) =="
printf '%-10s %12s %12s %10s %12s\n' scenario single concurrent lock "by handle"
for scenario in 1 2 3 4; do
  row=()
  for method in 0 1 2; do
    low=$(collected "$scenario" "$method" 1000)
    high=$(collected "$scenario" "$method" 11000)
    row+=("$(awk -v a="$low" -v b="$high" 'BEGIN { printf "%.1f", (b - a) / 10000 }')")
  done
  lock=$(awk -v a="${row[0]}" -v b="${row[1]}" 'BEGIN { printf "%.1f", b - a }')
  printf 'S%-9s %12s %12s %10s %12s\n' "$scenario" "${row[0]}" "${row[1]}" "$lock" "${row[2]}"
done
