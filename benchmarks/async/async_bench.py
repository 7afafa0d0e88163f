"""Driver of benchmarks/async/run.sh (see README.md): one gateway (1 worker, pinned to CPU 0,
journal fsync: always, signed responses — the L3 path) + a redis-server (AOF, everysec) + the
demo population provider (both on CPU 1, with wrk), all started through the integration harness
(tests/integration/harness.py). Measures, on the same setup minutes apart:
  1. synchronous L3 throughput (wrk, fresh message ids);
  2. async submit throughput (the same requests with Prefer: respond-async; each is a new message,
     stored and queued before its 202, journaled as MESSAGE_ACCEPTED, delivered in the background
     by the same worker);
  3. the drain of what was queued (delivery rate) and qaqpa_async_delivery_latency_seconds
     (submit → DELIVERED under that load: mostly queueing);
  4. unloaded submit → DELIVERED latency seen by a client: sequential submissions, each polled
     every 2 ms until its result is there.
Writes summary.md and results.json into the output directory."""

import json
import os
import re
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402
from harness import CITIZENS, TAX  # noqa: E402

OUT = os.environ["BENCH_OUT"]
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
REPS = int(os.environ.get("BENCH_REPS", "2"))
CONNS = int(os.environ.get("BENCH_CONNS", "64"))
PROBES = int(os.environ.get("BENCH_PROBES", "200"))
HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(f"[async-bench] {msg}", file=sys.stderr, flush=True)


def pin(pid, cpu):
    subprocess.run(["taskset", "-a", "-pc", str(cpu), str(pid)], check=True,
                   stdout=subprocess.DEVNULL)


def metrics(dep):
    return harness.request(dep.port("admin"), "GET", "/metrics", timeout=10).body.decode()


def sample(text, name, labels=""):
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.split()[-1])
    return 0.0


def histogram_quantiles(text, name, qs):
    buckets = []
    for line in text.splitlines():
        m = re.match(rf'^{name}_bucket\{{le="([^"]+)"\}} (\S+)$', line)
        if m:
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            buckets.append((le, float(m.group(2))))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    out = {}
    for q in qs:
        want = q * total
        out[q] = next((le for le, c in buckets if c >= want), float("inf")) if total else None
    return out, total


