#!/usr/bin/env python3
"""Writes benchmarks/RESULTS.md from a run of benchmarks/run.sh (python3 standard library only).

  report.py results --csv RAW.csv --meta META.txt --out RESULTS.md
  report.py profile --inclusive INCL.txt --self SELF.txt --results RESULTS.md --requests N ...

The "## Where time goes" section (written by `run.sh --profile`) is kept when the throughput
part is regenerated, and vice versa.
"""
import argparse
import csv
import os
import re
import statistics
import sys

PROFILE_HEADER = "## Where time goes"


def read_meta(path):
    meta, desc, skipped = {}, {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" not in line:
                continue
            k, v = line.split("=", 1)
            if k.startswith("desc."):
                desc[k[5:]] = v
            elif k == "skipped":
                skipped.append(v)
            else:
                meta[k] = v
    return meta, desc, skipped


def split_profile(text):
    """(everything before the profile section, the profile section or '')."""
    i = text.find("\n" + PROFILE_HEADER)
    if i < 0:
        return text, ""
    return text[: i + 1], text[i + 1:]


def fmt_int(x):
    return "{:,.0f}".format(x).replace(",", " ")


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return "{:.2f}".format(a / b)


def fmt_us(us):
    if us is None:
        return "–"
    return "{:.2f} ms".format(us / 1000.0) if us >= 10000 else "{:.0f} µs".format(us)


def load_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summarise(rows):
    """{conns: {contender: stats}} with medians over the rows whose status is ok."""
    out = {}
    order_conns, order_names = [], []
    for r in rows:
        c = int(r["conns"])
        if c not in order_conns:
            order_conns.append(c)
        if r["contender"] not in order_names:
            order_names.append(r["contender"])
        out.setdefault(c, {}).setdefault(r["contender"], []).append(r)
    stats = {}
    for c, by_name in out.items():
        for name, rs in by_name.items():
            ok = [r for r in rs if r["status"] == "ok"]
            s = {"runs": len(rs), "ok": len(ok)}
            if ok:
                def col(k):
                    return [float(r[k]) for r in ok]
                rps, rpc = col("rps"), col("rps_per_cpu_s")
                dur = col("duration_s")
                s.update(
                    rps=statistics.median(rps), rps_min=min(rps), rps_max=max(rps),
                    rpc=statistics.median(rpc), rpc_min=min(rpc), rpc_max=max(rpc),
                    p50=statistics.median(col("p50_us")), p99=statistics.median(col("p99_us")),
                    p999=statistics.median(col("p999_us")),
                    cores=statistics.median([cpu / d for cpu, d in zip(col("cpu_s"), dur)]),
                    up_cores=statistics.median([u / d for u, d in zip(col("upstream_cpu_s"), dur)]),
                )
            stats.setdefault(c, {})[name] = s
    return order_conns, order_names, stats


def svg_plot(path, conns, names, stats):
    """Grouped bars: median RPS per CPU-second of each contender, one group per connection count."""
    colors = {"D": "#9e9e9e", "N": "#2e7d32"}
    qcolors = ["#1565c0", "#6a1b9a", "#c62828", "#ef6c00"]
    qi = 0
    for n in names:
        if n not in colors:
            colors[n] = qcolors[qi % len(qcolors)]
            qi += 1
    vmax = max([stats[c][n].get("rpc", 0) for c in conns for n in names if n in stats[c]] + [1])
    W, H, left, bottom, top = 640, 320, 70, 40, 30
    group_w = (W - left - 20) / max(1, len(conns))
    bar_w = group_w * 0.8 / max(1, len(names))
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (W, H),
           '<text x="%d" y="18" font-size="14">Median requests per CPU-second of the system under '
           'test</text>' % left]
    ph = H - bottom - top
    for i in range(5):
        v = vmax * i / 4
        y = H - bottom - ph * i / 4
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (left, W - 20, y, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 5, y + 4, fmt_int(v)))
    for gi, c in enumerate(conns):
        x0 = left + gi * group_w + group_w * 0.1
        for ni, n in enumerate(names):
            v = stats[c].get(n, {}).get("rpc", 0)
            h = ph * v / vmax
            x = x0 + ni * bar_w
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s c=%d: '
                       '%s</title></rect>' % (x, H - bottom - h, bar_w - 2, h, colors[n], n, c, fmt_int(v)))
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>' % (
                x + bar_w / 2 - 1, H - bottom - h - 3, n))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">c = %d</text>' % (
            left + gi * group_w + group_w / 2, H - bottom + 18, c))
    out.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def results(args):
    meta, desc, skipped = read_meta(args.meta)
    rows = load_rows(args.csv)
    conns, names, stats = summarise(rows)
    qs = [n for n in names if n.startswith("Q_")]

    L = []
    L.append("# Qaqpa end-to-end benchmark results")
    L.append("")
    L.append("Generated by `benchmarks/run.sh` (method: shared/docs/BENCHMARKING.md; how to read this: "
             "benchmarks/README.md). Ratios are medians of side-by-side runs on one machine in one "
             "run; absolute numbers on this shared 2-core box drift ±20–40 % between runs.")
    L.append("")
    L.append("## Run")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    dirty = " (working tree dirty: other engineers' uncommitted changes were built in)" \
        if meta.get("dirty") == "yes" else ""
    L.append("| machine | {} — {} CPUs, {} |".format(meta.get("model", "?"), meta.get("cpus", "?"),
                                                   meta.get("kernel", "?")))
    L.append("| commit | `{}`{} |".format(meta.get("commit", "?"), dirty))
    L.append("| qaqpa binary built (copied at start) | {} |".format(meta.get("qaqpa_bin", "?")))
    L.append("| date (UTC, end of run) | {} |".format(meta.get("date", "?")))
    L.append("| tools | nginx {}, {} |".format(meta.get("nginx", "?"), meta.get("wrk_version", "?")))
    L.append("| load average at start / end | {} / {} |".format(
        " ".join(meta.get("load_at_start", "?").split()[:3]),
        " ".join(meta.get("load_at_end", "?").split()[:3])))
    L.append("| pinning | system under test on CPU {}; wrk -t1 and the upstream nginx on CPU {} |".format(
        meta.get("sut_cpu", "?"), meta.get("gen_cpu", "?")))
    L.append("")
    L.append("Command:")
    L.append("")
    L.append("```")
    L.append(meta.get("cmdline", "benchmarks/run.sh"))
    L.append("# each measurement (after a warm-up run of the same command with the warm-up duration):")
    L.append(meta.get("wrk", ""))
    if meta.get("wrk_personal"):
        L.append("# levels L1 and up (a fresh Qaqpa-Message-Id UUIDv4 per request from request.lua):")
        L.append(meta["wrk_personal"])
    if meta.get("wrk_tls"):
        L.append("# " + meta["wrk_tls"])
    L.append("```")
    L.append("")
    L.append("Contenders:")
    L.append("")
    for n in names:
        L.append("- **{}** — {}".format(n, desc.get(n, "")))
    for s in skipped:
        L.append("- skipped: {}".format(s))
    L.append("")

    # Headline.
    L.append("## Headline")
    L.append("")
    if not qs:
        L.append("No Qaqpa level was measured in this run (see 'skipped' above).")
    else:
        L.append("| ratio | " + " | ".join("c={}".format(c) for c in conns) + " |")
        L.append("|---|" + "---|" * len(conns))
        def ratio_rows(a_name, b_name, label=None):
            per_core, raw = [], []
            for c in conns:
                a, b = stats[c].get(a_name, {}), stats[c].get(b_name, {})
                per_core.append(fmt_ratio(a.get("rpc"), b.get("rpc")))
                raw.append(fmt_ratio(a.get("rps"), b.get("rps")))
            L.append("| **{} / {} per core** (RPS per CPU-second){} | ".format(
                a_name, b_name, label or "") + " | ".join(per_core) + " |")
            L.append("| {} / {} raw RPS | ".format(a_name, b_name) + " | ".join(raw) + " |")

        # The ladder: what each level costs against L0, and what TLS costs each proxy.
        if "Q_L0" in names:
            for q in qs:
                if q != "Q_L0" and not q.endswith("+TLS"):
                    ratio_rows(q, "Q_L0", " — feature cost")
        for n in names:
            if n.endswith("+TLS") and n[:-4] in names:
                ratio_rows(n, n[:-4], " — TLS cost")
        for q in qs:
            refs = ("N+TLS", "N", "D") if q.endswith("+TLS") else ("N", "D")
            for ref in refs:
                if ref not in names:
                    continue
                ratio_rows(q, ref)
    L.append("")

    for c in conns:
        L.append("## c = {}".format(c))
        L.append("")
        L.append("| contender | runs ok | median RPS (min–max) | median RPS/CPU-s (min–max) | "
                 "CPU used | p50 | p99 | p99.9 | RPS ÷ N | per-core ÷ N | RPS ÷ D | per-core ÷ D |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        n_s, d_s = stats[c].get("N", {}), stats[c].get("D", {})
        for name in names:
            s = stats[c].get(name)
            if s is None:
                continue
            if not s["ok"]:
                L.append("| {} | 0/{} | FAILED | | | | | | | | | |".format(name, s["runs"]))
                continue
            L.append("| {} | {}/{} | {} ({}–{}) | {} ({}–{}) | {:.2f} core | {} | {} | {} | {} | {} | {} | {} |".format(
                name, s["ok"], s["runs"],
                fmt_int(s["rps"]), fmt_int(s["rps_min"]), fmt_int(s["rps_max"]),
                fmt_int(s["rpc"]), fmt_int(s["rpc_min"]), fmt_int(s["rpc_max"]),
                s["cores"], fmt_us(s["p50"]), fmt_us(s["p99"]), fmt_us(s["p999"]),
                fmt_ratio(s["rps"], n_s.get("rps")), fmt_ratio(s["rpc"], n_s.get("rpc")),
                fmt_ratio(s["rps"], d_s.get("rps")), fmt_ratio(s["rpc"], d_s.get("rpc"))))
        ups = ["{} {:.2f}".format(n, stats[c][n]["up_cores"]) for n in names
               if stats[c].get(n, {}).get("ok")]
        L.append("")
        L.append("Upstream nginx CPU (cores, median) while serving each contender: " + ", ".join(ups) +
                 ". CPU 0 also runs wrk, so an upstream near 0.5 core and a contender well below "
                 "1 core mean the load generator side is the limit, not the system under test.")
        L.append("")

    if args.svg:
        svg_plot(args.svg, conns, names, stats)
        L.append("Plot of the RPS/CPU-s medians: `{}` (gitignored, redrawn by every run).".format(
            os.path.relpath(args.svg, os.path.dirname(os.path.abspath(args.out)))))
        L.append("")

    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        L.append("## Failed runs (excluded from the medians)")
        L.append("")
        for r in failed:
            L.append("- c={} rep {} {}: status {}, non-2xx {}, socket errors {}".format(
                r["conns"], r["rep"], r["contender"], r["status"], r["non2xx"], r["socket_errors"]))
        L.append("")
    L.append("Raw rows: `benchmarks/out/<date>/raw.csv` (gitignored; `benchmarks/out/latest.csv` is "
             "the last run).")
    L.append("")

    old_profile = ""
    if os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as f:
            _, old_profile = split_profile(f.read())
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(L))
        if old_profile:
            f.write("\n" + old_profile)
    return 0


LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$")


def top_functions(path, n):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("-- Auto-annotated") or line.startswith("-- User-annotated"):
                break
            m = LINE.match(line)
            if not m:
                continue
            name = m.group(3)
            if "PROGRAM TOTALS" in name:
                continue
            name = re.sub(r"\s+\[[^\]]*\]$", "", name)  # drop "[object file]"
            name = re.sub(r"^[^:]*:", "", name, count=1) if re.match(r"^[^: ]+:[^:]", name) else name
            if len(name) > 140:
                name = name[:137] + "..."
            out.append((float(m.group(2)), m.group(1), name.replace("|", "\\|")))
            if len(out) >= n:
                break
    return out


def all_functions(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("-- Auto-annotated") or line.startswith("-- User-annotated"):
                break
            m = LINE.match(line)
            if m and "PROGRAM TOTALS" not in m.group(3):
                name = re.sub(r"\s+\[[^\]]*\]$", "", m.group(3))
                name = re.sub(r"^[^: ]+:(?=[^:])", "", name, count=1)
                out.append((float(m.group(2)), name))
    return out


CATEGORIES = [
    ("malloc/free (glibc allocator, operator new/delete)",
     re.compile(r"^(_int_malloc|_int_free|malloc|free|cfree|malloc_consolidate|unlink_chunk|tcache|"
                r"operator new|operator delete|__libc_malloc|__libc_free|_int_realloc|realloc)")),
    ("memcpy/memmove/memset/strlen/memchr", re.compile(r"^__(mem|str|wmem)|^(memcpy|memmove|memset|strlen)")),
    ("Qaqpa code (qaqpa::, incl. its inlined callees)", re.compile(r"^(void |bool |auto )?qaqpa::")),
    ("Beast serializer / buffer sequences (write path)",
     re.compile(r"buffers_cat_view|buffers_suffix|buffers_prefix|buffers_ref|serializer|mp_with_index")),
    ("Beast parser (read path)", re.compile(r"basic_parser|parse_field|parser<|http::detail::.*read")),
    ("Beast header container (basic_fields)", re.compile(r"basic_fields")),
    ("Asio scheduler, reactor, executors, coroutines", re.compile(r"boost::asio::|awaitable")),
    ("std:: (strings, containers, chrono)", re.compile(r"^(void |bool )?std::")),
    ("pthread / syscall wrappers", re.compile(r"pthread|^__libc_|^epoll|^__GI|^send|^recv|^clock_gettime|^__vdso")),
]


def categorise(funcs):
    sums = {name: 0.0 for name, _ in CATEGORIES}
    other = 0.0
    for pct, fn in funcs:
        for cat, rx in CATEGORIES:
            if rx.search(fn):
                sums[cat] += pct
                break
        else:
            other += pct
    rows = sorted(sums.items(), key=lambda kv: -kv[1])
    covered = sum(p for p, _ in funcs)
    rows.append(("other named functions", other))
    rows.append(("below callgrind_annotate's threshold", max(0.0, 100.0 - covered)))
    return rows


def total_ir(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "PROGRAM TOTALS" in line:
                return line.split()[0]
    return "?"


PERF_LINE = re.compile(r"^\s+([\d.]+)%\s+(.*\S)\s*$")


def perf_lines(path, n):
    out = []
    if not path or not os.path.exists(path):
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = PERF_LINE.match(line)
            if m:
                out.append((float(m.group(1)), m.group(2)))
                if len(out) >= n:
                    break
    return out


def profile(args):
    incl = top_functions(args.inclusive, args.top)
    self_ = top_functions(args.self, args.top)
    total = total_ir(args.self)
    L = [PROFILE_HEADER, ""]
    L.append("`benchmarks/run.sh --profile` (commit `{}`): Q_L0 under `valgrind --tool=callgrind`, "
             "{} GET requests over {} keep-alive connections from a small python client (wrk cannot "
             "stop at a request count), then SIGTERM. Counts are instructions (Ir), not time: "
             "syscalls' kernel work is invisible here; the split between user space and kernel "
             "is in the perf tables. Total: {} Ir, ≈ {} Ir per request including start-up "
             "and config loading.".format(args.commit, args.requests, args.conns, total,
                                          fmt_int(int(total.replace(",", "")) / args.requests)
                                          if total != "?" else "?"))
    L.append("")
    if args.perf_dso and os.path.exists(args.perf_dso):
        rps = ""
        if args.perf_wrk and os.path.exists(args.perf_wrk):
            import json
            w = json.load(open(args.perf_wrk))
            rps = " (wrk meanwhile: {} RPS, c=64)".format(fmt_int(w["requests"] / (w["duration_us"] / 1e6)))
        L.append("### CPU time by binary (perf, cpu-clock samples)")
        L.append("")
        L.append("`perf record -e cpu-clock -F 1999 -p <qaqpa>` for {} s while `wrk -t1 -c64` drove "
                 "Q_L0 at full speed{}. Gateway RSS afterwards: {} MiB. Shares of the gateway "
                 "process's sampled CPU time:".format(args.perf_seconds, rps,
                                                      "{:.0f}".format(args.perf_rss_kib / 1024)))
        L.append("")
        L.append("| % time | binary |")
        L.append("|---|---|")
        for pct, rest in perf_lines(args.perf_dso, 12):
            L.append("| {:.2f} | `{}` |".format(pct, rest))
        L.append("")
        L.append("### Top functions by CPU time (perf, self)")
        L.append("")
        L.append("| % time | binary | function |")
        L.append("|---|---|---|")
        for pct, rest in perf_lines(args.perf_sym, args.top):
            parts = rest.split(None, 1)
            dso, sym = (parts + [""])[:2]
            sym = re.sub(r"^\[[.k]\]\s+", "", sym)
            if len(sym) > 120:
                sym = sym[:117] + "..."
            L.append("| {:.2f} | `{}` | `{}` |".format(pct, dso, sym.replace("|", "\\|")))
        L.append("")
    L.append("### Instructions by kind of work (callgrind, self cost summed per category)")
    L.append("")
    L.append("| % Ir | category |")
    L.append("|---|---|")
    for cat, pct in categorise(all_functions(args.self)):
        L.append("| {:.1f} | {} |".format(pct, cat))
    L.append("")
    L.append("### Top self cost (exclusive, callgrind instructions)")
    L.append("")
    L.append("| % Ir | function |")
    L.append("|---|---|")
    for pct, _, name in self_:
        L.append("| {:.2f} | `{}` |".format(pct, name))
    L.append("")
    L.append("### Top inclusive cost of Qaqpa's own functions (callgrind instructions)")
    L.append("")
    L.append("Asio/Beast frames are left out here: their inclusive cost is the whole request loop. "
             "The full list is in `benchmarks/out/callgrind-inclusive.txt`.")
    L.append("")
    L.append("| % Ir | function |")
    L.append("|---|---|")
    seen = set()
    shown = 0
    for pct, name in all_functions(args.inclusive):
        if not re.match(r"^(void |bool |auto )?qaqpa::", name):
            continue
        short = re.sub(r"\s*\[clone [^\]]*\]", "", name)
        short = short if len(short) <= 140 else short[:137] + "..."
        if short in seen:
            continue
        seen.add(short)
        L.append("| {:.2f} | `{}` |".format(pct, short.replace("|", "\\|")))
        shown += 1
        if shown >= args.top:
            break
    L.append("")
    if args.notes and os.path.exists(args.notes):
        with open(args.notes, encoding="utf-8") as f:
            L.append(f.read().rstrip() + "\n")
    section = "\n".join(L)
    head = "# Qaqpa end-to-end benchmark results\n\n(no throughput run yet: `benchmarks/run.sh`)\n\n"
    if os.path.exists(args.results):
        with open(args.results, encoding="utf-8") as f:
            head, _ = split_profile(f.read())
    with open(args.results, "w", encoding="utf-8") as f:
        f.write(head.rstrip("\n") + "\n\n" + section)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("results")
    r.add_argument("--csv", required=True)
    r.add_argument("--meta", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--svg", default="")
    q = sub.add_parser("profile")
    q.add_argument("--inclusive", required=True)
    q.add_argument("--self", required=True)
    q.add_argument("--results", required=True)
    q.add_argument("--requests", type=int, required=True)
    q.add_argument("--conns", type=int, default=16)
    q.add_argument("--commit", default="?")
    q.add_argument("--top", type=int, default=20)
    q.add_argument("--notes", default="")
    q.add_argument("--perf-dso", default="")
    q.add_argument("--perf-sym", default="")
    q.add_argument("--perf-wrk", default="")
    q.add_argument("--perf-seconds", default="10")
    q.add_argument("--perf-rss-kib", type=int, default=0)
    a = p.parse_args()
    return results(a) if a.cmd == "results" else profile(a)


if __name__ == "__main__":
    sys.exit(main())
