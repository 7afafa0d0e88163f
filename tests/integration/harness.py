"""Integration harness: real `qaqpa` gateway and real `qaqpa-demo-provider` processes on ephemeral
ports, each deployment in its own temp dir.

Environment (set by ctest, see CMakeLists.txt):
  QAQPA_BIN                 the gateway binary
  QAQPA_DEMO_PROVIDER_BIN   the demo provider binary
  QAQPA_SOURCE_DIR          the repository root (for policies/demo/)
  QAQPA_KEEP_TMP=1          keep temp dirs (configs, logs) after the run

A deployment: providers started with --listen 127.0.0.1:0 --port-file; policies/demo/ copied and
its upstream URLs (127.0.0.1:8180..8182) rewritten to the providers' real ports; the gateway file
derived from policies/demo/qaqpa.yaml with every listener on port 0, policy_dir pointing at the
copy and the test's overrides merged in; `qaqpa --config FILE --ports-file PATH` started and
waited for (ports file, then GET /readyz on admin), all bounded. Teardown: SIGTERM, bounded wait,
SIGKILL. When a test fails, the processes' stderr is printed.
"""

import copy
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import miniyaml
from miniyaml import Plain

READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 15.0

# Demo bundle ids (PRODUCT.md "Demo bundle").
POPULATION = "KZ/GOV/240140000011/population-register"
LEGAL_ENTITY = "KZ/GOV/240140000041/legal-entity-register"
TAX = "KZ/GOV/240140000021/tax-service"
SOCIAL = "KZ/GOV/240140000031/social-benefits"
BANK = "KZ/COM/990340000014/bank-core"
PEER = "AM/INT/AMGW/national-gateway"
CITIZENS = ("900101300017", "850506400003", "920315450126")

# Demo upstream port -> dataset served there (policies/demo/providers/*.yaml).
DEMO_UPSTREAMS = {8180: "population", 8181: "legal-entity", 8182: "tax"}
SERVICE_DATASET = {
    "person.byIin": "population",
    "legalEntity.byBin": "legal-entity",
    "tax.debtStatus": "tax",
}

UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# ---------------------------------------------------------------------------------------------
# Identifiers


def check_digit(first11):
    """PROTOCOL.md §1 two-pass mod-11 check digit, or None if the number cannot be valid."""
    d = [int(c) for c in first11]
    r = sum(d[i] * (i + 1) for i in range(11)) % 11
    if r == 10:
        w = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
        r = sum(d[i] * w[i] for i in range(11)) % 11
        if r == 10:
            return None
    return r


def valid_iin(prefix11):
    """The checksum-valid IIN with these 11 leading digits, else None."""
    c = check_digit(prefix11)
    return None if c is None else prefix11 + str(c)


def unknown_valid_iin():
    """A checksum-valid IIN that is not a demo citizen."""
    for serial in range(1, 1000):
        iin = valid_iin(f"770707300{serial:03d}"[:11])
        if iin and iin not in CITIZENS:
            return iin
    raise AssertionError("no valid IIN found")


def bad_checksum(iin):
    return iin[:11] + str((int(iin[11]) + 1) % 10)


# ---------------------------------------------------------------------------------------------
# Environment


