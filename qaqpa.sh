#!/usr/bin/env bash
# Qaqpa developer entry point.
#   ./qaqpa.sh up      install what is missing, build, start the demo (gateway + demo providers)
#   ./qaqpa.sh test    install what is missing, build, run the whole test suite (what CI runs)
#   ./qaqpa.sh build   install what is missing and build
#   ./qaqpa.sh deps    only install the Debian packages
# Environment: QAQPA_PRESET (default release), QAQPA_JOBS (default: cores).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PRESET="${QAQPA_PRESET:-release}"
BUILD_DIR="$ROOT/build/$PRESET"
JOBS="${QAQPA_JOBS:-$(nproc)}"
RUN_DIR="$ROOT/.run"

PACKAGES=(
  g++ cmake ninja-build ccache pkg-config git curl python3 python3-cryptography python3-yaml
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl libprotobuf-dev protobuf-compiler libhiredis-dev
  prometheus-cpp-dev libyaml-cpp-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  redis-server
  chromium
)

say() { printf '\033[1m[qaqpa]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # Browser tests (tests/browser): Node.js from Debian only when the machine has none.
  command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  browser_deps
}

# playwright-core for the browser tests: npm ci when node_modules is missing or was installed
# from another package-lock.json (a stamp holds the lock's hash). It downloads no browser.
browser_deps() {
  local dir="$ROOT/tests/browser" sum
  sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$dir/node_modules/.qaqpa-lock.sha256" 2>/dev/null)" != "$sum" ]; then
    say "installing the browser tests' npm packages (tests/browser/package-lock.json)"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
    echo "$sum" >"$dir/node_modules/.qaqpa-lock.sha256"
  fi
}

