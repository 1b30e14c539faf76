#!/usr/bin/env bash
# Multiple softmax regression at attention-head sizes, every figure from one run: for each n × d, generate
# (multiple-normalized, seed 7), then whole-process `dist-softmax solve --workers 2 --tol 1e-8` with approx-newton
# (Newton-CG preconditioned by the Kronecker-factored curvature) and newton-cg (unpreconditioned), and SciPy's
# L-BFGS-B on the same files (bench/scipy/multiple_lbfgsb_baseline.py) where n·n·d is small enough to finish.
# Prints a Markdown table row per run (iterations, CG iterations = Hessian-vector products, solve seconds, whole
# seconds, peak RSS against the input bytes).
# Usage: bench/matrix-benchmarks.sh [SIZES…]   (default "2048x64 2048x128 4096x64 4096x128 8192x64 8192x128")
# SCIPY_MAX_NND (default 2^32): skip SciPy above this n·n·d (0: no SciPy); DISTSOFTMAX_CLI: the build timed (below).  Needs /usr/bin/python3
# with NumPy/SciPy on an optimised BLAS (libopenblas0-pthread; bench/scipy/check_blas.py checks it).
# REPEATS (default 3): processes per method and size, in rounds in which the methods take turns; the row gives the
# median run's figures and every run's solve seconds (this machine's speed drifts by ±10 % between runs of the same
# solve, so one run decides no ratio), and a last row SciPy's seconds over approx-newton's in each round. Before
# each process the inputs are read once, so no process times reading them from disk (the page cache had dropped
# n = 8192's B between processes, and a solve's first pages came from disk).
set -uo pipefail
cd "$(dirname "$0")/.."
# The SciPy baseline must run on an optimised BLAS, as a researcher's NumPy does: Debian's python3-numpy falls back to
# the reference BLAS without libopenblas0-pthread (one-line error and exit 1 then).
if [ "${SCIPY_MAX_NND:-1}" != 0 ]; then /usr/bin/python3 bench/scipy/check_blas.py >/dev/null || exit 1; fi
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
repeats=${REPEATS:-3}
# The run whose solve seconds are the median of the repeats (the lower middle for an even count), and every run's.
median_run() { sort -t' ' -k2 -g "$1" | awk -v m=$(( (repeats + 1) / 2 )) 'NR == m { print $1 }'; }
all_runs() { awk '{ printf "%s%s", sep, $2; sep = "/" }' "$1"; }
# One untimed warm-up of each side, so the first timed process does not also pay for reading the tool's files, the
# Python libraries and the first instance from disk (a cold first 2048×64 solve took 0.75 s of solve and 4.1 s whole
# against 0.44 and 1.0 s warm, thirty-second session).
first=${sizes%% *}; wn=${first%x*}; wd=${first#*x}; wdir=/tmp/distsoftmax-matrix-$wn-$wd
[ -f "$wdir/B.npy" ] || "${cli[@]}" generate --problem multiple-normalized --n "$wn" --d "$wd" --seed 7 --out-dir "$wdir" >/dev/null
"${cli[@]}" solve --problem multiple-normalized --A1 "$wdir/A1.npy" --A2 "$wdir/A2.npy" --B "$wdir/B.npy" --workers 2 \
  --tol 1e-8 --no-analysis --out-dir "$wdir/out-warm-up" >/dev/null 2>&1
/usr/bin/python3 -c "import numpy, scipy.optimize; numpy.load('$wdir/B.npy')" >/dev/null 2>&1
echo "| n | d | method | exit | iterations | CG iterations | solve s, median (each run) | whole s | peak RSS | RSS / input |"
echo "| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for size in $sizes; do
  n=${size%x*}; d=${size#*x}
  dir=/tmp/distsoftmax-matrix-$n-$d
  [ -f "$dir/B.npy" ] || "${cli[@]}" generate --problem multiple-normalized --n "$n" --d "$d" --seed 7 --out-dir "$dir" >/dev/null
  input=$(( $(stat -c %s "$dir/A1.npy") + $(stat -c %s "$dir/A2.npy") + $(stat -c %s "$dir/B.npy") ))
  scipy=$(( n * n * d <= scipy_max ))
  methods="approx-newton newton-cg"
  [ "$scipy" = 1 ] && methods="$methods scipy"
  for method in $methods; do : > "$dir/runs-$method"; done
  # The methods take turns within each round (ours, then SciPy), so that a slower spell of this machine falls on every
  # side of a ratio instead of on one method's block of runs.
  for run in $(seq 1 "$repeats"); do
    for method in $methods; do
      cat "$dir/A1.npy" "$dir/A2.npy" "$dir/B.npy" > /dev/null
      start=$(date +%s.%N)
      if [ "$method" = scipy ]; then
        /usr/bin/python3 bench/scipy/multiple_lbfgsb_baseline.py "$dir/A1.npy" "$dir/A2.npy" "$dir/B.npy" --tol 1e-8 --maxiter 3000 > "$dir/scipy-$run.json"
        awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }' > "$dir/whole-scipy-$run"
        /usr/bin/python3 -c "import json, sys; print(sys.argv[2], json.load(open(sys.argv[1]))['solveSeconds'])" "$dir/scipy-$run.json" "$run" >> "$dir/runs-scipy"
      else
        /usr/bin/time -f "%M" -o "$dir/rss-$method-$run" "${cli[@]}" solve --problem multiple-normalized --A1 "$dir/A1.npy" --A2 "$dir/A2.npy" \
          --B "$dir/B.npy" --workers 2 --tol 1e-8 --solver "$method" --out-dir "$dir/out-$method-$run" > "$dir/log-$method-$run" 2>&1
        awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }' > "$dir/whole-$method-$run"
        /usr/bin/python3 -c "import json, sys; print(sys.argv[2], json.load(open(sys.argv[1]))['wallTime']['solveSeconds'])" \
          "$dir/out-$method-$run/report.json" "$run" >> "$dir/runs-$method"
      fi
    done
  done
  for solver in approx-newton newton-cg; do
    m=$(median_run "$dir/runs-$solver")
    /usr/bin/python3 - "$dir/out-$solver-$m/report.json" "$n" "$d" "$solver" "$(cat "$dir/whole-$solver-$m")" "$(cat "$dir/rss-$solver-$m")" "$input" "$(all_runs "$dir/runs-$solver")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); n, d, solver, whole, rss_kb, inp, runs = sys.argv[2:9]