def _env_path(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run through ctest (tests/integration/CMakeLists.txt)")
    return value


def gateway_bin():
    return _env_path("QAQPA_BIN")


def provider_bin():
    return _env_path("QAQPA_DEMO_PROVIDER_BIN")


def source_dir():
    return _env_path("QAQPA_SOURCE_DIR")


def demo_bundle_dir():
    return os.path.join(source_dir(), "policies", "demo")


def _wait_for(predicate, timeout, what, proc=None, describe=None):
    """Polls predicate() with a short backoff until truthy; fails after timeout or if proc died."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            extra = describe() if describe else ""
            raise AssertionError(f"{what}: process exited with {proc.returncode}\n{extra}")
        if time.monotonic() > deadline:
            extra = describe() if describe else ""
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{extra}")
        time.sleep(delay)  # polling a file/port another process creates: no event to wait on
        delay = min(delay * 2, 0.1)


def _tail(path, lines=150):
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return f"<{e}>"
    skipped = len(data) - lines
    head = f"... ({skipped} lines skipped)\n" if skipped > 0 else ""
    return head + "\n".join(data[-lines:])


class Process:
    """A child process with stderr+stdout captured to a log file."""

    def __init__(self, name, argv, log_path, cwd):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
        )

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM, bounded wait, SIGKILL. Returns the exit code (negative: killed by signal)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self):
        return _tail(self.log_path)

    def describe(self):
        return f"--- {self.name} ({' '.join(self.argv)}) ---\n{self.log()}\n--- end {self.name} ---"


class Provider(Process):
    def __init__(self, workdir, dataset, delay_ms=0, label=None):
        label = label or dataset + (f"-slow{delay_ms}" if delay_ms else "")
        port_file = os.path.join(workdir, f"provider-{label}.port")
        argv = [provider_bin(), "--dataset", dataset, "--listen", "127.0.0.1:0",
                "--port-file", port_file]
        if delay_ms:
            argv += ["--delay-ms", str(delay_ms)]
        super().__init__(f"provider {label}", argv, os.path.join(workdir, f"provider-{label}.log"),
                         workdir)
        self.dataset = dataset

        def read_port():
            try:
                with open(port_file) as f:
                    text = f.read().strip()
                return int(text) if text else None
            except (OSError, ValueError):
                return None

        self.port = _wait_for(read_port, READY_TIMEOUT_S, f"{self.name} port file", self.proc,
                              self.describe)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S)

    def get_json(self, path, conn=None):
        own = conn is None
        conn = conn or self.connection()
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise AssertionError(f"{self.name} {path}: {r.status} {body!r}")
            return json.loads(body)
        finally:
            if own:
                conn.close()

    def stats(self, conn=None):
        return self.get_json("/_demo/stats", conn)


class RedisServer(Process):
    """A real redis-server on a unix socket in `workdir` (no TCP port), AOF fsync'd on every
    write, for deployments that opt in (Deployment(redis=True)). kill() and start_again()
    simulate an outage; the socket path stays the same, so the gateway's clients reconnect to
    it."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.socket_path = os.path.join(workdir, "redis.sock")
        self.data_dir = os.path.join(workdir, "redis")
        os.makedirs(self.data_dir, exist_ok=True)
        self.restarts = 0
        super().__init__("redis-server", self._argv(), os.path.join(workdir, "redis.log"),
                         workdir)
        self.wait_ready()

    def _argv(self):
        return [shutil.which("redis-server") or "redis-server", "--port", "0",
                "--unixsocket", self.socket_path, "--unixsocketperm", "700",
                "--dir", self.data_dir, "--save", "", "--appendonly", "yes",
                # Every acknowledged write is on disk before Redis answers: an async 202 or a
                # consent grant survives the SIGKILL of kill() (everysec could lose ~1 s).
                "--appendfsync", "always",
                "--appenddirname", "appendonlydir", "--daemonize", "no"]

    @property
    def address(self):
        return "unix:" + self.socket_path

    def ping(self):
        """True when the server answers PING on its socket."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect(self.socket_path)
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def wait_ready(self):
        _wait_for(self.ping, READY_TIMEOUT_S, "redis-server PING", self.proc, self.describe)

    def kill(self):
        """SIGKILL, as a crash would; waits until the process is gone."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def start_again(self):
        """A new redis-server on the same socket and data dir (its log appended)."""
        self.kill()
        self._log.close()
        self.restarts += 1
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self._argv(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir)
        self.wait_ready()


def closed_port():
    """A port bound but never listening: connecting to it is refused while the socket lives."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s


# ---------------------------------------------------------------------------------------------
# Policy bundle and gateway file


def _walk(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))


def deep_merge(base, overrides):
    """Merges dict overrides into base (in place); None deletes a key."""
    for k, v in overrides.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def _yaml_value(v):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return v
    return Plain(v) if isinstance(v, str) else v


class Bundle:
    """A copy of policies/demo/ in a temp dir, editable before the gateway starts."""

    def __init__(self, dest):
        self.dir = dest
        shutil.copytree(demo_bundle_dir(), dest)
        self.gateway_file = os.path.join(dest, "qaqpa.yaml")
        self._docs = {}  # relative path -> parsed YAML, for files edited structurally

    def files(self):
        for root, _, names in os.walk(self.dir):
            for n in sorted(names):
                if n.endswith((".yaml", ".yml")):
                    yield os.path.relpath(os.path.join(root, n), self.dir)

    def rewrite_upstream_ports(self, port_map):
        """Textually rewrites 127.0.0.1:<demo port> / localhost:<demo port> in every file."""
        for rel in self.files():
            path = os.path.join(self.dir, rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            new = text
            for old, port in port_map.items():
                new = re.sub(rf"(127\.0\.0\.1|localhost):{old}(?!\d)", f"127.0.0.1:{port}", new)
            if new != text:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)

    def _doc(self, rel):
        if rel not in self._docs:
            with open(os.path.join(self.dir, rel), encoding="utf-8") as f:
                self._docs[rel] = miniyaml.loads(f.read())
        return self._docs[rel]

    def find_service(self, service_id):
        """(file, mapping) of the service declaration: a mapping with id == service_id and an
        upstream key, anywhere in the bundle (gateway file excluded)."""
        for rel in self.files():
            if os.path.basename(rel) in ("qaqpa.yaml",) or "cases" in rel:
                continue
            doc = self._doc(rel)
            for _, node in _walk(doc):
                if (isinstance(node, dict) and str(node.get("id", "")) == service_id
                        and "upstream" in node):
                    return rel, node
            # Services may also be keyed by id: services: {person.byIin: {upstream: ...}}.
            for _, node in _walk(doc):
                if (isinstance(node, dict) and isinstance(node.get(service_id), dict)
                        and "upstream" in node[service_id]):
                    return rel, node[service_id]
        raise AssertionError(f"service {service_id} not found in the demo bundle {self.dir}")

    def set_service(self, service_id, upstream_port=None, timeout=None):
        """Points a service at another local port and/or sets its response deadline."""
        rel, svc = self.find_service(service_id)
        if upstream_port is not None:
            up = svc["upstream"]
            if isinstance(up, dict):
                for key in ("url", "base_url", "base"):
                    if key in up:
                        up[key] = Plain(re.sub(r"://[^/]+", f"://127.0.0.1:{upstream_port}",
                                               str(up[key])))
                        break
                else:
                    if "port" in up:
                        up["port"] = upstream_port
                    else:
                        raise AssertionError(f"cannot rewrite upstream {up!r}")
            else:
                svc["upstream"] = Plain(re.sub(r"://[^/]+", f"://127.0.0.1:{upstream_port}",
                                               str(up)))
        if timeout is not None:
            keys = [k for k in svc if "timeout" in k]
            svc[keys[0] if keys else "timeout"] = Plain(timeout)
        with open(os.path.join(self.dir, rel), "w", encoding="utf-8") as f:
            f.write(miniyaml.dumps(self._doc(rel)))

    def save(self, rel):
        """Writes back a file edited through _doc(rel)."""
        with open(os.path.join(self.dir, rel), "w", encoding="utf-8") as f:
            f.write(miniyaml.dumps(self._doc(rel)))

    def gateway_config(self):
        with open(self.gateway_file, encoding="utf-8") as f:
            return miniyaml.loads(f.read())


def _gateway_section(cfg):
    """The mapping that holds the gateway settings: the top level or a `gateway:` key."""
    if isinstance(cfg.get("gateway"), dict) and "listeners" in cfg["gateway"]:
        return cfg["gateway"]
    return cfg


def verify_checkpoint_signature(jwks, checkpoint, canonical_b64):
    """Verifies a digital-space proof's signed checkpoint (ES256: raw r||s over its canonical
    bytes) with the key the JWKS publishes under its keyId; raises when it does not verify.
    Independent of the gateway's own code (python3-cryptography)."""
    import base64
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    jwk = next(k for k in jwks["keys"] if k["kid"] == checkpoint["keyId"])
    pub = ec.EllipticCurvePublicNumbers(
        int.from_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="), "big"),
        int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=="), "big"),
        ec.SECP256R1()).public_key()
    sig = base64.b64decode(checkpoint["signature"])
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pub.verify(der, base64.b64decode(canonical_b64), ec.ECDSA(hashes.SHA256()))