build() {
  deps
  local werror=OFF
  [ "${CI:-}" = "true" ] && werror=ON
  if [ ! -f "$BUILD_DIR/build.ninja" ] || [ "$ROOT/CMakePresets.json" -nt "$BUILD_DIR/build.ninja" ]; then
    cmake --preset "$PRESET" -S "$ROOT" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
      -DQAQPA_WERROR="$werror" >/dev/null
  fi
  say "building ($PRESET, $JOBS jobs)"
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

run_tests() {
  build
  say "validating the shipped policy bundles"
  for f in "$ROOT"/policies/*/qaqpa.yaml; do
    "$BUILD_DIR/gateway/exe/qaqpa" --validate-config "$f"
  done
  say "running tests"
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
}

up() {
  build
  mkdir -p "$RUN_DIR"
  local pids=() gateway_pid=""
  # Every child runs in its own session (setsid), so Ctrl-C reaches only this script, which stops
  # them in order with one signal each: the gateway first (one SIGTERM = drain: in-flight calls
  # and async deliveries finish; a second signal would stop it at once), then the providers and
  # Redis it was using.
  cleanup() {
    say "stopping"
    if [ -n "$gateway_pid" ]; then
      kill -TERM "$gateway_pid" 2>/dev/null || true
      wait "$gateway_pid" 2>/dev/null || true
    fi
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
  }
  trap cleanup EXIT
  trap 'exit 0' INT TERM
  # The external and international zones require mutual TLS, as in production: a demo CA with a
  # server certificate for 127.0.0.1 and client certificates for the bank and the Armenian peer
  # gateway, made once in .run/pki/ (never committed) and reused while complete and valid.
  local pki="$RUN_DIR/pki"
  mkdir -p "$pki" && chmod 700 "$pki"
  local name regen=0
  for name in ca server bank amgw; do
    if [ ! -f "$pki/$name.key" ] || [ ! -f "$pki/$name.crt" ] ||
       ! openssl x509 -in "$pki/$name.crt" -noout -checkend 86400 >/dev/null 2>&1; then regen=1; fi
  done
  if [ "$regen" -eq 1 ]; then
    say "generating the demo CA and certificates in $pki (EC P-256)"
    local leaf='basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature'
    leaf+='\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid'
    # issue NAME SUBJECT DAYS EXTENSIONS: a new key and CSR, signed by the demo CA (or by itself
    # for NAME=ca) with exactly EXTENSIONS (printf format, one per line).
    issue() {
      (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$pki/$1.key")
      openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr"
      local signer=(-CA "$pki/ca.crt" -CAkey "$pki/ca.key")
      [ "$1" = ca ] && signer=(-signkey "$pki/ca.key")
      if ! openssl x509 -req -in "$pki/$1.csr" "${signer[@]}" -days "$3" -sha256 \
          -set_serial "0x$(openssl rand -hex 16)" -extfile <(printf "$4\n") \
          -out "$pki/$1.crt" 2>"$pki/$1.err"; then
        cat "$pki/$1.err" >&2; say "could not issue $pki/$1.crt"; exit 1
      fi
      rm -f "$pki/$1.csr" "$pki/$1.err"
    }
    issue ca "/C=KZ/O=Qaqpa demo/CN=Qaqpa Demo CA" 3650 \
      'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash'
    issue server "/C=KZ/O=Qaqpa demo/CN=127.0.0.1" 825 \
      "$leaf\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1"
    issue bank "/C=KZ/O=Demo Bank/OU=BIN990340000014/CN=bank-core" 825 \
      "$leaf\nextendedKeyUsage=clientAuth"
    issue amgw "/C=AM/O=AM/CN=AMGW national gateway" 825 "$leaf\nextendedKeyUsage=clientAuth"
    unset -f issue
  fi
  chmod 600 "$pki"/*.key
  local amgw_fp
  amgw_fp="$(openssl x509 -in "$pki/amgw.crt" -noout -fingerprint -sha256 | sed 's/^.*=//')"
  # The international zone accepts only signed requests (PROTOCOL.md §2): a demo Ed25519 key pair
  # for AM/INT/AMGW/national-gateway in .run/keys/ (never committed), its public half registered in
  # a runtime copy of the demo bundle (.run/bundle/, fresh each time) that the gateway runs from.
  local keys="$RUN_DIR/keys" bundle="$RUN_DIR/bundle"
  mkdir -p "$keys" && chmod 700 "$keys"
  if [ ! -f "$keys/amgw.key" ]; then
    say "generating the demo signing key $keys/amgw.key (Ed25519)"
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$keys/amgw.key")
  fi
  chmod 600 "$keys/amgw.key"
  rm -rf "$bundle"
  cp -R "$ROOT/policies/demo" "$bundle"
  mkdir -p "$bundle/keys"
  openssl pkey -in "$keys/amgw.key" -pubout -out "$bundle/keys/amgw-demo-1.pub.pem"
  python3 - "$bundle" "$RUN_DIR/data" "$pki" "$amgw_fp" "$ROOT" <<'PY'
import json, re, sys
bundle, data_dir, pki, amgw_fp, root = sys.argv[1:6]
path = bundle + "/systems.yaml"
text = open(path, encoding="utf-8").read()
additions = {
    "  - id: AM/INT/AMGW/national-gateway\n    zone: international\n":
        "    signature_keys: [{keyid: amgw-demo-1, alg: ed25519, "
        "public_key_file: keys/amgw-demo-1.pub.pem}]\n"
        "    certificates: [{fingerprint_sha256: " + json.dumps(amgw_fp) + "}]\n",
    "  - id: KZ/COM/990340000014/bank-core\n    zone: external\n":
        '    certificates: [{subject: {cn: bank-core, bin: "990340000014"}}]\n',
}
for system, lines in additions.items():
    if text.count(system) != 1:
        sys.exit("qaqpa.sh: " + system.split("\n")[0].strip() + " not found once in " + path)
    text = text.replace(system, system + lines)
open(path, "w", encoding="utf-8").write(text)
path = bundle + "/qaqpa.yaml"
text, n = re.subn(r"(?m)^data_dir:[^#\n]*", lambda m: "data_dir: " + json.dumps(data_dir) + "  ",
                 open(path, encoding="utf-8").read())
if n != 1:
    sys.exit("qaqpa.sh: no data_dir line in " + path)
tls = (", tls: {cert_file: %s, key_file: %s, client_ca_file: %s}" %
       tuple(json.dumps(pki + "/" + f) for f in ("server.crt", "server.key", "ca.crt")))
text, n = re.subn(r"(?m)^(  (?:external|international): \{[^{}\n]*)\}", lambda m: m.group(1) + tls + "}",
                  text)
if n != 2:
    sys.exit("qaqpa.sh: the external and international listeners not found in " + path)
# The committed file names .run/ relative to policies/demo/; the runtime copy lives elsewhere.
run_dir = data_dir.rsplit("/", 1)[0]
text = text.replace("../../.run/", run_dir + "/")
# The citizen's page is served from the source tree.
text = text.replace("../../web/", root + "/web/")
# Redis (issue #6): the local redis-server started below, on its unix socket. Only when the
# committed file has no redis section of its own.
if not re.search(r"(?m)^redis:", text):
    text += ("# Added by ./qaqpa.sh up: the local redis-server it starts (docs/configuration.md).\n"
             "redis:\n  address: " + json.dumps("unix:" + run_dir + "/redis.sock") + "\n")
open(path, "w", encoding="utf-8").write(text)
PY
  "$BUILD_DIR/gateway/exe/qaqpa" --validate-config "$bundle/qaqpa.yaml"
  # Redis for the demo (issue #6): a unix socket in .run/ and no TCP port, the append-only file in
  # .run/redis/ (no RDB snapshots), fsync'd before Redis answers (an async 202 or a consent is
  # durable when acknowledged); stopped with the rest. The gateway does not wait for it: each
  # worker's client keeps reconnecting, and /readyz reports checks.redis.
  local redis_dir="$RUN_DIR/redis" redis_sock="$RUN_DIR/redis.sock"
  mkdir -p "$redis_dir" && chmod 700 "$redis_dir"
  rm -f "$redis_sock"
  setsid redis-server --port 0 --unixsocket "$redis_sock" --unixsocketperm 700 --dir "$redis_dir" \
    --save '' --appendonly yes --appendfsync always --appenddirname appendonlydir --daemonize no \
    --logfile "$RUN_DIR/redis.log" & pids+=($!)
  local provider="$BUILD_DIR/tools/demo_provider/qaqpa-demo-provider"
  setsid "$provider" --dataset population --listen 127.0.0.1:8180 2>"$RUN_DIR/population.log" & pids+=($!)
  setsid "$provider" --dataset legal-entity --listen 127.0.0.1:8181 2>"$RUN_DIR/legal-entity.log" & pids+=($!)
  setsid "$provider" --dataset tax --listen 127.0.0.1:8182 2>"$RUN_DIR/tax.log" & pids+=($!)
  rm -f "$RUN_DIR/ports.json"
  setsid "$BUILD_DIR/gateway/exe/qaqpa" --config "$bundle/qaqpa.yaml" \
    --ports-file "$RUN_DIR/ports.json" & gateway_pid=$!
  for _ in $(seq 1 100); do [ -f "$RUN_DIR/ports.json" ] && break; sleep 0.1; done
  if [ ! -f "$RUN_DIR/ports.json" ]; then say "the gateway did not start; see its log above"; exit 1; fi
  cat >&2 <<TXT

  Qaqpa is up. external and international require mutual TLS with the demo certificates in
  .run/pki/ (never committed). Demo mode: on the plain-HTTP state listener Qaqpa-Client is trusted
  without mTLS or a signature — never do this in production.
    state zone          http://127.0.0.1:8080/v1/services/{serviceId}
    external zone       https://127.0.0.1:8081/v1/services/{serviceId}  (mTLS)
    international zone  https://127.0.0.1:8082/v1/services/{serviceId}  (mTLS + signature)
    admin               http://127.0.0.1:9090/healthz  /readyz  /metrics
    digital space       http://127.0.0.1:8083/space/  (the citizen's page: log in as a demo citizen)
    gateway keys        http://127.0.0.1:8080/v1/keys  (JWKS: every response is signed with them)
    journal             .run/data/journal  (one signed, hash-chained digital event per call)
    demo providers      127.0.0.1:8180 (population), :8181 (legal entities), :8182 (tax); logs in .run/
    redis               .run/redis.sock (unix socket only; AOF in .run/redis/, log .run/redis.log)

  Try (state zone: the tax service reads a citizen from the population register):
    curl -i http://127.0.0.1:8080/v1/services/person.byIin \\
      -H 'Qaqpa-Client: KZ/GOV/240140000021/tax-service' \\
      -H 'Qaqpa-Subject: IIN:900101300017' -H 'Qaqpa-Purpose: TAX_ADMINISTRATION'
  (external zone: a bank checks a company for KYC, with its client certificate):
    curl -i --cacert .run/pki/ca.crt --cert .run/pki/bank.crt --key .run/pki/bank.key \\
      https://127.0.0.1:8081/v1/services/legalEntity.byBin/240140000041 \\
      -H 'Qaqpa-Client: KZ/COM/990340000014/bank-core' -H 'Qaqpa-Purpose: KYC'
  (international zone: the Armenian national gateway, approved for legal-entity data; its client
   certificate, and only signed requests — signed with the demo key in .run/keys/):
    python3 tools/demo/signed_call.py --key .run/keys/amgw.key --keyid amgw-demo-1 \\
      --cacert .run/pki/ca.crt --cert .run/pki/amgw.crt --cert-key .run/pki/amgw.key \\
      --client AM/INT/AMGW/national-gateway \\
      --url https://127.0.0.1:8082/v1/services/legalEntity.byBin/240140000011 \\
      --header 'Accept-Language: en'

  Every response carries Qaqpa-Event-Id: its digital event is durable in the journal before the
  response leaves. Check the journal offline (any time; it only reads):
    build/$PRESET/gateway/exe/qaqpa journal verify .run/data/journal --jwks <(curl -s http://127.0.0.1:8080/v1/keys)

  Ctrl-C stops everything.
TXT
  wait -n "$gateway_pid" "${pids[@]}" || true
  say "a process exited; shutting down"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  deps) deps ;;
  build) build ;;
  test) run_tests "$@" ;;
  up) up ;;
  *) echo "usage: ./qaqpa.sh up|test|build|deps" >&2; exit 2 ;;
esac