def wrk(dep, mode, duration, tag):
    out = os.path.join(OUT, f"wrk-{tag}.json")
    env = dict(os.environ, BENCH_WRK_OUT=out, BENCH_ASYNC="1" if mode == "async" else "0")
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{CONNS}", f"-d{duration}s", "--latency",
           "-s", os.path.join(HERE, "async.lua"), f"http://127.0.0.1:{dep.port('state')}"]
    text = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    with open(os.path.join(OUT, f"wrk-{tag}.txt"), "w") as f:
        f.write(text)
    with open(out) as f:
        r = json.load(f)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def main():
    os.makedirs(OUT, exist_ok=True)
    dep = harness.Deployment("async-bench", {
        "workers": 1, "demo_trust_client_header": True, "log_level": "warn",
        "listeners": {"space": None, "international": None},
    }, providers={"population": 0}, redis=True)
    dep.start()
    results = {"conns": CONNS, "duration_s": DURATION, "reps": REPS}
    try:
        pin(dep.gateway.pid, 0)
        pin(dep.redis.pid, 1)
        pin(dep.providers["population"].pid, 1)
        log(f"gateway pid {dep.gateway.pid} on CPU 0; redis, provider, wrk on CPU 1; "
            f"load {open('/proc/loadavg').read().split()[:3]}")
        r = dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        assert r.status == 200, r
        r = dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                     headers={"Prefer": "respond-async"})
        assert r.status == 202, r
        wrk(dep, "sync", 2, "warmup-sync")
        runs = {"sync": [], "async": []}
        for rep in range(REPS):
            for mode in ("sync", "async"):
                if mode == "async":
                    # Start every async run with an empty queue (deliveries share the worker).
                    harness._wait_for(lambda: sample(metrics(dep), "qaqpa_async_queue_depth") == 0,
                                      600, "queue drained", None, dep.describe)
                r = wrk(dep, mode, DURATION, f"{mode}-{rep}")
                log(f"{mode} rep {rep}: {r['rps']:.0f} req/s, p50 {r['p50_us']} µs, "
                    f"p99 {r['p99_us']} µs, non-2xx {r['status']}, errors "
                    f"{r['connect'] + r['read'] + r['write'] + r['timeout']}")
                runs[mode].append(r)
        results["runs"] = runs
        # Drain after the last async run: how fast the queued messages were delivered.
        t0 = time.monotonic()
        m0 = metrics(dep)
        d0 = sample(m0, "qaqpa_async_delivered_total", '{outcome="delivered"}')
        depth0 = sample(m0, "qaqpa_async_queue_depth")
        harness._wait_for(lambda: sample(metrics(dep), "qaqpa_async_queue_depth") == 0, 900,
                          "queue drained", None, dep.describe)
        t1 = time.monotonic()
        m1 = metrics(dep)
        d1 = sample(m1, "qaqpa_async_delivered_total", '{outcome="delivered"}')
        results["drain"] = {"depth_at_end": depth0, "delivered": d1 - d0,
                            "seconds": t1 - t0,
                            "per_second": (d1 - d0) / (t1 - t0) if t1 > t0 else None}
        q, total = histogram_quantiles(m1, "qaqpa_async_delivery_latency_seconds",
                                       (0.5, 0.99))
        results["loaded_latency"] = {"count": total, "p50_le_s": q[0.5], "p99_le_s": q[0.99]}
        results["submitted"] = sample(m1, "qaqpa_async_submitted_total")
        results["not_delivered"] = sample(m1, "qaqpa_async_delivered_total",
                                          '{outcome="not_delivered"}')
        # Unloaded: one message at a time, polled every 2 ms.
        lat = []
        conn = dep.connection("state")
        for _ in range(PROBES):
            mid = str(uuid.uuid4())
            h = {"Qaqpa-Client": TAX, "Qaqpa-Subject": f"IIN:{CITIZENS[0]}",
                 "Qaqpa-Purpose": "TAX_ADMINISTRATION", "Prefer": "respond-async",
                 "Qaqpa-Message-Id": mid}
            t = time.monotonic()
            r = harness.request(dep.port("state"), "GET", "/v1/services/person.byIin", h,
                                conn=conn)
            assert r.status == 202, r
            while True:
                g = harness.request(dep.port("state"), "GET", f"/v1/messages/{mid}",
                                    {"Qaqpa-Client": TAX}, conn=conn)
                if g.status == 200:
                    break
                time.sleep(0.002)
            lat.append(time.monotonic() - t)
        lat.sort()
        results["unloaded_latency"] = {"n": len(lat), "p50_ms": lat[len(lat) // 2] * 1e3,
                                       "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1e3,
                                       "max_ms": lat[-1] * 1e3}
    finally:
        dep.stop()
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=2)

    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2]
    lines = [f"c = {CONNS}, {DURATION} s x {REPS} (alternating sync / async), 1 worker on CPU 0",
             "", "| mode | median req/s (min–max) | p50 | p99 | non-2xx |", "|---|---|---|---|---|"]
    for mode in ("sync", "async"):
        rs = results["runs"][mode]
        rps = [r["rps"] for r in rs]
        lines.append(f"| {mode} | {med(rps):.0f} ({min(rps):.0f}–{max(rps):.0f}) | "
                     f"{med([r['p50_us'] for r in rs])} µs | {med([r['p99_us'] for r in rs])} µs | "
                     f"{sum(r['status'] for r in rs)} |")
    d = results["drain"]
    ll = results["loaded_latency"]
    ul = results["unloaded_latency"]
    lines += ["", f"Drain after the last async run: {d['depth_at_end']:.0f} queued, "
              f"{d['delivered']:.0f} delivered in {d['seconds']:.1f} s "
              f"({(d['per_second'] or 0):.0f}/s); not delivered overall: "
              f"{results['not_delivered']:.0f} of {results['submitted']:.0f} submitted.",
              f"Submit → DELIVERED under load (histogram, bucket upper bounds, {ll['count']:.0f} "
              f"messages): p50 ≤ {ll['p50_le_s']} s, p99 ≤ {ll['p99_le_s']} s.",
              f"Submit → result visible to a polling client, unloaded ({ul['n']} sequential "
              f"messages, 2 ms polls): p50 {ul['p50_ms']:.1f} ms, p99 {ul['p99_ms']:.1f} ms, "
              f"max {ul['max_ms']:.1f} ms."]
    with open(os.path.join(OUT, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
