#!/usr/bin/env bash
# End-to-end throughput benchmark of Qaqpa against its references (shared/docs/BENCHMARKING.md):
#   D    = wrk straight to the upstream (the physical limit of one hop)
#   N    = nginx reverse proxy (1 worker, upstream keep-alive pool, adds one header)
#   Q_Lx = the Qaqpa gateway (1 worker) at feature level Lx (see LEVELS below)
# Topology on 2 cores: system under test on CPU 1; wrk -t1 and the upstream nginx on CPU 0.
# Traffic goes to 127.0.0.1 only; every process started here is stopped on exit (trap).
#
#   benchmarks/run.sh [--quick] [--levels L0[,L1..]] [--contenders D,N,Q] [--results FILE]
#   benchmarks/run.sh --profile      callgrind of Q_L0 under a fixed wrk load -> "Where time goes"
#
# Environment: BENCH_DURATION (s, default 20), BENCH_WARMUP (s, 5), BENCH_REPS (5),
#   BENCH_CONNS (default "64,8,256"; an entry may carry its own repetitions: "64,8:3,256:3"),
#   BENCH_MAX_LOAD (1-min load average above which a warning is printed, default 0.7),
#   BENCH_WAIT_IDLE (seconds to wait for the load to drop below BENCH_MAX_LOAD; default 0),
#   BENCH_PROFILE_REQUESTS (requests under callgrind, default 20000), QAQPA_BIN (gateway binary).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/benchmarks"
LIB="$BENCH/lib"
CONFIGS="$BENCH/configs"
QAQPA_BIN="${QAQPA_BIN:-$ROOT/build/release/gateway/exe/qaqpa}"

DURATION="${BENCH_DURATION:-20}"
WARMUP="${BENCH_WARMUP:-5}"
REPS="${BENCH_REPS:-5}"
CONNS="${BENCH_CONNS:-64,8,256}"
MAX_LOAD="${BENCH_MAX_LOAD:-0.7}"
WAIT_IDLE="${BENCH_WAIT_IDLE:-0}"
PROFILE_REQUESTS="${BENCH_PROFILE_REQUESTS:-20000}"
CONTENDERS="D,N,Q"
LEVELS_WANTED="L0"
RESULTS=""
QUICK=0
PROFILE=0

# Bench identities (valid system ids: the BINs pass the check digit).
PROVIDER_ID="KZ/GOV/990140000017/bench-upstream"
CLIENT_ID="KZ/GOV/990140000027/bench-client"
REQ_PATH="/v1/services/bench.echo"

# Feature levels: a level is a gateway-file template in benchmarks/configs plus a description.
# L1-L3 (identity/grant/quota/metrics, response signature, durable journal) are added here as
# their features land; each may also name its own bundle directory in LEVEL_BUNDLE.
declare -A LEVEL_CONFIG=([L0]="qaqpa-L0.yaml.in")
declare -A LEVEL_BUNDLE=([L0]="bundle")
declare -A LEVEL_DESC=([L0]="plain routing: demo identity header, one non-personal service, no signing, no journal")
LEVEL_ORDER=(L0)

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --profile) PROFILE=1 ;;
    --levels) LEVELS_WANTED="${2:?--levels needs a value}"; shift ;;
    --levels=*) LEVELS_WANTED="${1#*=}" ;;
    --contenders) CONTENDERS="${2:?--contenders needs a value}"; shift ;;
    --contenders=*) CONTENDERS="${1#*=}" ;;
    --results) RESULTS="${2:?--results needs a value}"; shift ;;
    --results=*) RESULTS="${1#*=}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if [ "$QUICK" = 1 ]; then
  REPS=1 DURATION=3 WARMUP=1 CONNS=64
fi

say() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[bench] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }
loud() { printf '\033[1;31m[bench] FAILED:\033[0m %s\n' "$*" >&2; }

