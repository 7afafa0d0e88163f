#!/usr/bin/env python3
"""End-to-end benchmark of the citizen's digital-space API (docs/space.md) against the real gateway.

Driven by benchmarks/space/run.sh (which documents the options). Steps:
  1. a deployment of tests/integration/harness.py: the demo providers, a copy of policies/demo/,
     the gateway (workers: 1, journal fsync: always as in the demo file) pinned to CPU 1;
  2. RSS at start (empty journal);
  3. seeding with wrk (-t1, CPU 0): N calls of the tax service reading person.byIin about the
     citizen A = IIN:900101300017 through the state zone, then M calls about each of the two
     other demo citizens; RSS after seeding;
  4. a token from POST /v1/space/demo-login; every id of A's history (pages of 200);
  5. measured runs, scenarios alternating within each repetition, a warm-up of the same command
     before each: wrk -t1 -c<C> -d<D>s --latency pinned to CPU 0, the gateway's utime+stime
     (/proc/<pid>/stat, all threads) read just before and after;
  6. restarts of the gateway on the seeded journal: the "digital-space index rebuilt" log line's
     ms, and RSS after the rebuild.
Results: <out>/results.json, <out>/summary.md (printed at the end), wrk outputs next to them.
Everything this starts is stopped on exit, on failure and on SIGINT/SIGTERM.
Standard library only.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "space.lua")

TAX = "KZ/GOV/240140000021/tax-service"
CITIZENS = ("900101300017", "850506400003", "920315450126")
SERVICE = "person.byIin"
PURPOSE = "TAX_ADMINISTRATION"

CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(msg):
    sys.stderr.write(f"[space-bench] {msg}\n")
    sys.stderr.flush()


# ------------------------------------------------------------------------------ /proc readings


def cpu_ticks(pid):
    """utime + stime of the whole thread group (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def thread_ticks(pid):
    """{"<comm>/<tid>": [utime, stime]} (ticks) of every thread of the process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        rest = text.rsplit(")", 1)[1].split()
        out[f"{comm}/{tid}"] = [int(rest[11]), int(rest[12])]
    return out


def rss_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def load_avg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def median(xs):
    return statistics.median(xs) if xs else None


# ------------------------------------------------------------------------------ the benchmark


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="qaqpa-space-bench-")
        self.out = args.out
        os.makedirs(self.out, exist_ok=True)
        self.dep = None
        self.pin = os.cpu_count() >= 2 and not args.no_pin
        self.sut_cpu, self.gen_cpu = ("1", "0") if self.pin else (None, None)
        self.results = {"runs": [], "rebuilds": [], "rss": {}, "seed": {}, "checks": {}}

    # -- processes ------------------------------------------------------------------------

    def _wrapper(self, name, binary, cpu):
        """A copy of the binary (a relink by a concurrent build cannot swap it under us) behind a
        wrapper that pins it to a CPU from its first instruction (exec keeps the pid)."""
        copy = os.path.join(self.work, name)
        shutil.copy2(binary, copy)
        if cpu is None:
            return copy
        wrapper = os.path.join(self.work, name + ".pinned")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec taskset -c {cpu} "{copy}" "$@"\n')
        os.chmod(wrapper, 0o755)
        return wrapper

    def setup_env(self):
        os.environ["QAQPA_BIN"] = self._wrapper("qaqpa", self.args.qaqpa_bin, self.sut_cpu)
        os.environ["QAQPA_DEMO_PROVIDER_BIN"] = self._wrapper(
            "qaqpa-demo-provider", self.args.provider_bin, self.gen_cpu)
        os.environ["QAQPA_SOURCE_DIR"] = ROOT
        sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
        global harness
        import harness  # noqa: F401  (tests/integration/harness.py)

    def start(self):
        overrides = {"workers": self.args.workers, "demo_trust_client_header": True}
        self.dep = harness.Deployment("space-bench", overrides, keep=self.args.keep_tmp)
        self.dep.start()
        self.results["config"] = self.dep.config_path
        self.results["cpu_s_at_ready_empty"] = cpu_ticks(self.gateway_pid()) / CLK_TCK
        say(f"gateway pid {self.gateway_pid()} ports {self.dep.ports} "
            f"(deployment {self.dep.tmp})")

    def gateway_pid(self):
        return self.dep.gateway.pid

    def restart_gateway(self):
        self.dep.gateway.stop()
        # The harness waits for the ports file: the old one would name the old ports.
        ports_file = os.path.join(self.dep.tmp, "gateway-ports.json")
        if os.path.exists(ports_file):
            os.remove(ports_file)
        t0 = time.monotonic()
        self.dep.start_gateway()  # waits for the ports file and /readyz with the index served
        ready_s = time.monotonic() - t0
        with open(self.dep.gateway.log_path, encoding="utf-8", errors="replace") as f:
            lines = [l for l in f if "digital-space index rebuilt" in l]
        if not lines:
            raise RuntimeError("no 'digital-space index rebuilt' line in the gateway log")
        line = lines[-1]

        def field(name):
            m = re.search(rf'"?{name}"?\s*[=:]\s*"?(\d+)', line)
            return int(m.group(1)) if m else None

        pid = self.gateway_pid()
        # The process's whole CPU so far: start-up + the rebuild (nothing else has run yet).
        return {"ms": field("ms"), "events_indexed": field("events_indexed"),
                "through_seq": field("through_seq"), "segments": field("segments"),
                "start_to_ready_s": round(ready_s, 3), "cpu_s_at_ready": cpu_ticks(pid) / CLK_TCK,
                # Per thread: the main thread opened the journal (recovery of the open segment);
                # one of the two read-pool threads ran the index rebuild.
                "thread_cpu_s_at_ready": {k: [u / CLK_TCK, s / CLK_TCK]
                                          for k, (u, s) in thread_ticks(pid).items()},
                "VmHWM_at_ready": rss_kib(pid)["VmHWM"], "line": line.strip()}

    def trim_check(self):
        """Diagnostic (--trim-check): how much of the RSS is free heap glibc kept. Calls
        malloc_trim(0) inside the gateway through gdb (ptrace) and reads RSS again."""
        pid = self.gateway_pid()
        before = rss_kib(pid)["VmRSS"]
        p = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "call (int) malloc_trim(0)"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        after = rss_kib(pid)["VmRSS"]
        return {"VmRSS_before_trim": before, "VmRSS_after_trim": after, "gdb_rc": p.returncode}

    def stop(self):
        if self.dep is not None:
            self.dep.stop()
            self.dep = None
        if self.args.keep_tmp:
            say(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- HTTP -----------------------------------------------------------------------------

    def space_port(self):
        return self.dep.port("space")

    def login(self, iin=CITIZENS[0]):
        r = harness.request(self.space_port(), "POST", "/v1/space/demo-login",
                            {"Content-Type": "application/json"},
                            json.dumps({"iin": iin}).encode())
        if r.status != 200:
            raise RuntimeError(f"demo-login: {r!r}")
        return r.json()["token"]

    def get(self, target, token):
        return harness.request(self.space_port(), "GET", target,
                               {"Authorization": f"Bearer {token}"})

    def readyz(self):
        return harness.request(self.dep.port("admin"), "GET", "/readyz").json()

    # -- wrk ------------------------------------------------------------------------------

    def wrk(self, url, conns, duration, env, tag, timeout_s="10s"):
        out_json = os.path.join(self.out, f"{tag}.json")
        argv = []
        if self.gen_cpu is not None:
            argv += ["taskset", "-c", self.gen_cpu]
        argv += ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "--timeout",
                 timeout_s, "-s", LUA, url]
        full_env = dict(os.environ, SPACE_WRK_OUT=out_json, **env)
        if os.path.exists(out_json):
            os.remove(out_json)
        p = subprocess.run(argv, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=duration + 60)
        with open(os.path.join(self.out, f"{tag}.txt"), "wb") as f:
            f.write(p.stdout)
        if p.returncode != 0 or not os.path.exists(out_json):
            raise RuntimeError(f"wrk failed ({p.returncode}): {p.stdout.decode()[-2000:]}")
        with open(out_json) as f:
            return json.load(f), " ".join(argv)

    # -- steps ----------------------------------------------------------------------------

    def journal_seq(self):
        return self.readyz()["checks"].get("journalSeq", 0)

    def seed_one(self, subject, count, tag):
        """wrk -t1 until `count` more events are journaled. The Lua script stops issuing requests
        after `count` responses, but wrk's main thread sleeps for the whole -d: it is ended with
        SIGINT (wrk then prints its summary) once the journal head has moved by `count`."""
        url = f"http://127.0.0.1:{self.dep.port('state')}/"
        env = {"SEED_COUNT": str(count), "SEED_SERVICE": SERVICE, "SEED_CLIENT": TAX,
               "SEED_SUBJECT": subject, "SEED_PURPOSE": PURPOSE}
        out_json = os.path.join(self.out, f"{tag}.json")
        argv = (["taskset", "-c", self.gen_cpu] if self.gen_cpu is not None else []) + [
            "wrk", "-t1", f"-c{self.args.seed_conns}", "-d3600s", "--timeout", "10s",
            "-s", LUA, url]
        seq0 = self.journal_seq()
        t0 = time.monotonic()
        with open(os.path.join(self.out, f"{tag}.txt"), "wb") as log:
            p = subprocess.Popen(argv, env=dict(os.environ, SPACE_WRK_OUT=out_json, **env),
                                 stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = t0 + max(120.0, count / 50.0)  # bounded even at 50 calls/s
                while p.poll() is None and self.journal_seq() - seq0 < count:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"seeding {subject}: not done in time")
                    time.sleep(0.2)
                time.sleep(0.5)  # the last in-flight responses
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
                p.wait(timeout=30)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        with open(out_json) as f:
            res = json.load(f)
        res["wall_s"] = round(time.monotonic() - t0, 2)
        bad = res["status"] + res["connect"] + res["read"] + res["write"] + res["timeout"]
        if bad:
            raise RuntimeError(f"seeding {subject}: {bad} refused/failed calls: {res}")
        return res, " ".join(argv)

    def seed(self):
        pid = self.gateway_pid()
        seq0 = self.journal_seq()
        t0, c0 = time.monotonic(), cpu_ticks(pid)
        res, cmd = self.seed_one(f"IIN:{CITIZENS[0]}", self.args.events, "seed-A")
        others = []
        if self.args.others:
            for i, iin in enumerate(CITIZENS[1:]):
                others.append(self.seed_one(f"IIN:{iin}", self.args.others, f"seed-other{i}")[0])
        wall, cpu = time.monotonic() - t0, (cpu_ticks(pid) - c0) / CLK_TCK
        seq1 = self.journal_seq()
        total = seq1 - seq0
        self.results["seed"] = {
            "command_A": cmd, "journal_events": total, "wall_s": round(wall, 2),
            "calls_per_s": round(total / wall, 1), "gateway_cpu_s": round(cpu, 2),
            "calls_per_cpu_s": round(total / cpu, 1) if cpu else None,
            "A_wrk": res, "others_wrk": others,
        }
        say(f"seeded {total} events in {wall:.1f} s ({total / wall:.0f}/s, "
            f"{total / cpu if cpu else 0:.0f} per gateway CPU-s)")

    def collect_ids(self, token):
        ids, cursor = [], None
        while True:
            q = "limit=200" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            r = self.get(f"/v1/space/events?{q}", token)
            if r.status != 200:
                raise RuntimeError(f"events page: {r!r}")
            page = r.json()
            ids += [e["eventId"] for e in page["events"]]
            cursor = page.get("nextCursor")
            if not cursor:
                return ids

    def check_scenarios(self, token, ids):
        """Each route answers what it should before it is measured."""
        c = {}
        for limit in (50, 200):
            r = self.get(f"/v1/space/events?limit={limit}", token)
            assert r.status == 200, r
            c[f"page{limit}_events"] = len(r.json()["events"])
            c[f"page{limit}_bytes"] = len(r.body)
        r = self.get(f"/v1/space/events/{ids[len(ids) // 2]}", token)
        assert r.status == 200, r
        body = r.json()
        c["proof_bytes"] = len(r.body)
        c["proof_has_checkpoint"] = "checkpoint" in body.get("proof", {})
        r = self.get("/v1/space/events.csv", token)
        assert r.status == 200, r
        c["csv_bytes"] = len(r.body)
        c["csv_rows"] = r.body.count(b"\r\n") - 1  # minus the header row
        c["csv_export_complete"] = r.header("Qaqpa-Export-Complete")
        self.results["checks"] = c
        say(f"checks: {c}")

    def measure(self, ids):
        a = self.args
        ids_file = os.path.join(self.work, "ids.txt")
        with open(ids_file, "w") as f:
            f.write("\n".join(ids) + "\n")
        base = f"http://127.0.0.1:{self.space_port()}"
        scenarios = [
            ("page50", "/v1/space/events?limit=50", {}, a.conns),
            ("page200", "/v1/space/events?limit=200", {}, a.conns),
            ("proof", "/v1/space/events/{id}", {"SPACE_IDS_FILE": ids_file}, a.conns),
            ("csv", "/v1/space/events.csv", {}, a.csv_conns),
        ]
        if a.csv_c1:
            scenarios.append(("csv-c1", "/v1/space/events.csv", {}, 1))
        wanted = set(a.scenarios.split(",")) if a.scenarios else None
        scenarios = [s for s in scenarios if wanted is None or s[0] in wanted]
        pid = self.gateway_pid()
        for rep in range(1, a.reps + 1):
            for name, path, extra, conns in scenarios:
                token = self.login()  # tokens live 15 min; a fresh one per run
                env = dict(extra, SPACE_TOKEN=token, SPACE_PATH=path)
                url = base + (path if "{id}" not in path else "/")
                if a.warmup > 0:
                    self.wrk(url, conns, a.warmup, env, f"warmup-{name}-{rep}",
                             timeout_s=a.wrk_timeout)
                t0, c0 = time.monotonic(), cpu_ticks(pid)
                res, cmd = self.wrk(url, conns, a.duration, env, f"run-{name}-{rep}",
                                    timeout_s=a.wrk_timeout)
                wall, cpu = time.monotonic() - t0, (cpu_ticks(pid) - c0) / CLK_TCK
                errors = sum(res[k] for k in ("connect", "read", "write", "timeout", "status"))
                secs = res["duration_us"] / 1e6
                row = {
                    "scenario": name, "rep": rep, "conns": conns, "path": path,
                    "command": cmd, "ok": errors == 0 and res["requests"] > 0,
                    "errors": errors, "requests": res["requests"],
                    "rps": res["requests"] / secs, "bytes": res["bytes"], "bytes_per_s": res["bytes"] / secs,
                    "gateway_cpu_s": cpu, "cpu_cores": cpu / wall,
                    "rps_per_cpu_s": res["requests"] / cpu if cpu else None,
                    "cpu_us_per_req": 1e6 * cpu / res["requests"] if res["requests"] else None,
                    "p50_us": res["p50_us"], "p90_us": res["p90_us"], "p99_us": res["p99_us"],
                    "p999_us": res["p999_us"], "max_us": res["max_us"],
                    "load": load_avg(),
                }
                self.results["runs"].append(row)
                flag = "" if row["ok"] else f"  FAILED ({errors} errors)"
                say(f"rep {rep} {name:8s} c={conns:<3d} {row['rps']:9.1f} req/s  "
                    f"{row['rps_per_cpu_s'] or 0:9.1f} req/CPU-s  "
                    f"{row['cpu_us_per_req'] or 0:8.1f} us CPU/req  p50 {res['p50_us']} us  "
                    f"p99 {res['p99_us']} us  {row['bytes_per_s'] / 1e6:.1f} MB/s  "
                    f"load {row['load']}{flag}")

    # -- report ---------------------------------------------------------------------------

    def summary(self):
        r = self.results
        lines = []
        lines.append("| scenario | c | runs ok | req/s median (min–max) | MB/s | gateway CPU | "
                     "req per CPU-s median (min–max) | µs CPU/req | p50 | p90 | p99 | p99.9 |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        order = []
        for row in r["runs"]:
            if (row["scenario"], row["conns"]) not in order:
                order.append((row["scenario"], row["conns"]))
        for name, conns in order:
            rows = [x for x in r["runs"] if x["scenario"] == name and x["conns"] == conns]
            ok = [x for x in rows if x["ok"]]
            if not ok:
                lines.append(f"| {name} | {conns} | 0/{len(rows)} | FAILED |||||||||")
                continue

            def m(k):
                return median([x[k] for x in ok])

            def rng(k):
                v = [x[k] for x in ok]
                return f"{min(v):,.0f}–{max(v):,.0f}"

            lines.append(
                f"| {name} | {conns} | {len(ok)}/{len(rows)} | {m('rps'):,.0f} ({rng('rps')}) | "
                f"{m('bytes_per_s') / 1e6:.1f} | {m('cpu_cores'):.2f} core | "
                f"{m('rps_per_cpu_s'):,.0f} ({rng('rps_per_cpu_s')}) | {m('cpu_us_per_req'):,.0f} | "
                f"{m('p50_us') / 1000:.2f} ms | {m('p90_us') / 1000:.2f} ms | "
                f"{m('p99_us') / 1000:.2f} ms | {m('p999_us') / 1000:.2f} ms |")
        rss = r["rss"]
        seed = r["seed"]
        rb = r["rebuilds"]
        lines.append("")
        if seed:
            lines.append(f"Seeding: {seed['journal_events']} events in {seed['wall_s']} s "
                         f"({seed['calls_per_s']}/s; {seed['calls_per_cpu_s']} calls per gateway "
                         f"CPU-s, fsync always).")
        if rb:
            ms = [x["ms"] for x in rb]
            lines.append(f"Index rebuild at start: {', '.join(map(str, ms))} ms "
                         f"(median {median(ms)} ms) for {rb[0]['events_indexed']} events "
                         f"→ {rb[0]['events_indexed'] / (median(ms) / 1000):,.0f} events/s "
                         f"(page cache warm); start → ready "
                         f"{median([x['start_to_ready_s'] for x in rb])} s.")
        if rb:
            cpu = median([x["cpu_s_at_ready"] for x in rb])
            lines.append(f"Gateway CPU from exec to ready: {cpu:.2f} s with the seeded journal "
                         f"(median), {r.get('cpu_s_at_ready_empty', 0):.2f} s with an empty one.")
            lines.append("Per-thread CPU at ready (user+sys s; thread ids in start order): " +
                         "; ".join(", ".join(f"{k} {u:.2f}+{s:.2f}" for k, (u, s) in sorted(
                             x["thread_cpu_s_at_ready"].items()) if u + s > 0) for x in rb))
        if rss:
            lines.append("RSS (KiB): " + ", ".join(f"{k} {v}" for k, v in rss.items()))
            if seed and "after_seed_VmRSS" in rss:
                grow = (rss["after_seed_VmRSS"] - rss["start_empty_VmRSS"]) * 1024
                lines.append(f"RSS growth while seeding: {grow / seed['journal_events']:.0f} bytes "
                             f"per journaled event (index + everything else that grew).")
        if "trim_check" in r:
            lines.append(f"malloc_trim(0) via gdb after the last rebuild: {r['trim_check']}")
        return "\n".join(lines)

    def write(self):
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1)
        text = self.summary()
        with open(os.path.join(self.out, "summary.md"), "w") as f:
            f.write(text + "\n")
        print(text)

    # -- main -----------------------------------------------------------------------------

    def run(self):
        a = self.args
        r = self.results
        r["started"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        r["load_start"] = load_avg()
        r["params"] = vars(a)
        self.setup_env()
        self.start()
        pid = self.gateway_pid()
        time.sleep(1)
        r["rss"]["start_empty_VmRSS"] = rss_kib(pid)["VmRSS"]
        self.seed()
        time.sleep(1)
        r["rss"]["after_seed_VmRSS"] = rss_kib(pid)["VmRSS"]
        token = self.login()
        ids = self.collect_ids(token)
        r["events_of_A"] = len(ids)
        say(f"A has {len(ids)} events")
        r["rss"]["after_listing_VmRSS"] = rss_kib(pid)["VmRSS"]
        self.check_scenarios(token, ids)
        if not a.skip_measure:
            self.measure(ids)
        r["rss"]["after_runs_VmRSS"] = rss_kib(pid)["VmRSS"]
        journal = os.path.join(self.dep.tmp, "data", "journal")
        if os.path.isdir(journal):
            r["journal_bytes"] = sum(os.path.getsize(os.path.join(journal, n))
                                     for n in os.listdir(journal))
        for i in range(a.rebuilds):
            rb = self.restart_gateway()
            time.sleep(1)
            rb["VmRSS_after_rebuild"] = rss_kib(self.gateway_pid())["VmRSS"]
            r["rebuilds"].append(rb)
            say(f"restart {i + 1}: index rebuilt in {rb['ms']} ms "
                f"({rb['events_indexed']} events), RSS {rb['VmRSS_after_rebuild']} KiB")
        if r["rebuilds"]:
            r["rss"]["after_rebuild_VmRSS_median"] = median(
                [x["VmRSS_after_rebuild"] for x in r["rebuilds"]])
            r["rss"]["after_rebuild_VmHWM_median"] = median(
                [x["VmHWM_at_ready"] for x in r["rebuilds"]])
            if a.trim_check:
                r["trim_check"] = self.trim_check()
                say(f"malloc_trim(0) after the rebuild: {r['trim_check']}")
        r["load_end"] = load_avg()
        self.write()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--qaqpa-bin", required=True)
    p.add_argument("--provider-bin", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--others", type=int, default=1000)
    p.add_argument("--seed-conns", type=int, default=16)
    p.add_argument("--conns", type=int, default=16)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--rebuilds", type=int, default=3)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--scenarios", default="")
    p.add_argument("--csv-conns", type=int, default=4)
    p.add_argument("--csv-c1", type=int, default=1)
    p.add_argument("--wrk-timeout", default="30s")
    p.add_argument("--trim-check", action="store_true")
    p.add_argument("--skip-measure", action="store_true")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--keep-tmp", action="store_true")
    args = p.parse_args()

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bench = Bench(args)
    try:
        bench.run()
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
