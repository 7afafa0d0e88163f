#!/usr/bin/env python3
"""Where the digital-space routes spend their instructions: callgrind on the real gateway.

  python3 benchmarks/space/callgrind_profile.py --qaqpa-bin build/release/gateway/exe/qaqpa \
      [--provider-bin ...] [--events 12000] [--out benchmarks/out/space-profile]

Seeds a deployment like space_bench.py (a normal gateway: the journal, fsync always), then
restarts the gateway on that journal under `valgrind --tool=callgrind` and dumps one profile per
phase (callgrind_control --dump): `startup` (journal open + the index rebuild), `listing` (all
ids, pages of 200), `page50` (--pages sequential GET /v1/space/events?limit=50), `page200`,
`proof` (--proofs GET /v1/space/events/{id}), `csv` (--csvs GET /v1/space/events.csv). For each
phase <out>/<phase>.txt lists the top self costs and the inclusive cost of Qaqpa's functions (read
from the dump directly, see parse()). Instruction counts (user space only), not time: no hardware
counters are needed, and SHA-256 is overstated (valgrind hides the CPU's SHA/AVX2 paths from
OpenSSL). Needs valgrind. Everything started is stopped on exit.
"""

import argparse
import collections
import glob
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import space_bench  # noqa: E402


def get(port, target, token, timeout=600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", target, headers={"Authorization": f"Bearer {token}"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{target}: {r.status} {body[:300]!r}")
        return body
    finally:
        c.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--qaqpa-bin", required=True)
    p.add_argument("--provider-bin", default="")
    p.add_argument("--out", default="")
    p.add_argument("--events", type=int, default=12000)
    p.add_argument("--pages", type=int, default=20)
    p.add_argument("--proofs", type=int, default=50)
    p.add_argument("--csvs", type=int, default=2)
    a = p.parse_args()
    root = space_bench.ROOT
    if not a.provider_bin:
        a.provider_bin = os.path.join(os.path.dirname(a.qaqpa_bin), "..", "..", "tools",
                                      "demo_provider", "qaqpa-demo-provider")
    if not a.out:
        a.out = os.path.join(root, "benchmarks", "out", "space-profile")
    os.makedirs(a.out, exist_ok=True)
    for old in glob.glob(os.path.join(a.out, "callgrind.out*")):
        os.remove(old)
    # The same knobs space_bench.Bench reads; no measured runs, no restarts there.
    args = argparse.Namespace(
        qaqpa_bin=a.qaqpa_bin, provider_bin=a.provider_bin, out=a.out, events=a.events,
        others=0, seed_conns=16, workers=1, keep_tmp=False, no_pin=False)

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bench = space_bench.Bench(args)
    try:
        bench.setup_env()
        h = space_bench.harness
        h.READY_TIMEOUT_S = 600.0  # start-up and the rebuild run ~50x slower under callgrind
        bench.start()
        bench.seed()
        # Restart under callgrind, pinned like the measured gateway.
        real = os.path.join(bench.work, "qaqpa")
        wrapper = os.path.join(bench.work, "qaqpa.callgrind")
        pin = f"taskset -c {bench.sut_cpu} " if bench.sut_cpu else ""
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    f"exec {pin}valgrind --tool=callgrind --compress-strings=no --compress-pos=no "
                    f"--callgrind-out-file="
                    f"{a.out}/callgrind.out.%p \"{real}\" \"$@\"\n")
        os.chmod(wrapper, 0o755)
        os.environ["QAQPA_BIN"] = wrapper
        bench.dep.gateway.stop()
        os.remove(os.path.join(bench.dep.tmp, "gateway-ports.json"))
        bench.dep.start_gateway()
        pid = str(bench.gateway_pid())

        def dump(name):
            subprocess.run(["callgrind_control", f"--dump={name}", pid], check=True,
                           stdout=subprocess.DEVNULL)
            time.sleep(1)

        dump("startup")
        port = bench.space_port()
        token = bench.login()
        ids = bench.collect_ids(token)  # pages of 200 through the whole history
        dump("listing")
        for _ in range(a.pages):
            get(port, "/v1/space/events?limit=50", token)
        dump("page50")
        for _ in range(a.pages):
            get(port, "/v1/space/events?limit=200", token)
        dump("page200")
        step = max(1, len(ids) // a.proofs)
        for i in range(a.proofs):
            get(port, f"/v1/space/events/{ids[(i * step) % len(ids)]}", token)
        dump("proof")
        for _ in range(a.csvs):
            body = get(port, "/v1/space/events.csv", token)
        dump("csv")
        meta = {"events_of_A": len(ids), "pages": a.pages, "proofs": a.proofs, "csvs": a.csvs,
                "csv_bytes": len(body)}
        with open(os.path.join(a.out, "profile.json"), "w") as f:
            json.dump(meta, f)
    finally:
        bench.stop()
    for path in sorted(glob.glob(os.path.join(a.out, "callgrind.out.*"))):
        with open(path, errors="replace") as f:
            head = f.read(4000)
        phase = next((l.split("dump ", 1)[1].strip() for l in head.splitlines()
                      if l.startswith("desc: Trigger: dump ")), None)
        if phase is None:
            continue
        with open(os.path.join(a.out, f"{phase}.txt"), "w") as f:
            f.write(report(path))
    print(a.out)


def parse(path):
    """Self and inclusive instruction counts per function of one callgrind dump.
    (callgrind_annotate 3.19 put every later dump's cost on `clone` here, so the file is read
    directly: a cost line after `calls=` is the callee's inclusive cost, charged to the caller's
    inclusive only; any other cost line is the current function's self cost.)"""
    self_cost, incl, total = collections.Counter(), collections.Counter(), 0
    names, fn, after_calls = {}, None, False

    def name(v):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", v)
        if not m:
            return v
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), v)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("fn="):
                fn = name(line[3:])
            elif line.startswith("cfn="):
                name(line[4:])
            elif line.startswith("calls="):
                after_calls = True
            elif fn and line[:1] and (line[0].isdigit() or line[0] in "+-*"):
                parts = line.split()
                if len(parts) < 2:
                    continue
                c = int(parts[1])
                incl[fn] += c
                if after_calls:
                    after_calls = False
                else:
                    self_cost[fn] += c
                    total += c
    return self_cost, incl, total


INTERESTING = re.compile(r"qaqpa::|EVP_Digest(Sign|Verify)$|ECDSA_(do_)?(sign|verify)|"
                         r"ParseFromArray|boost::json::object::object\(boost::json::object const&")


def report(path, top=40):
    self_cost, incl, total = parse(path)
    out = [f"{path}: {total:,} instructions", "", "self (top):"]
    for fn, c in self_cost.most_common(top):
        out.append(f"{c:>15,} {100 * c / total:5.1f}%  {fn[:200]}")
    out += ["", "inclusive (Qaqpa functions, signatures, protobuf parse, JSON object copies; a "
            "recursive or coroutine function may be listed more than once):"]
    for fn, c in incl.most_common():
        if INTERESTING.search(fn) and c * 1000 >= total:
            out.append(f"{c:>15,} {100 * c / total:5.1f}%  {fn[:200]}")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
