#!/usr/bin/env bash
# The service's benchmarks (README, "Service"): a service and two workers on 127.0.0.1, then
#   - submission → first iteration: POST /api/jobs to the first `iteration` server-sent event (service_latency.py), six
#     jobs on a 200000×100 instance (the first loads the shards, the rest find them in the workers' caches) and six on
#     a 2000×10 one;
#   - the baseline in the same run: a job that joins the cluster itself (`solve --seeds`), whole process, against
#     `solve --server`, whole process.
# Usage: bench/service-benchmark.sh   (DS: the dist-softmax command; SERVICE_BENCH_DIR: where instances and state go)
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
DS="${DS:-dotnet $HERE/../src/DistSoftmax.Cli/bin/Release/net10.0/dist-softmax.dll}"
D="${SERVICE_BENCH_DIR:-/tmp/service-bench}"
mkdir -p "$D" && cd "$D" && rm -rf state
[ -f inst/A.npy ] || $DS generate --problem normalized --n 200000 --d 100 --seed 7 --out-dir inst > /dev/null
[ -f small/A.npy ] || $DS generate --problem normalized --n 2000 --d 10 --out-dir small > /dev/null
$DS serve --http-port 18080 --port 14053 --state-dir state --min-workers 2 --log serve.log > serve.out 2>&1 & S=$!
sleep 2
$DS worker --port 14054 --seeds 127.0.0.1:14053 --log w1.log > w1.out 2>&1 & W1=$!
$DS worker --port 14055 --seeds 127.0.0.1:14053 --log w2.log > w2.out 2>&1 & W2=$!
for i in $(seq 60); do
  n=$(curl -s http://127.0.0.1:18080/api/cluster | /usr/bin/python3 -c "import json,sys; print(sum('worker' in m['roles'] and m['status']=='up' for m in json.load(sys.stdin)['members']))" 2>/dev/null)
  [ "$n" = "2" ] && break; sleep 1
done
echo "200000×100:"; /usr/bin/python3 "$HERE/service_latency.py" "$D/inst/A.npy" "$D/inst/b.npy" 6
echo "2000×10:"; /usr/bin/python3 "$HERE/service_latency.py" "$D/small/A.npy" "$D/small/b.npy" 6
curl -s http://127.0.0.1:18080/metrics | grep -E "^distsoftmax_shard_cache_(hits|misses)_total"
for k in 1 2 3; do /usr/bin/time -f "joining job (solve --seeds, whole process): %e s" $DS solve --seeds 127.0.0.1:14053 --A small/A.npy --b small/b.npy --out-dir join$k > /dev/null 2> join$k.err; tail -1 join$k.err; done
for k in 1 2 3; do /usr/bin/time -f "service job (solve --server, whole process): %e s" $DS solve --server http://127.0.0.1:18080 --A small/A.npy --b small/b.npy --out-dir srv$k > /dev/null 2> srv$k.err; tail -1 srv$k.err; done
kill $S $W1 $W2; wait 2> /dev/null