# ---------------------------------------------------------------- packages
ensure_packages() {
  local missing=() need=(wrk python3 taskset)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
  command -v pgrep >/dev/null 2>&1 || missing+=(procps)
  if [ "$PROFILE" = 1 ]; then
    command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null; then
    # Older/newer suites may only have one nginx flavour.
    missing=("${missing[@]/nginx-light/nginx}")
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  : "${need[@]}"
}
ensure_packages
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# ---------------------------------------------------------------- processes and cleanup
WORK="$(mktemp -d /tmp/qaqpa-bench.XXXXXX)"
PIDS=()          # every long-lived process this script started
CURRENT_WRK=""   # the wrk run in flight, if any
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$CURRENT_WRK" ] && kill -TERM "$CURRENT_WRK" 2>/dev/null || true
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 30); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'loud "interrupted"; exit 130' INT TERM

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

NCPU="$(nproc)"
if [ "$NCPU" -ge 2 ]; then SUT_CPU=1 GEN_CPU=0; else SUT_CPU=0 GEN_CPU=0; say "WARNING: 1 CPU: no pinning split"; fi

free_port() { python3 "$LIB/helpers.py" free-port; }

# render TEMPLATE OUT: substitutes @KEY@ from the variables passed as KEY=VALUE after OUT.
render() {
  local in="$1" out="$2"; shift 2
  local args=() kv
  for kv in "$@"; do
    local k="${kv%%=*}" v="${kv#*=}"
    v="${v//\\/\\\\}"; v="${v//|/\\|}"; v="${v//&/\\&}"
    args+=(-e "s|@${k}@|${v}|g")
  done
  sed "${args[@]}" "$in" >"$out"
  if grep -q '@[A-Z_]*@' "$out"; then die "unsubstituted placeholder in $out: $(grep -o '@[A-Z_]*@' "$out" | head -1)"; fi
}

# CPU ticks (utime+stime) of a process: /proc/<pid>/stat fields 14 and 15, whole thread group.
ticks_of() {
  local s
  s="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
  s="${s##*) }"
  local f
  read -ra f <<<"$s"
  echo $(( f[11] + f[12] ))
}
# The pids a contender's CPU is charged to: the process and its children (nginx master+worker).
pids_tree() {
  local p="$1" c
  echo "$p"
  for c in $(cat "/proc/$p/task/"*/children 2>/dev/null); do echo "$c"; done
}
ticks_tree() {
  local total=0 p
  for p in $(pids_tree "$1"); do total=$(( total + $(ticks_of "$p") )); done
  echo "$total"
}
CLK_TCK="$(getconf CLK_TCK)"
STARTUP_TICKS=100   # x 0.1-0.2 s: how long a contender may take to come up

NGINX_PID=""
start_nginx() {  # start_nginx NAME TEMPLATE CPU PORT [KEY=VALUE...]; sets NGINX_PID (the master)
  local name="$1" tpl="$2" cpu="$3" port="$4"; shift 4
  local prefix="$WORK/$name"
  mkdir -p "$prefix/tmp"
  render "$CONFIGS/$tpl" "$prefix/nginx.conf" PREFIX="$prefix" PORT="$port" "$@"
  "$NGINX" -t -q -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" 2>"$prefix/check.log" ||
    die "$name: nginx config test failed: $(cat "$prefix/check.log")"
  taskset -c "$cpu" "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
    >"$prefix/stdout.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
}

# The gateway is copied into the temp dir: a relink by a concurrent build must not swap the
# binary under a running benchmark.
QAQPA_SRC_BIN="$QAQPA_BIN"
QAQPA_BIN_BUILT=missing
if [ -x "$QAQPA_BIN" ]; then
  QAQPA_BIN_BUILT="$(date -u -r "$QAQPA_BIN" +%Y-%m-%dT%H:%M:%SZ)"
  cp "$QAQPA_BIN" "$WORK/qaqpa" && QAQPA_BIN="$WORK/qaqpa"
fi

# ---------------------------------------------------------------- contenders
declare -A CPORT CPID CDESC
ORDER=()     # reference contenders (N, D) in the order of one repetition
QORDER=()    # Qaqpa levels; a repetition runs QORDER then ORDER: Q, N, D, Q, N, D, ...
SKIPPED=()   # "name: reason"