cg = sum(t.get("cgIterations", 0) for t in r["trace"])
rss = int(rss_kb) * 1024
runs = "/".join(f"{float(t):.2f}" for t in runs.split("/"))
print(f"| {n} | {d} | {solver} | {r['exit']} | {r['iterations']} | {cg} | {r['wallTime']['solveSeconds']:.2f} ({runs}) | {float(whole):.1f} | {rss / 2**20:.0f} MiB | {rss / int(inp):.2f} |")
PY
  done
  if [ "$scipy" = 1 ]; then
    m=$(median_run "$dir/runs-scipy")
    /usr/bin/python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
exit = 'converged' if s['converged'] else s['message'] + f' (rel. gradient {s[\"relativeGradient\"]:.1e})'
runs = '/'.join(f'{float(t):.2f}' for t in sys.argv[3].split('/'))
print(f\"| $n | $d | SciPy L-BFGS-B | {exit} | {s['iterations']} | — | {s['solveSeconds']:.2f} ({runs}) | {float(sys.argv[2]):.1f} | — | — |\")" \
      "$dir/scipy-$m.json" "$(cat "$dir/whole-scipy-$m")" "$(all_runs "$dir/runs-scipy")"
    # SciPy's seconds over approx-newton's, round by round (the runs that took turns), and their median.
    /usr/bin/python3 - "$dir/runs-approx-newton" "$dir/runs-scipy" <<'PY'
import sys
ours = [float(l.split()[1]) for l in open(sys.argv[1])]
scipy = [float(l.split()[1]) for l in open(sys.argv[2])]
ratios = [s / o for s, o in zip(scipy, ours)]
middle = sorted(ratios)[(len(ratios) - 1) // 2]
print(f"|   |   | SciPy ÷ approx-newton, round by round | | | | {middle:.1f}× ({'/'.join(f'{r:.1f}' for r in ratios)}) | | | |")
PY
  fi
done