def make_gateway_key(directory, alg="ecdsa-p256-sha256", name="gateway"):
    """A fresh gateway signing key (PKCS#8 PEM) made with the openssl CLI; returns its path."""
    path = os.path.join(directory, f"{name}-{alg}.key.pem")
    if alg == "ed25519":
        argv = ["openssl", "genpkey", "-algorithm", "ED25519", "-out", path]
    else:
        argv = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", path]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return path


def derive_gateway_config(cfg, policy_dir, overrides, signing_key=None, signing_kid="it-key-1"):
    """The demo gateway file with all listener ports 0, policy_dir set, a fresh gateway signing
    key (when given), overrides merged."""
    cfg = copy.deepcopy(cfg)
    section = _gateway_section(cfg)
    listeners = section.get("listeners")
    if isinstance(listeners, list):
        for item in listeners:
            if isinstance(item, dict):
                item["port"] = 0
                if "address" in item:
                    item["address"] = Plain("127.0.0.1")
    elif isinstance(listeners, dict):
        for name, item in listeners.items():
            if isinstance(item, dict):
                item["port"] = 0
                if "address" in item:
                    item["address"] = Plain("127.0.0.1")
            else:
                listeners[name] = Plain("127.0.0.1:0")
    else:
        raise AssertionError(f"demo gateway file has no listeners: {cfg!r}")
    section["policy_dir"] = policy_dir
    # Durable state (consents) lives in the deployment's own temp dir, never the demo's.
    section["data_dir"] = os.path.join(os.path.dirname(policy_dir), "data")
    section.pop("ports_file", None)
    # Redis only where a test asks for it (Deployment(redis=True) merges its own section).
    section.pop("redis", None)
    if signing_key is not None:
        section["signing"] = {"keys": [{"kid": signing_kid, "private_key_file": signing_key,
                                        "active": True}]}
    space = section.get("space")
    if isinstance(space, dict):
        # The page from the source tree; the demo identity provider's key generated in the
        # deployment's own dir (never the demo's .run/).
        if "web_root" in space:
            space["web_root"] = os.path.join(source_dir(), "web", "space")
        demo_idp = space.get("demo_identity_provider")
        if isinstance(demo_idp, dict) and "private_key_file" in demo_idp:
            demo_idp["private_key_file"] = os.path.join(os.path.dirname(policy_dir), "keys",
                                                        "demo-idp.key")
            demo_idp["generate"] = "ecdsa-p256-sha256"
    deep_merge(section, overrides)
    # The demo identity provider exists only in demo mode (the config refuses it otherwise):
    # deployments that turn demo mode off lose it too.
    space = section.get("space")
    if not section.get("demo_trust_client_header") and isinstance(space, dict):
        demo_idp = space.get("demo_identity_provider")
        if isinstance(demo_idp, dict):
            demo_idp["enabled"] = False
    return cfg


