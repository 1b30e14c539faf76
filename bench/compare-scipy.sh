#!/usr/bin/env bash
# Whole-process comparison on the README's benchmark instance, every figure from one run:
#   the streaming read of A (cat of the cached file; the floor of any pass over it),
#   `dist-softmax solve` as a whole process (file load, input checks, actors, outputs) with its peak resident memory,
#     for each build measured (below),
#   SciPy's L-BFGS-B on the same files with a NumPy gradient (bench/scipy/lbfgsb_baseline.py), whole process,
# and how far the answers are apart.
# Usage: [DISTSOFTMAX_CLI=…] bench/compare-scipy.sh [N] [D] [extra solve options…]   (default 200000 100; instance in /tmp/distsoftmax-bench-N-D)
# Builds measured: by default two, one after the other —
#   "checkout": the Release build of this checkout (`dotnet dist-softmax.dll`, JIT-compiled as `dotnet run` runs it);
#   "installed": the build that `dotnet tool install` installs (README, "Installing": self-contained, one composite
#     ReadyToRun image), made here with `dotnet publish -r linux-x64` into /tmp/distsoftmax-bench-tool (again on every
#     run, so it is the checkout's code; the publish is incremental, the first one takes ≈ 2.5 min).
# DISTSOFTMAX_CLI instead measures that one build: a dist-softmax.dll, or a published dist-softmax executable.
# Needs Debian's python3-numpy and python3-scipy (/usr/bin/python3) on an optimised BLAS (libopenblas0-pthread; checked by
# bench/scipy/check_blas.py) and the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
# The baseline must run on an optimised BLAS, as a researcher's NumPy does (one-line error otherwise).
/usr/bin/python3 bench/scipy/check_blas.py >/dev/null
n=${1:-200000}; d=${2:-100}; shift $(( $# > 2 ? 2 : $# )) || true
dir=/tmp/distsoftmax-bench-$n-$d
tool=/tmp/distsoftmax-bench-tool

builds=()   # "name|command…"
if [ -n "${DISTSOFTMAX_CLI:-}" ]; then
  case "$DISTSOFTMAX_CLI" in *.dll) builds+=("given|dotnet $DISTSOFTMAX_CLI");; *) builds+=("given|$DISTSOFTMAX_CLI");; esac
else
  [ -f src/DistSoftmax.Cli/bin/Release/net10.0/dist-softmax.dll ] || dotnet build src/DistSoftmax.Cli -c Release >/dev/null
  dotnet publish src/DistSoftmax.Cli -c Release -r linux-x64 -o "$tool" >/dev/null
  builds+=("checkout|dotnet src/DistSoftmax.Cli/bin/Release/net10.0/dist-softmax.dll" "installed|$tool/dist-softmax")
fi
first=${builds[0]#*|}
[ -f "$dir/A.npy" ] || $first generate --problem normalized --n "$n" --d "$d" --seed 2026 --out-dir "$dir" >/dev/null
cat "$dir/A.npy" > /dev/null   # warm the page cache for every reader alike,
# and its mappings: the first mapping of a freshly written file costs ≈ 0.3 s per GB here (README, "Approximate Newton at large d")
/usr/bin/python3 -c 'import sys, numpy as np; np.load(sys.argv[1], mmap_mode="r").sum()' "$dir/A.npy"

now() { date +%s.%N; }
t=$(now); cat "$dir/A.npy" > /dev/null; read_s=$(awk -v a="$(now)" -v b="$t" "BEGIN { print a - b }")

ours=()   # "name seconds rss_kb out_dir" per build
for b in "${builds[@]}"; do
  name=${b%%|*}; cmd=${b#*|}; out="$dir/out-$name"
  t=$(now)
  /usr/bin/time -f "%M" -o "$dir/rss-$name.txt" $cmd solve --A "$dir/A.npy" --b "$dir/b.npy" --out-dir "$out" "$@" > "$dir/solve-$name.log" 2>&1 || true
  ours+=("$name $(awk -v a="$(now)" -v b="$t" "BEGIN { print a - b }") $(cat "$dir/rss-$name.txt") $out")
done

t=$(now)
scipy_json=$(/usr/bin/python3 bench/scipy/lbfgsb_baseline.py "$dir/A.npy" "$dir/b.npy" --out "$dir/x_scipy.npy")
scipy_s=$(awk -v a="$(now)" -v b="$t" "BEGIN { print a - b }")

/usr/bin/python3 - "$dir" "$read_s" "$scipy_s" "$scipy_json" "${ours[@]}" <<'PY'
import json, os, sys
import numpy as np
d, read_s, scipy_s, scipy_json, ours = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5:]
s = json.loads(scipy_json)
xs = np.load(os.path.join(d, "x_scipy.npy"))
a_bytes = os.path.getsize(os.path.join(d, "A.npy"))
print(f"instance: {d} (A {a_bytes / 1e6:.0f} MB)")
print(f"streaming read of A:                     {read_s:8.3f} s")
rows = []
for entry in ours:
    name, ours_s, rss_kb, out = entry.split(" ", 3)
    ours_s, rss_kb = float(ours_s), float(rss_kb)
    r = json.load(open(os.path.join(out, "report.json")))
    x = np.load(os.path.join(out, "x.npy"))
    print(f"dist-softmax solve (whole), {name + ':':10} {ours_s:8.3f} s  {r['solver']}, {r['exit']}, {r['iterations']} iterations, "
          f"relative gradient {r['finalGradientNorm'] / r['initialGradientNorm']:.1e}, solve {r['wallTime']['solveSeconds']:.2f} s; "
          f"peak RSS {rss_kb / 1024:.0f} MB = {rss_kb * 1024 / a_bytes:.2f}x A; "
          f"||x - x_scipy|| / ||x|| = {np.linalg.norm(x - xs) / np.linalg.norm(x):.1e}, loss {r['finalLoss']:.10e}")
    rows.append((name, ours_s))
print(f"SciPy L-BFGS-B (whole):                  {scipy_s:8.3f} s  {'converged' if s['converged'] else s['message']}, {s['iterations']} iterations, "
      f"relative gradient {s['relativeGradient']:.1e}, solve {s['solveSeconds']:.2f} s, loss {s['loss']:.10e}")
for name, ours_s in rows:
    print(f"ratio dist-softmax / SciPy, {name + ':':10} {ours_s / scipy_s:8.3f}   (dist-softmax / streaming read: {ours_s / read_s:.1f}x)")
PY
