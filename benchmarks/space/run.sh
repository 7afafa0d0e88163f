#!/usr/bin/env bash
# End-to-end benchmark of the citizen's digital-space API (docs/space.md) against the real gateway
# binary with the demo bundle (journal fsync: always), see benchmarks/space/README.md.
#
#   benchmarks/space/run.sh [--quick] [--events N] [--others M] [--conns C] [--duration S]
#                           [--warmup S] [--reps R] [--rebuilds K] [--scenarios page50,page200,proof,csv,csv-c1]
#                           [--out DIR] [--keep-tmp] [--trim-check]
#   --trim-check: after the last restart, call malloc_trim(0) in the gateway through gdb and read
#   RSS again (how much of it is free heap glibc kept; needs gdb and ptrace).
#
# Environment (the options win): SPACE_EVENTS (N, default 20000: calls of the tax service about
#   IIN:900101300017), SPACE_OTHERS (M, default 1000 for each of the two other demo citizens),
#   BENCH_CONNS (16), BENCH_DURATION (10 s), BENCH_WARMUP (3 s), BENCH_REPS (3), SPACE_REBUILDS
#   (3 restarts), SPACE_SEED_CONNS (16), SPACE_CSV_CONNS (4: a 10 000-row export costs ~1 s of
#   CPU, 16 at once would pass wrk's timeout), SPACE_CSV_C1 (1: also the CSV with one connection),
#   QAQPA_BIN (default build/release/gateway/exe/qaqpa), QAQPA_DEMO_PROVIDER_BIN (default next to
#   it: build/release/tools/demo_provider/qaqpa-demo-provider), BENCH_KEEP_TMP=1 keeps temp dirs.
# Results: benchmarks/out/space-<UTC time>/ (summary.md, results.json, every wrk output).
# On a shared machine run it under nice: `nice benchmarks/space/run.sh`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/benchmarks/space"
QAQPA_BIN="${QAQPA_BIN:-$ROOT/build/release/gateway/exe/qaqpa}"
BUILD_DIR="$(cd "$(dirname "$QAQPA_BIN")/../.." 2>/dev/null && pwd || true)"
QAQPA_DEMO_PROVIDER_BIN="${QAQPA_DEMO_PROVIDER_BIN:-$BUILD_DIR/tools/demo_provider/qaqpa-demo-provider}"

EVENTS="${SPACE_EVENTS:-20000}"
OTHERS="${SPACE_OTHERS:-1000}"
CONNS="${BENCH_CONNS:-16}"
DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
REPS="${BENCH_REPS:-3}"
REBUILDS="${SPACE_REBUILDS:-3}"
SEED_CONNS="${SPACE_SEED_CONNS:-16}"
CSV_C1="${SPACE_CSV_C1:-1}"
CSV_CONNS="${SPACE_CSV_CONNS:-4}"
SCENARIOS=""
OUT=""
KEEP=()
EXTRA=()
[ "${BENCH_KEEP_TMP:-0}" = 1 ] && KEEP=(--keep-tmp)

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) EVENTS=2000 OTHERS=100 DURATION=2 WARMUP=1 REPS=1 REBUILDS=1 ;;
    --events) need_value "$@"; EVENTS="$2"; shift ;;
    --others) need_value "$@"; OTHERS="$2"; shift ;;
    --conns) need_value "$@"; CONNS="$2"; shift ;;
    --duration) need_value "$@"; DURATION="$2"; shift ;;
    --warmup) need_value "$@"; WARMUP="$2"; shift ;;
    --reps) need_value "$@"; REPS="$2"; shift ;;
    --rebuilds) need_value "$@"; REBUILDS="$2"; shift ;;
    --scenarios) need_value "$@"; SCENARIOS="$2"; shift ;;
    --out) need_value "$@"; OUT="$2"; shift ;;
    --keep-tmp) KEEP=(--keep-tmp) ;;
    --trim-check) EXTRA+=(--trim-check) ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

for tool in wrk taskset python3; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "run.sh: '$tool' is missing (Debian: apt-get install wrk util-linux python3)" >&2; exit 1; }
done
for bin in "$QAQPA_BIN" "$QAQPA_DEMO_PROVIDER_BIN"; do
  [ -x "$bin" ] || { echo "run.sh: $bin not found; build it:
  cmake --preset release -B build/release && cmake --build build/release -j2 --target qaqpa qaqpa-demo-provider
  (or set QAQPA_BIN / QAQPA_DEMO_PROVIDER_BIN)" >&2; exit 1; }
done
[ -n "$OUT" ] || OUT="$ROOT/benchmarks/out/space-$(date -u +%Y%m%dT%H%M%SZ)"
ulimit -n 65536 2>/dev/null || true

echo "[space-bench] gateway $QAQPA_BIN (built $(date -u -r "$QAQPA_BIN" +%Y-%m-%dT%H:%M:%SZ)), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
echo "[space-bench] N=$EVENTS others=2x$OTHERS c=$CONNS ${DURATION}s (warm-up ${WARMUP}s) x$REPS, rebuilds $REBUILDS, load $(cut -d' ' -f1-3 /proc/loadavg) -> $OUT" >&2

# exec: the Python driver receives SIGINT/SIGTERM itself and stops everything it started.
exec python3 "$HERE/space_bench.py" --qaqpa-bin "$QAQPA_BIN" --provider-bin "$QAQPA_DEMO_PROVIDER_BIN" \
  --out "$OUT" --events "$EVENTS" --others "$OTHERS" --seed-conns "$SEED_CONNS" --conns "$CONNS" \
  --duration "$DURATION" --warmup "$WARMUP" --reps "$REPS" --rebuilds "$REBUILDS" \
  --csv-conns "$CSV_CONNS" --csv-c1 "$CSV_C1" ${SCENARIOS:+--scenarios "$SCENARIOS"} "${KEEP[@]+"${KEEP[@]}"}" "${EXTRA[@]+"${EXTRA[@]}"}"