start_upstream() {
  UPSTREAM_PORT="$(free_port)"
  start_nginx upstream upstream-nginx.conf.in "$GEN_CPU" "$UPSTREAM_PORT"
  UPSTREAM_PID="$NGINX_PID"
  python3 "$LIB/helpers.py" probe "$UPSTREAM_PORT" "$REQ_PATH" "$CLIENT_ID" ||
    die "upstream nginx did not come up: $(cat "$WORK/upstream/error.log" 2>/dev/null)"
  say "upstream nginx on 127.0.0.1:$UPSTREAM_PORT (pid $UPSTREAM_PID, CPU $GEN_CPU)"
}

add_D() {
  CPORT[D]="$UPSTREAM_PORT"; CPID[D]="$UPSTREAM_PID"
  CDESC[D]="wrk straight to the upstream nginx (CPU is the upstream's)"
  ORDER+=(D)
}

add_N() {
  local port; port="$(free_port)"
  start_nginx proxy proxy-nginx.conf.in "$SUT_CPU" "$port" UPSTREAM_PORT="$UPSTREAM_PORT"
  local pid="$NGINX_PID"
  python3 "$LIB/helpers.py" probe "$port" "$REQ_PATH" "$CLIENT_ID" ||
    die "N (nginx proxy) did not answer 200: $(cat "$WORK/proxy/error.log" 2>/dev/null)"
  CPORT[N]="$port"; CPID[N]="$pid"
  CDESC[N]="nginx reverse proxy, 1 worker, keepalive 64 upstream pool, +1 header"
  ORDER+=(N)
  say "N: nginx proxy on 127.0.0.1:$port (pid $pid, CPU $SUT_CPU)"
}

