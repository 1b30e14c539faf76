#!/usr/bin/env python3
# Submission → first iteration through the service API: POST /api/jobs, then the job's server-sent events until the first
# `iteration` event. Usage: service_latency.py A.npy b.npy JOBS (a service on http://127.0.0.1:18080; bench/service-benchmark.sh).
import json, time, urllib.request, sys
base = "http://127.0.0.1:18080"
A, b = sys.argv[1], sys.argv[2]
for k in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    req = urllib.request.Request(base + "/api/jobs", data=json.dumps({"A": A, "b": b, "solver": "newton"}).encode(), headers={"Content-Type": "application/json"})
    jid = json.load(urllib.request.urlopen(req))["id"]
    t1 = time.perf_counter()
    with urllib.request.urlopen(base + f"/api/jobs/{jid}/events") as ev:
        for line in ev:
            if line.startswith(b"event: iteration"):
                t2 = time.perf_counter(); break
    job = json.load(urllib.request.urlopen(base + f"/api/jobs/{jid}"))
    while job["state"] in ("queued", "running"):
        time.sleep(0.05); job = json.load(urllib.request.urlopen(base + f"/api/jobs/{jid}"))
    print(f"job {k+1}: POST answered {1e3*(t1-t0):.1f} ms, first iteration event {1e3*(t2-t0):.1f} ms after submission, {job['state']}")
