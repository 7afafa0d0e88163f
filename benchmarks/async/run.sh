#!/usr/bin/env bash
# Async exchange benchmark (issue #6 item 5): async submit throughput vs. synchronous L3 on the
# same setup, drain/delivery rate, and submit → DELIVERED latency. See benchmarks/async/README.md.
#
#   benchmarks/async/run.sh [--quick] [--out DIR]
#
# Environment: BENCH_CONNS (64), BENCH_DURATION (10 s), BENCH_REPS (2), BENCH_PROBES (200
#   unloaded latency probes), QAQPA_BIN (default build/release/gateway/exe/qaqpa),
#   QAQPA_DEMO_PROVIDER_BIN (default next to it). Needs wrk, taskset, redis-server, python3.
# Results: benchmarks/out/async-<UTC time>/ (summary.md, results.json, every wrk output).
# On a shared machine run it under nice: `nice benchmarks/async/run.sh`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
QAQPA_BIN="$(realpath "${QAQPA_BIN:-$ROOT/build/release/gateway/exe/qaqpa}")"
BUILD_DIR="$(cd "$(dirname "$QAQPA_BIN")/../.." 2>/dev/null && pwd || true)"
QAQPA_DEMO_PROVIDER_BIN="${QAQPA_DEMO_PROVIDER_BIN:-$BUILD_DIR/tools/demo_provider/qaqpa-demo-provider}"
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) export BENCH_DURATION=3 BENCH_REPS=1 BENCH_PROBES=50 ;;
    --out) OUT="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
for tool in wrk taskset redis-server python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run.sh: '$tool' is missing" >&2; exit 1; }
done
for bin in "$QAQPA_BIN" "$QAQPA_DEMO_PROVIDER_BIN"; do
  [ -x "$bin" ] || { echo "run.sh: $bin not found; build it:
  cmake --preset release -B build/release && cmake --build build/release -j2 --target qaqpa qaqpa-demo-provider" >&2; exit 1; }
done
[ -n "$OUT" ] || OUT="$ROOT/benchmarks/out/async-$(date -u +%Y%m%dT%H%M%SZ)"
ulimit -n 65536 2>/dev/null || true
echo "[async-bench] gateway $QAQPA_BIN, commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') -> $OUT" >&2
export QAQPA_BIN QAQPA_DEMO_PROVIDER_BIN QAQPA_SOURCE_DIR="$ROOT" BENCH_OUT="$OUT" PYTHONDONTWRITEBYTECODE=1
exec python3 "$ROOT/benchmarks/async/async_bench.py"