add_Q() {  # add_Q LEVEL
  local level="$1" name="Q_$1"
  if [ -z "${LEVEL_CONFIG[$level]:-}" ]; then
    SKIPPED+=("$name: unknown level (known: ${LEVEL_ORDER[*]})"); loud "$name: unknown level"; return
  fi
  if [ ! -x "$QAQPA_BIN" ]; then
    SKIPPED+=("$name: gateway binary $QAQPA_SRC_BIN not found (build it with ./qaqpa.sh build)")
    say "SKIP $name: $QAQPA_SRC_BIN is missing; build it with ./qaqpa.sh build"
    return
  fi
  local dir="$WORK/$name"
  rm -rf "$dir"
  mkdir -p "$dir/bundle"
  local vars=(PROVIDER_ID="$PROVIDER_ID" CLIENT_ID="$CLIENT_ID"
              UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT" NODE_ID="bench-$(echo "$level" | tr 'A-Z' 'a-z')")
  local src="$CONFIGS/${LEVEL_BUNDLE[$level]}" f rel
  while IFS= read -r -d '' f; do
    rel="${f#"$src"/}"
    mkdir -p "$dir/bundle/$(dirname "$rel")"
    render "$f" "$dir/bundle/${rel%.in}" "${vars[@]}"
  done < <(find "$src" -type f -print0)
  render "$CONFIGS/${LEVEL_CONFIG[$level]}" "$dir/qaqpa.yaml" "${vars[@]}"
  if ! "$QAQPA_BIN" --validate-config "$dir/qaqpa.yaml" >"$dir/validate.log" 2>&1; then
    SKIPPED+=("$name: config rejected by qaqpa --validate-config (see below)")
    loud "$name: the benchmark config was rejected:"; cat "$dir/validate.log" >&2
    return
  fi
  taskset -c "$SUT_CPU" "$QAQPA_BIN" --config "$dir/qaqpa.yaml" --ports-file "$dir/ports.json" \
    >"$dir/stdout.log" 2>"$dir/stderr.log" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 "$STARTUP_TICKS"); do
    [ -s "$dir/ports.json" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  local port
  if ! port="$(python3 "$LIB/helpers.py" port-of "$dir/ports.json" state 2>/dev/null)"; then
    SKIPPED+=("$name: gateway did not start (no ports file)")
    loud "$name: gateway did not start:"; tail -20 "$dir/stderr.log" >&2
    return
  fi
  if ! python3 "$LIB/helpers.py" probe "$port" "$REQ_PATH" "$CLIENT_ID" "$STARTUP_TICKS"; then
    SKIPPED+=("$name: GET $REQ_PATH did not answer 200 (see the probe output)")
    loud "$name: does not serve the benchmark request"; tail -20 "$dir/stderr.log" >&2
    return
  fi
  CPORT[$name]="$port"; CPID[$name]="$pid"
  CDESC[$name]="Qaqpa, 1 worker, level $level: ${LEVEL_DESC[$level]}"
  QORDER+=("$name")
  say "$name: qaqpa on 127.0.0.1:$port (pid $pid, CPU $SUT_CPU)"
}

# ---------------------------------------------------------------- load
wrk_cmd() {  # wrk_cmd PORT CONNS SECONDS
  echo taskset -c "$GEN_CPU" wrk -t1 -c"$2" -d"$3"s --latency --timeout 5s -s "$LIB/request.lua" "http://127.0.0.1:$1$REQ_PATH"
}
run_wrk() {  # run_wrk OUTJSON PORT CONNS SECONDS; output (text) goes to OUTJSON.txt
  local out="$1"; shift
  rm -f "$out"
  # shellcheck disable=SC2046
  BENCH_WRK_OUT="$out" BENCH_PATH="$REQ_PATH" BENCH_CLIENT_ID="$CLIENT_ID" \
    timeout $(( $3 + 30 )) $(wrk_cmd "$@") >"$out.txt" 2>&1 &
  CURRENT_WRK=$!
  local rc=0
  wait "$CURRENT_WRK" || rc=$?
  CURRENT_WRK=""
  [ "$rc" -eq 0 ] && [ -s "$out" ]
}
field() { python3 "$LIB/helpers.py" wrk-field "$1" "$2"; }

load1() { cut -d' ' -f1 /proc/loadavg; }
check_load() {
  local waited=0
  while awk -v l="$(load1)" -v m="$MAX_LOAD" 'BEGIN{exit !(l>=m)}'; do
    if [ "$waited" -ge "$WAIT_IDLE" ]; then
      say "WARNING: 1-min load average $(load1) >= $MAX_LOAD: the machine is busy, numbers will be noisy"
      return
    fi
    sleep 10; waited=$(( waited + 10 ))
  done
}

# ---------------------------------------------------------------- profile mode
profile_q() {
  command -v callgrind_annotate >/dev/null || die "callgrind_annotate missing (valgrind package)"
  [ -x "$QAQPA_BIN" ] || die "$QAQPA_BIN is missing; build it with ./qaqpa.sh build"
  start_upstream
  mkdir -p "$BENCH/out"
  local perf_args=()
  # 1) Sampled CPU time at full speed under wrk, kernel included. Hardware counters are not
  #    exposed on this VM, but the cpu-clock software event is.
  if command -v perf >/dev/null && perf record -q -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
    add_Q L0
    [ -n "${CPORT[Q_L0]:-}" ] || die "Q_L0 did not start"
    local qpid="${CPID[Q_L0]}" secs=10
    say "profile: perf record -e cpu-clock on Q_L0 (pid $qpid) under wrk c=64 for ${secs}s"
    run_wrk "$WORK/perf-warmup.json" "${CPORT[Q_L0]}" 64 2 || die "warm-up failed"
    BENCH_WRK_OUT="$WORK/perf-wrk.json" BENCH_PATH="$REQ_PATH" BENCH_CLIENT_ID="$CLIENT_ID" \
      timeout $(( secs + 30 )) $(wrk_cmd "${CPORT[Q_L0]}" 64 $(( secs + 2 ))) >"$WORK/perf-wrk.txt" 2>&1 &
    CURRENT_WRK=$!
    sleep 1
    timeout $(( secs + 20 )) perf record -q -e cpu-clock -F 1999 -p "$qpid" -o "$WORK/perf.data" -- sleep "$secs" \
      >"$WORK/perf-record.log" 2>&1 || true
    wait "$CURRENT_WRK" || true
    CURRENT_WRK=""
    local rss; rss="$(awk '/^VmRSS/ {print $2}' "/proc/$qpid/status" 2>/dev/null || echo 0)"
    kill -TERM "$qpid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
    perf report -i "$WORK/perf.data" --stdio --no-children --sort dso --percent-limit 0.5 \
      >"$BENCH/out/perf-dso.txt" 2>/dev/null || true
    perf report -i "$WORK/perf.data" --stdio --no-children --sort dso,sym --percent-limit 0.3 \
      >"$BENCH/out/perf-sym.txt" 2>/dev/null || true
    perf_args=(--perf-dso "$BENCH/out/perf-dso.txt" --perf-sym "$BENCH/out/perf-sym.txt"
               --perf-wrk "$WORK/perf-wrk.json" --perf-seconds "$secs" --perf-rss-kib "$rss")
  else
    say "perf cpu-clock sampling unavailable: callgrind only"
  fi
  # 2) Instruction counts per function (user space only) under callgrind.
  local save_bin="$QAQPA_BIN"
  # Under callgrind the gateway is ~50x slower: a fixed request count instead of a duration.
  local dir="$WORK/profile"; mkdir -p "$dir"
  QAQPA_BIN="$dir/qaqpa-under-callgrind"
  cat >"$QAQPA_BIN" <<EOF
#!/bin/sh
case "\$1" in --validate-config) exec "$save_bin" "\$@";; esac
exec valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" --dump-instr=no \
  --collect-atstart=yes "$save_bin" "\$@"
EOF
  chmod +x "$QAQPA_BIN"
  STARTUP_TICKS=600
  CPORT[Q_L0]=""
  add_Q L0
  [ -n "${CPORT[Q_L0]:-}" ] || die "Q_L0 did not start under callgrind"
  local port="${CPORT[Q_L0]}" conns=16 qpid
  say "profile: $PROFILE_REQUESTS requests, c=$conns, under callgrind"
  # wrk has no request-count limit: ab-style count via a Lua counter would cost; use a duration
  # long enough and stop on count with python3 instead.
  python3 - "$port" "$REQ_PATH" "$CLIENT_ID" "$PROFILE_REQUESTS" "$conns" <<'PY'
import socket, sys, threading
port, path, client, total, conns = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nQaqpa-Client: %s\r\nAccept: application/json\r\n\r\n" % (path, port, client)).encode()
lock = threading.Lock(); left = [total]; bad = [0]
def worker():
    s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
    while True:
        with lock:
            if left[0] <= 0: break
            left[0] -= 1
        s.sendall(req)
        status = f.readline(); length = 0
        while True:
            h = f.readline()
            if h in (b"\r\n", b""): break
            if h.lower().startswith(b"content-length:"): length = int(h.split(b":")[1])
        f.read(length)
        if b" 200 " not in status:
            with lock: bad[0] += 1
    s.close()
ts = [threading.Thread(target=worker) for _ in range(conns)]
[t.start() for t in ts]; [t.join() for t in ts]
print("profile load: %d requests, %d non-200" % (total, bad[0]), file=sys.stderr)
sys.exit(1 if bad[0] else 0)
PY
  qpid="${CPID[Q_L0]}"
  kill -TERM "$qpid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
  [ -s "$dir/callgrind.out" ] || die "no callgrind output (see $dir)"
  mkdir -p "$BENCH/out"
  cp "$dir/callgrind.out" "$BENCH/out/callgrind.out"
  callgrind_annotate --auto=no --inclusive=yes "$dir/callgrind.out" >"$BENCH/out/callgrind-inclusive.txt" 2>/dev/null
  callgrind_annotate --auto=no --inclusive=no "$dir/callgrind.out" >"$BENCH/out/callgrind-self.txt" 2>/dev/null
  python3 "$LIB/report.py" profile --requests "$PROFILE_REQUESTS" --conns "$conns" \
    --inclusive "$BENCH/out/callgrind-inclusive.txt" --self "$BENCH/out/callgrind-self.txt" \
    "${perf_args[@]+"${perf_args[@]}"}" \
    --results "${RESULTS:-$BENCH/RESULTS.md}" --commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  say "profile written to ${RESULTS:-$BENCH/RESULTS.md} (raw: benchmarks/out/callgrind-*.txt)"
}