# ---------------------------------------------------------------------------------------------
# HTTP helpers


class Reply:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.header_list = headers
        self.headers = {}
        for k, v in headers:
            self.headers.setdefault(k.lower(), v)
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"body is not JSON: {self.body[:300]!r}") from None

    def __repr__(self):
        body = self.body[:600].decode("utf-8", "replace")
        return f"<Reply {self.status} {self.headers} {body!r}>"


def request(port, method, target, headers=None, body=None, conn=None, timeout=HTTP_TIMEOUT_S):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Reply(r.status, r.reason, r.getheaders(), data)
    finally:
        if own:
            conn.close()


def raw_exchange(port, data, timeout=5.0):
    """Sends raw bytes, reads until the peer closes (or timeout). Returns (bytes, closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        closed = False
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
        return b"".join(chunks), closed


# ---------------------------------------------------------------------------------------------
# Deployment


def _read_ports_file(path):
    try:
        with open(path) as f:
            ports = json.load(f)
        return ports if isinstance(ports, dict) and "admin" in ports else None
    except (OSError, ValueError):
        return None


def _gateway_ready(ports):
    try:
        r = request(ports["admin"], "GET", "/readyz", timeout=2)
        if r.status != 200:
            return False
        # The digital-space index is rebuilt from the journal after start; tests that read a
        # citizen's events start once it serves.
        return r.json().get("checks", {}).get("spaceIndex") != "rebuilding"
    except (OSError, ValueError):
        return False


def _start_gateway_process(name, config_path, ports_file, log_path, cwd, describe):
    """Starts the gateway binary, waits for its ports file and /readyz; returns (process, ports).
    A stale ports file (of an earlier process) is removed first so its ports are never read."""
    try:
        os.remove(ports_file)
    except FileNotFoundError:
        pass
    proc = Process(name, [gateway_bin(), "--config", config_path, "--ports-file", ports_file],
                   log_path, cwd)
    ports = _wait_for(lambda: _read_ports_file(ports_file), READY_TIMEOUT_S,
                      f"{name} ports file", proc.proc, describe)
    _wait_for(lambda: _gateway_ready(ports), READY_TIMEOUT_S, f"{name} /readyz", proc.proc,
              describe)
    return proc, ports


class _Calls:
    """HTTP helpers over `self.ports` (a gateway's listener ports)."""

    def port(self, listener):
        if listener not in self.ports:
            raise AssertionError(f"gateway has no {listener} listener: {self.ports}")
        return self.ports[listener]

    def connection(self, listener="state"):
        return http.client.HTTPConnection("127.0.0.1", self.port(listener),
                                          timeout=HTTP_TIMEOUT_S)

    def call(self, service, client=None, subject=None, purpose=None, listener="state",
             method="GET", path="", query="", headers=None, body=None, conn=None,
             language=None, timeout=HTTP_TIMEOUT_S):
        target = f"/v1/services/{service}" + (f"/{path}" if path else "") + (
            f"?{query}" if query else "")
        h = {}
        if client:
            h["Qaqpa-Client"] = client
        if subject:
            h["Qaqpa-Subject"] = subject
        if purpose:
            h["Qaqpa-Purpose"] = purpose
        if language:
            h["Accept-Language"] = language
        h.update(headers or {})
        return request(self.port(listener), method, target, h, body, conn, timeout)


class Replica(_Calls):
    """One gateway process of a Deployment. Replica 0 is the deployment's own gateway (its
    config, data dir, log and ports file are the single-gateway ones: dep.gateway, dep.ports);
    replicas 1.. (Deployment(replicas=N)) share its policy bundle, gateway signing key, demo
    identity provider key and redis-server, and have their own node id
    (<node id of replica 0>-r<i>), data dir (journal, consents), ports, log and ports file."""

    def __init__(self, dep, index):
        self.dep = dep
        self.index = index
        self.restarts = 0
        self.old_logs = []
        if index > 0:
            self.gateway = None
            self.ports = {}
            self.config_path = os.path.join(dep.tmp, f"qaqpa-test-r{index}.yaml")
            self.ports_file = os.path.join(dep.tmp, f"gateway-ports-r{index}.json")
            self.log_path = os.path.join(dep.tmp, f"gateway-r{index}.log")
            self.node_id = None

    # Replica 0 is a view of the deployment's single-gateway attributes.
    def __getattr__(self, name):
        if name in ("gateway", "ports", "config_path") and self.__dict__.get("index") == 0:
            return getattr(self.dep, name)
        if name == "ports_file" and self.__dict__.get("index") == 0:
            return os.path.join(self.dep.tmp, "gateway-ports.json")
        if name == "log_path" and self.__dict__.get("index") == 0:
            return os.path.join(self.dep.tmp, "gateway.log")
        if name == "node_id" and self.__dict__.get("index") == 0:
            return self.dep.node_id
        raise AttributeError(name)

    @property
    def name(self):
        return "gateway" if self.index == 0 else f"gateway-r{self.index}"

    def write_config(self):
        """Replica i > 0: the config of replica 0 with its own node id and data dir."""
        assert self.index > 0
        overrides = copy.deepcopy(self.dep.effective_overrides())
        base_node = self.dep.node_id
        self.node_id = f"{base_node}-r{self.index}"[:63]
        data_dir = os.path.join(self.dep.tmp, f"data-r{self.index}")
        deep_merge(overrides, {"node_id": self.node_id, "data_dir": data_dir})
        for extra in (self.dep.replica_overrides[self.index]
                      if self.index < len(self.dep.replica_overrides) else None) or [{}]:
            deep_merge(overrides, copy.deepcopy(extra))
        cfg = derive_gateway_config(self.dep.bundle.gateway_config(), self.dep.bundle.dir,
                                    overrides, self.dep.signing_key, self.dep.signing_kid)
        section = _gateway_section(cfg)
        section["data_dir"] = data_dir  # derive_gateway_config resets it to the shared one
        deep_merge(section, {"node_id": self.node_id})
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(miniyaml.dumps(cfg))
        return self.config_path

    def start(self):
        if self.index == 0:
            return self.dep.start_replica0()
        if self.gateway is not None and self.gateway.alive():
            return self
        self.write_config()
        self.gateway, self.ports = _start_gateway_process(
            self.name, self.config_path, self.ports_file, self.log_path, self.dep.tmp,
            self.dep.describe)
        return self

    def kill9(self):
        """SIGKILL, as a crash would (no drain, no flush beyond what is already durable); waits
        until the process is gone."""
        g = self.gateway
        if g is not None and g.alive():
            g.proc.kill()
            g.proc.wait()

    def stop(self):
        g = self.gateway
        return g.stop() if g is not None else None

    def start_again(self):
        """The same replica again (same config, data dir, node id) once the old process is gone;
        the old log is kept as <log>.<n> (still checked for sanitizer reports)."""
        g = self.gateway
        if g is not None:
            if g.alive():
                g.stop()
            else:
                g.stop()  # reaps it and closes its log
        self.restarts += 1
        if os.path.exists(self.log_path):
            old = f"{self.log_path}.{self.restarts}"
            os.replace(self.log_path, old)
            self.old_logs.append(old)
        if self.index == 0:
            self.dep.gateway = None
            return self.dep.start_replica0()
        self.gateway = None
        return self.start()

    def log_paths(self):
        return self.old_logs + [self.log_path]


class Deployment(_Calls):
    """Providers + bundle copy + gateway, all in one temp dir. Use start()/stop().
    replicas=N starts N gateway processes (dep.replicas[i], class Replica) sharing the bundle,
    keys and redis-server; dep.gateway / dep.ports / dep.call are replica 0's.
    replica_overrides: optional list, [i] = extra gateway overrides of replica i (i >= 1)."""

    def __init__(self, name, gateway_overrides=None, providers=None, keep=None,
                 signing_alg="ecdsa-p256-sha256", redis=False, replicas=1,
                 replica_overrides=None):
        self.name = name
        self.replica_count = max(1, int(replicas))
        self.replica_overrides = list(replica_overrides or [])
        # Opt-in: start a redis-server of its own (unix socket in the temp dir) and give the
        # gateway a `redis:` section for it (fast reconnects; the test's overrides win).
        self.want_redis = redis
        self.redis = None
        self.tmp = tempfile.mkdtemp(prefix=f"qaqpa-it-{name}-")
        self.signing_alg = signing_alg
        self.signing_kid = f"it-{signing_alg}-1"
        self.signing_key = None
        self.gateway_overrides = gateway_overrides or {}
        # dataset -> delay_ms for the providers behind the demo upstreams.
        self.provider_specs = providers or {"population": 0, "legal-entity": 0, "tax": 0}
        self.providers = {}
        self.extra_providers = []
        self.gateway = None
        self.ports = {}
        self.bundle = None
        self.config_path = None
        self.failed = False
        self._sockets = []
        self._keep = keep if keep is not None else os.environ.get("QAQPA_KEEP_TMP") == "1"
        self.replicas = [Replica(self, i) for i in range(self.replica_count)]

    # -- building -----------------------------------------------------------------------------

    def start_providers(self):
        if self.want_redis and self.redis is None:
            self.redis = RedisServer(self.tmp)
        for dataset, delay in self.provider_specs.items():
            self.providers[dataset] = Provider(self.tmp, dataset, delay)
        self.bundle = Bundle(os.path.join(self.tmp, "policies"))
        port_map = {demo: self.providers[ds].port for demo, ds in DEMO_UPSTREAMS.items()
                    if ds in self.providers}
        self.bundle.rewrite_upstream_ports(port_map)
        return self

    def add_provider(self, dataset, delay_ms=0, label=None):
        p = Provider(self.tmp, dataset, delay_ms, label)
        self.extra_providers.append(p)
        return p

    def closed_port(self):
        s = closed_port()
        self._sockets.append(s)
        return s.getsockname()[1]

    def write_gateway_config(self):
        if self.signing_key is None:
            self.signing_key = make_gateway_key(self.tmp, self.signing_alg)
        overrides = self.effective_overrides()
        cfg = derive_gateway_config(self.bundle.gateway_config(), self.bundle.dir,
                                    overrides, self.signing_key, self.signing_kid)
        self.config_path = os.path.join(self.tmp, "qaqpa-test.yaml")
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(miniyaml.dumps(cfg))
        return self.config_path

    def effective_overrides(self):
        """The test's gateway overrides plus the `redis:` section of the deployment's own
        redis-server (fast reconnects; the test's overrides win)."""
        overrides = self.gateway_overrides
        if self.redis is not None:
            overrides = copy.deepcopy(overrides)
            redis = {"address": self.redis.address, "reconnect_initial": Plain("20ms"),
                     "reconnect_max": Plain("200ms")}
            deep_merge(redis, overrides.get("redis") or {})
            overrides["redis"] = redis
        return overrides

    @property
    def node_id(self):
        """Replica 0's node id (from its config file)."""
        if self.config_path is None:
            self.write_gateway_config()
        with open(self.config_path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("node_id:"):
                    return line.split(":", 1)[1].strip().strip('"').strip("'")
        raise AssertionError(f"no node_id in {self.config_path}")

    def start_replica0(self):
        if self.config_path is None:
            self.write_gateway_config()
        self.gateway, self.ports = _start_gateway_process(
            "gateway", self.config_path, os.path.join(self.tmp, "gateway-ports.json"),
            os.path.join(self.tmp, "gateway.log"), self.tmp, self.describe)
        return self

    def start_gateway(self):
        """Starts replica 0, then every other replica that is not running (in order: replica 0
        generates the demo keys the others load)."""
        self.start_replica0()
        for r in self.replicas[1:]:
            if r.gateway is None or not r.gateway.alive():
                r.start()
        return self

    def start(self):
        try:
            self.start_providers()
            self.start_gateway()
        except BaseException:
            self.failed = True
            self.stop()
            raise
        return self

    # -- teardown -----------------------------------------------------------------------------

    def processes(self):
        procs = list(self.providers.values()) + self.extra_providers
        for r in reversed(self.replicas[1:]):
            if r.gateway is not None:
                procs.insert(0, r.gateway)
        if self.gateway:
            procs.insert(0, self.gateway)
        if self.redis:
            procs.append(self.redis)  # stopped after the gateway
        return procs

    def describe(self):
        parts = [f"=== deployment {self.name} in {self.tmp} ==="]
        for path in [self.config_path] + [r.config_path for r in self.replicas[1:]]:
            if path and os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    parts.append(f"--- gateway config {path} ---\n{f.read()}")
        for p in self.processes():
            parts.append(p.describe())
        return "\n".join(parts)

    def stop(self):
        codes = {}
        for p in self.processes():
            codes[p.name] = p.stop()
        for s in self._sockets:
            s.close()
        self._sockets = []
        # A sanitized build reports memory errors and UB into the gateway's log, often only at
        # shutdown: that fails the test, whatever the test itself asserted.
        sanitizer = self.sanitizer_reports()
        if sanitizer:
            self.failed = True
        if self.failed:
            sys.stderr.write("\n" + self.describe() + "\n")
            sys.stderr.flush()
        if self._keep or self.failed:
            sys.stderr.write(f"[harness] kept {self.tmp}\n")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if sanitizer:
            raise AssertionError(f"sanitizer report in the gateway log of {self.name}:\n"
                                 + "\n".join(sanitizer[:20]))
        return codes

    def sanitizer_reports(self):
        paths = []
        if self.gateway is not None:
            paths.append(self.gateway.log_path)
        paths += self.replicas[0].old_logs
        for r in self.replicas[1:]:
            if r.gateway is not None:
                paths += r.log_paths()
        found = []
        for path in paths:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    found += [f"{os.path.basename(path)}: {line.rstrip()}" for line in f
                              if "AddressSanitizer" in line or "LeakSanitizer" in line
                              or "runtime error:" in line or "ThreadSanitizer" in line]
            except OSError:
                pass
        return found

def build_deployment(name, overrides=None, providers=None, prepare=None, redis=False,
                     replicas=1):
    """Starts providers (and a redis-server when `redis`), lets prepare(dep) edit the bundle,
    starts the gateway (every replica). On failure the logs are dumped, everything is stopped
    and the error re-raised."""
    dep = Deployment(name, copy.deepcopy(overrides or {}), providers, redis=redis,
                     replicas=replicas)
    try:
        dep.start_providers()
        if prepare:
            prepare(dep)
        dep.start_gateway()
    except BaseException:
        dep.failed = True
        dep.stop()
        raise
    return dep


class SharedDeployment:
    """One deployment for every test class of a module: start() in setUpModule, stop() in
    tearDownModule, and set SHARED = <this> on the classes."""

    def __init__(self, name, overrides=None, providers=None, prepare=None, redis=False,
                 replicas=1):
        self.args = (name, overrides, providers, prepare, redis, replicas)
        self.dep = None

    def start(self):
        self.dep = build_deployment(*self.args)

    def stop(self):
        if self.dep is not None:
            self.dep.stop()
            self.dep = None


class GatewayTestCase(unittest.TestCase):
    """Runs against a deployment: the module's SHARED one, or one per class built from
    GATEWAY_OVERRIDES / PROVIDERS and prepare(deployment) (edits the bundle before the gateway
    starts)."""

    SHARED = None
    GATEWAY_OVERRIDES = {"workers": 1}
    PROVIDERS = None
    REDIS = False  # True: the deployment starts its own redis-server (Deployment(redis=True))
    REPLICAS = 1  # >1: that many gateway processes (dep.replicas), sharing bundle, keys, redis
    dep = None
    _own = False

    @classmethod
    def prepare(cls, dep):
        pass

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.SHARED is not None:
            cls.dep = cls.SHARED.dep
            cls._own = False
        else:
            cls.dep = build_deployment(cls.__name__, cls.GATEWAY_OVERRIDES, cls.PROVIDERS,
                                       cls.prepare, redis=cls.REDIS,
                                       replicas=cls.REPLICAS)
            cls._own = True

    @classmethod
    def tearDownClass(cls):
        if cls._own and cls.dep is not None:
            cls.dep.stop()
        cls.dep = None
        super().tearDownClass()

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before and self.dep is not None:
            self.dep.failed = True  # dump logs at teardown, once per class
        return result

    # -- assertions -----------------------------------------------------------------------------

    def assertProblem(self, reply, status, code=None):
        """An RFC 9457 problem of PROTOCOL.md §5. Every problem carries a message id, also those
        the transport answers before the envelope exists (413, 431, framing errors): the gateway
        assigns one so the refusal can be quoted and journaled."""
        self.assertEqual(reply.status, status, reply)
        ctype = (reply.header("Content-Type") or "").split(";")[0].strip()
        self.assertEqual(ctype, "application/problem+json", reply)
        body = reply.json()
        for field in ["type", "title", "status", "code", "detail", "messageId"]:
            self.assertIn(field, body, reply)
        self.assertEqual(body["status"], status, reply)
        if code:
            self.assertEqual(body["code"], code, reply)
            self.assertEqual(body["type"], f"urn:qaqpa:status:{code}", reply)
            self.assertEqual(reply.header("Qaqpa-Status"), code, reply)
        self.assertEqual(body["messageId"], reply.header("Qaqpa-Message-Id"), reply)
        return body
