#!/usr/bin/env bash
# Whole-process comparison on the README's benchmark instance, every figure from one run:
#   the streaming read of A (cat of the cached file; the floor of any pass over it),
#   `dist-softmax solve` as a whole process (file load, input checks, actors, outputs) with its peak resident memory,
#   SciPy's L-BFGS-B on the same files with a NumPy gradient (bench/scipy/lbfgsb_baseline.py), whole process,
# and how far the two answers are apart.
# Usage: [DISTSOFTMAX_CLI=…] bench/compare-scipy.sh [N] [D] [extra solve options…]   (default 200000 100; instance in /tmp/distsoftmax-bench-N-D)
# Needs Debian's python3-numpy and python3-scipy (/usr/bin/python3) and a Release build of the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}; d=${2:-100}; shift $(( $# > 2 ? 2 : $# )) || true
dir=/tmp/distsoftmax-bench-$n-$d
# DISTSOFTMAX_CLI: another build of the command (a dist-softmax.dll, or a published dist-softmax executable such as
# the composite ReadyToRun publish of the README's "Installing"); default: the Release build of this checkout.
if [ -n "${DISTSOFTMAX_CLI:-}" ]; then
  case "$DISTSOFTMAX_CLI" in *.dll) cli=(dotnet "$DISTSOFTMAX_CLI");; *) cli=("$DISTSOFTMAX_CLI");; esac
else
  cli=(dotnet src/DistSoftmax.Cli/bin/Release/net10.0/dist-softmax.dll)
  [ -f src/DistSoftmax.Cli/bin/Release/net10.0/dist-softmax.dll ] || dotnet build src/DistSoftmax.Cli -c Release >/dev/null
fi
[ -f "$dir/A.npy" ] || "${cli[@]}" generate --problem normalized --n "$n" --d "$d" --seed 2026 --out-dir "$dir" >/dev/null
cat "$dir/A.npy" > /dev/null   # warm the page cache for every reader alike

now() { date +%s.%N; }
t=$(now); cat "$dir/A.npy" > /dev/null; read_s=$(awk -v a="$(now)" -v b="$t" "BEGIN { print a - b }")

t=$(now)
/usr/bin/time -f "%M" -o "$dir/rss.txt" "${cli[@]}" solve --A "$dir/A.npy" --b "$dir/b.npy" --out-dir "$dir/out" "$@" > "$dir/solve.log" 2>&1 || true
ours_s=$(awk -v a="$(now)" -v b="$t" "BEGIN { print a - b }")
rss_kb=$(cat "$dir/rss.txt")

t=$(now)
scipy_json=$(/usr/bin/python3 bench/scipy/lbfgsb_baseline.py "$dir/A.npy" "$dir/b.npy" --out "$dir/x_scipy.npy")
scipy_s=$(awk -v a="$(now)" -v b="$t" "BEGIN { print a - b }")

/usr/bin/python3 - "$dir" "$read_s" "$ours_s" "$rss_kb" "$scipy_s" "$scipy_json" <<'PY'
import json, os, sys
import numpy as np
d, read_s, ours_s, rss_kb, scipy_s, scipy_json = sys.argv[1], *map(float, sys.argv[2:6]), sys.argv[6]
r = json.load(open(os.path.join(d, "out", "report.json")))
s = json.loads(scipy_json)
x, xs = np.load(os.path.join(d, "out", "x.npy")), np.load(os.path.join(d, "x_scipy.npy"))
a_bytes = os.path.getsize(os.path.join(d, "A.npy"))
print(f"instance: {d} (A {a_bytes / 1e6:.0f} MB)")
print(f"streaming read of A:         {read_s:8.3f} s")
print(f"dist-softmax solve (whole):  {ours_s:8.3f} s  {r['solver']}, {r['exit']}, {r['iterations']} iterations, "
      f"relative gradient {r['finalGradientNorm'] / r['initialGradientNorm']:.1e}, solve {r['wallTime']['solveSeconds']:.2f} s; "
      f"peak RSS {rss_kb / 1024:.0f} MB = {rss_kb * 1024 / a_bytes:.2f}x A")
print(f"SciPy L-BFGS-B (whole):      {scipy_s:8.3f} s  {'converged' if s['converged'] else s['message']}, {s['iterations']} iterations, "
      f"relative gradient {s['relativeGradient']:.1e}, solve {s['solveSeconds']:.2f} s")
print(f"ratio dist-softmax / SciPy:  {ours_s / scipy_s:8.3f}   (dist-softmax / streaming read: {ours_s / read_s:.1f}x)")
print(f"loss: dist-softmax {r['finalLoss']:.10e}, SciPy {s['loss']:.10e};  ||x - x_scipy|| / ||x|| = {np.linalg.norm(x - xs) / np.linalg.norm(x):.1e}")
PY