if [ "$PROFILE" = 1 ]; then
  profile_q
  exit 0
fi

# ---------------------------------------------------------------- main run
check_load
LOAD_AT_START="$(cat /proc/loadavg)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$BENCH/out/$STAMP"
mkdir -p "$OUT"
CSV="$OUT/raw.csv"

start_upstream
IFS=',' read -ra WANT <<<"$CONTENDERS"
IFS=',' read -ra LEVELS <<<"$LEVELS_WANTED"
for c in "${WANT[@]}"; do
  case "$c" in D|N|Q|Q_*) ;; *) die "unknown contender '$c' (D, N, Q or Q_<level>)" ;; esac
done
wants() { [[ ",$CONTENDERS," == *",$1,"* ]]; }
# A repetition always runs Q levels, then N, then D, whatever order the flag lists them in.
if wants Q; then for l in "${LEVELS[@]}"; do add_Q "$l"; done; fi
for c in "${WANT[@]}"; do [[ "$c" == Q_* ]] && add_Q "${c#Q_}"; done
if wants N; then add_N; fi
if wants D; then add_D; fi
ORDER=("${QORDER[@]+"${QORDER[@]}"}" "${ORDER[@]+"${ORDER[@]}"}")
[ ${#ORDER[@]} -gt 0 ] || die "no contender could be started"

IFS=',' read -ra CONN_SPECS <<<"$CONNS"
total_runs=0
for spec in "${CONN_SPECS[@]}"; do
  r="$REPS"; [[ "$spec" == *:* ]] && r="${spec#*:}"
  total_runs=$(( total_runs + r * ${#ORDER[@]} ))
done
say "plan: ${ORDER[*]} x conns {$CONNS} x $REPS rep(s): $total_runs runs of ${WARMUP}s+${DURATION}s ≈ $(( total_runs * (WARMUP + DURATION + 2) / 60 + 1 )) min"

echo "conns,rep,contender,rps,requests,duration_s,p50_us,p90_us,p99_us,p999_us,non2xx,socket_errors,cpu_s,rps_per_cpu_s,upstream_cpu_s,status" >"$CSV"
FAILED_ROWS=0
for spec in "${CONN_SPECS[@]}"; do
  conns="${spec%%:*}"; reps="$REPS"; [[ "$spec" == *:* ]] && reps="${spec#*:}"
  for rep in $(seq 1 "$reps"); do
    for name in "${ORDER[@]}"; do
      port="${CPORT[$name]}" pid="${CPID[$name]}"
      kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) is no longer running"
      tag="c${conns}-r${rep}-${name}"
      if [ "$WARMUP" -gt 0 ]; then
        run_wrk "$OUT/$tag.warmup.json" "$port" "$conns" "$WARMUP" || true
      fi
      t0="$(ticks_tree "$pid")" u0="$(ticks_tree "$UPSTREAM_PID")"
      ok=1
      run_wrk "$OUT/$tag.json" "$port" "$conns" "$DURATION" || ok=0
      t1="$(ticks_tree "$pid")" u1="$(ticks_tree "$UPSTREAM_PID")"
      if [ "$ok" = 0 ]; then
        loud "$name c=$conns rep $rep: wrk failed: $(tail -5 "$OUT/$tag.json.txt")"
        echo "$conns,$rep,$name,,,,,,,,,,,,,wrk_failed" >>"$CSV"
        FAILED_ROWS=$(( FAILED_ROWS + 1 )); continue
      fi
      row="$(python3 - "$OUT/$tag.json" "$t0" "$t1" "$u0" "$u1" "$CLK_TCK" <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))
t0, t1, u0, u1, hz = map(int, sys.argv[2:7])
dur = w["duration_us"] / 1e6
rps = w["requests"] / dur if dur else 0.0
cpu = (t1 - t0) / hz
ucpu = (u1 - u0) / hz
sock = w["connect"] + w["read"] + w["write"] + w["timeout"]
status = "ok" if w["status"] == 0 and sock == 0 and w["requests"] > 0 else "FAILED"
print("%.1f,%d,%.3f,%d,%d,%d,%d,%d,%d,%.2f,%.1f,%.2f,%s" % (
    rps, w["requests"], dur, w["p50_us"], w["p90_us"], w["p99_us"], w["p999_us"], w["status"], sock,
    cpu, rps * dur / cpu if cpu > 0 else 0.0, ucpu, status))
PY
)"
      echo "$conns,$rep,$name,$row" >>"$CSV"
      IFS=',' read -r rps _ _ p50 _ p99 _ non2xx sock cpu rpc _ status <<<"$row"
      if [ "$status" != ok ]; then
        loud "$name c=$conns rep $rep: non-2xx=$non2xx socket errors=$sock (see $OUT/$tag.json.txt)"
        FAILED_ROWS=$(( FAILED_ROWS + 1 ))
      fi
      say "$(printf 'c=%-3s rep %s %-5s %9.0f rps  p50 %6s us  p99 %6s us  cpu %6.2f s  %7.0f rps/cpu-s  %s' \
        "$conns" "$rep" "$name" "$rps" "$p50" "$p99" "$cpu" "$rpc" "$status")"
    done
  done
done

# ---------------------------------------------------------------- report
if [ -z "$RESULTS" ]; then
  if [ "$QUICK" = 1 ]; then RESULTS="$BENCH/out/RESULTS-quick.md"; else RESULTS="$BENCH/RESULTS.md"; fi
fi
cmdline="benchmarks/run.sh"
[ "$QUICK" = 1 ] && cmdline+=" --quick"
cmdline+=" --contenders $CONTENDERS --levels $LEVELS_WANTED"
env_line="BENCH_DURATION=$DURATION BENCH_WARMUP=$WARMUP BENCH_REPS=$REPS BENCH_CONNS=$CONNS"
{
  echo "cmdline=$env_line $cmdline"
  echo "wrk=$(wrk_cmd PORT CONNS "$DURATION" | sed "s|$ROOT/||g")"
  echo "model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "cpus=$NCPU"
  echo "kernel=$(uname -sr)"
  echo "nginx=$("$NGINX" -v 2>&1 | sed 's/.*: //')"
  echo "wrk_version=$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
  echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ]; then echo "dirty=yes"; else echo "dirty=no"; fi
  echo "qaqpa_bin=$QAQPA_BIN_BUILT"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "load_at_start=$LOAD_AT_START"
  echo "load_at_end=$(cat /proc/loadavg)"
  echo "sut_cpu=$SUT_CPU"
  echo "gen_cpu=$GEN_CPU"
  for name in "${ORDER[@]}"; do echo "desc.$name=${CDESC[$name]}"; done
  for s in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do echo "skipped=$s"; done
} >"$OUT/meta.txt"
cp "$CSV" "$BENCH/out/latest.csv"
python3 "$LIB/report.py" results --csv "$CSV" --meta "$OUT/meta.txt" --out "$RESULTS" --svg "$BENCH/out/rps-per-core.svg"
cp "$BENCH/out/rps-per-core.svg" "$OUT/rps-per-core.svg"
say "raw results: ${CSV#"$ROOT"/}; report: ${RESULTS#"$ROOT"/}"
for s in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do say "skipped $s"; done
if [ "$FAILED_ROWS" -gt 0 ]; then
  loud "$FAILED_ROWS run(s) had errors (non-2xx or socket errors); they are excluded from the medians"
  exit 1
fi
