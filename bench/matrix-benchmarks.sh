#!/usr/bin/env bash
# Multiple softmax regression at attention-head sizes, every figure from one run: for each n × d, generate
# (multiple-normalized, seed 7), then whole-process `dist-softmax solve --workers 2 --tol 1e-8` with approx-newton
# (Newton-CG preconditioned by the Kronecker-factored curvature) and newton-cg (unpreconditioned), and SciPy's
# L-BFGS-B on the same files (bench/scipy/multiple_lbfgsb_baseline.py) where n·n·d is small enough to finish.
# Prints a Markdown table row per run (iterations, CG iterations = Hessian-vector products, solve seconds, whole
# seconds, peak RSS against the input bytes).
# Usage: bench/matrix-benchmarks.sh [SIZES…]   (default "2048x64 2048x128 4096x64 4096x128 8192x64 8192x128")
# SCIPY_MAX_NND (default 2^32): skip SciPy above this n·n·d; DISTSOFTMAX_CLI: the build timed (below).  Needs /usr/bin/python3 with NumPy/SciPy.
set -uo pipefail
cd "$(dirname "$0")/.."
# DISTSOFTMAX_CLI: the build to time (a dist-softmax.dll, run through dotnet, or an executable such as the installed
# tool); default the checkout's Release build.
if [ -n "${DISTSOFTMAX_CLI:-}" ]; then
  case "$DISTSOFTMAX_CLI" in *.dll) cli=(dotnet "$DISTSOFTMAX_CLI");; *) cli=("$DISTSOFTMAX_CLI");; esac
else
  cli=(dotnet src/DistSoftmax.Cli/bin/Release/net10.0/dist-softmax.dll)
  [ -f src/DistSoftmax.Cli/bin/Release/net10.0/dist-softmax.dll ] || dotnet build src/DistSoftmax.Cli -c Release >/dev/null
fi
sizes=${*:-"2048x64 2048x128 4096x64 4096x128 8192x64 8192x128"}
scipy_max=${SCIPY_MAX_NND:-4294967296}
# One untimed warm-up of each side, so the first timed process does not also pay for reading the tool's files, the
# Python libraries and the first instance from disk (a cold first 2048×64 solve took 0.75 s of solve and 4.1 s whole
# against 0.44 and 1.0 s warm, thirty-second session).
first=${sizes%% *}; wn=${first%x*}; wd=${first#*x}; wdir=/tmp/distsoftmax-matrix-$wn-$wd
[ -f "$wdir/B.npy" ] || "${cli[@]}" generate --problem multiple-normalized --n "$wn" --d "$wd" --seed 7 --out-dir "$wdir" >/dev/null
"${cli[@]}" solve --problem multiple-normalized --A1 "$wdir/A1.npy" --A2 "$wdir/A2.npy" --B "$wdir/B.npy" --workers 2 \
  --tol 1e-8 --no-analysis --out-dir "$wdir/out-warm-up" >/dev/null 2>&1
/usr/bin/python3 -c "import numpy, scipy.optimize; numpy.load('$wdir/B.npy')" >/dev/null 2>&1
echo "| n | d | method | exit | iterations | CG iterations | solve s | whole s | peak RSS | RSS / input |"
echo "| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for size in $sizes; do
  n=${size%x*}; d=${size#*x}
  dir=/tmp/distsoftmax-matrix-$n-$d
  [ -f "$dir/B.npy" ] || "${cli[@]}" generate --problem multiple-normalized --n "$n" --d "$d" --seed 7 --out-dir "$dir" >/dev/null
  input=$(( $(stat -c %s "$dir/A1.npy") + $(stat -c %s "$dir/A2.npy") + $(stat -c %s "$dir/B.npy") ))
  for solver in approx-newton newton-cg; do
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$dir/rss-$solver" "${cli[@]}" solve --problem multiple-normalized --A1 "$dir/A1.npy" --A2 "$dir/A2.npy" \
      --B "$dir/B.npy" --workers 2 --tol 1e-8 --solver "$solver" --out-dir "$dir/out-$solver" > "$dir/log-$solver" 2>&1
    whole=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }')
    /usr/bin/python3 - "$dir/out-$solver/report.json" "$n" "$d" "$solver" "$whole" "$(cat "$dir/rss-$solver")" "$input" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); n, d, solver, whole, rss_kb, inp = sys.argv[2:8]
cg = sum(t.get("cgIterations", 0) for t in r["trace"])
rss = int(rss_kb) * 1024
print(f"| {n} | {d} | {solver} | {r['exit']} | {r['iterations']} | {cg} | {r['wallTime']['solveSeconds']:.1f} | {float(whole):.1f} | {rss / 2**20:.0f} MiB | {rss / int(inp):.2f} |")
PY
  done
  if [ $(( n * n * d )) -le "$scipy_max" ]; then
    start=$(date +%s.%N)
    json=$(/usr/bin/python3 bench/scipy/multiple_lbfgsb_baseline.py "$dir/A1.npy" "$dir/A2.npy" "$dir/B.npy" --tol 1e-8 --maxiter 3000)
    whole=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }')
    /usr/bin/python3 -c "
import json, sys
s = json.loads(sys.argv[1])
exit = 'converged' if s['converged'] else s['message'] + f' (rel. gradient {s[\"relativeGradient\"]:.1e})'
print(f\"| $n | $d | SciPy L-BFGS-B | {exit} | {s['iterations']} | — | {s['solveSeconds']:.1f} | {float(sys.argv[2]):.1f} | — | — |\")" "$json" "$whole"
  fi
done
