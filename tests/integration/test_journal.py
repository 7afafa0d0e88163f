"""The journal of digital events end to end (PROTOCOL.md §6, issue #4), with real processes: the
gateway journals one event per call (Qaqpa-Event-Id on the response) and releases the response
only once the event is durable; the operator's own offline tools, `qaqpa journal verify` and
`qaqpa journal export`, then read the files the gateway left behind.

- EndToEndTest: calls of every kind (forwarded, denied, unknown service, provider 502/503/504,
  consent missing, no subject at all) → verify passes, export per subject holds exactly that
  subject's events with the right eventId/kind/status/httpStatus/messageId, never a payload byte;
  the export journals itself (OPERATOR_ACCESS, one more event).
- CrashTest: concurrent keep-alive load, `kill -9` at random moments, restart on the same data
  dir, many rounds → verify passes, every 2xx a client received has its event in the journal, seq
  gap-free across all restarts.
- DiskFullTest: the journal on a 4 MiB tmpfs filled to ENOSPC (fallback when mount is not
  permitted, or with QAQPA_JOURNAL_TEST_NO_MOUNT=1: the running gateway's RLIMIT_FSIZE set to 0,
  so every write fails with EFBIG) → signed 503 PROVIDER_UNAVAILABLE / JOURNAL_UNAVAILABLE, the
  provider is not called, /readyz 503 with the journal failing; space back → it recovers by
  itself, and the journal holds exactly the events of the calls that were answered 200.
- RestartTest: a clean SIGTERM and restart continues seq and the hash chain.
"""

import base64
import collections
import errno
import hashlib
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest
from contextlib import closing

from cryptography.hazmat.primitives.asymmetric import ec

import harness
from harness import BANK, CITIZENS, SOCIAL, TAX, UUID7_RE

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "signing"))
import make_vectors as mv  # noqa: E402

CLI_TIMEOUT_S = 60
RECOVERY_TIMEOUT_S = 15
PERSON = f"IIN:{CITIZENS[0]}"
OTHER_PERSON = f"IIN:{CITIZENS[1]}"
COMPANY = "BIN:240140000041"
# Bytes of the population provider's answer about CITIZENS[0] (tools/demo_provider/dataset.cc):
# his ID card number and his patronymic. Neither may ever reach the journal (§6: never the
# payload).
PAYLOAD_MARKERS = ("047512389".encode(), "Болатұлы".encode())

# Crash test: rounds of load + kill -9 + restart.
CRASH_ROUNDS = 30
CRASH_CLIENTS = 6
CRASH_SUBJECTS = tuple(f"IIN:{c}" for c in CITIZENS)

# `qaqpa journal verify` OK line: "..., 12 event(s) seq 1..12, ..." (or "0 event(s)").
VERIFY_EVENTS_RE = r"(\d+) event\(s\)(?: seq (\d+)\.\.(\d+))?"


# ---------------------------------------------------------------------------------------------
# The operator's tools and small helpers


def run_cli(*args):
    return subprocess.run([harness.gateway_bin(), "journal", *args], capture_output=True,
                          text=True, timeout=CLI_TIMEOUT_S)


def journal_dir(dep):
    return os.path.join(dep.tmp, "data", "journal")


def ports_file(dep):
    return os.path.join(dep.tmp, "gateway-ports.json")  # the name harness.start_gateway uses


def save_jwks(dep):
    """GET /v1/keys from the running gateway into <tmp>/jwks.json (what an operator keeps)."""
    r = harness.request(dep.port("admin"), "GET", "/v1/keys")
    if r.status != 200:
        raise AssertionError(f"GET /v1/keys: {r!r}")
    path = os.path.join(dep.tmp, "jwks.json")
    with open(path, "wb") as f:
        f.write(r.body)
    return path


def public_key(jwks_path, kid):
    with open(jwks_path, encoding="utf-8") as f:
        keys = {k["kid"]: k for k in json.load(f)["keys"]}
    jwk = keys[kid]
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256", jwk

    def num(text):
        return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

    return ec.EllipticCurvePublicNumbers(num(jwk["x"]), num(jwk["y"]),
                                         ec.SECP256R1()).public_key()


def readyz(dep):
    r = harness.request(dep.port("admin"), "GET", "/readyz", timeout=5)
    return r.status, r.json()


def restart_gateway(dep, tag):
    """Starts the gateway again on the same config and data dir once the old process is gone.
    The old log is kept as gateway-<tag>.log; the old ports file is removed so the harness waits
    for the new process's ports."""
    dep.gateway.stop()  # reaps it if needed and closes its log
    log = os.path.join(dep.tmp, "gateway.log")
    if os.path.exists(log):
        os.replace(log, os.path.join(dep.tmp, f"gateway-{tag}.log"))
    try:
        os.remove(ports_file(dep))
    except FileNotFoundError:
        pass
    dep.start_gateway()


def journal_bytes(path):
    """Every file under path, concatenated (MANIFEST, segments, anything else)."""
    chunks = []
    for root, _, names in os.walk(path):
        for n in sorted(names):
            with open(os.path.join(root, n), "rb") as f:
                chunks.append(f.read())
    return b"".join(chunks)


# A minimal protobuf wire reader: enough to find the OPEN segment in MANIFEST (journal.proto,
# Manifest.segments = 3, Segment.file_name = 1, Segment.state = 7, OPEN = 1).
def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise AssertionError(f"MANIFEST: wire type {wire}")
        yield number, value


def open_segment(jdir):
    """The path of the segment MANIFEST lists as OPEN (MANIFEST is one frame: u32le length,
    u32le crc32c, payload)."""
    with open(os.path.join(jdir, "MANIFEST"), "rb") as f:
        data = f.read()
    length = int.from_bytes(data[:4], "little")
    for number, segment in _fields(data[8:8 + length]):
        if number == 3:
            fields = dict(_fields(segment))
            if fields.get(7) == 1:
                return os.path.join(jdir, fields[1].decode())
    raise AssertionError(f"MANIFEST of {jdir} lists no OPEN segment")


def torn_frame(rng):
    """What a write cut short leaves at the end of a segment: a partial frame header, or a whole
    header announcing more payload than follows (format.h: u32le length | u32le crc | payload)."""
    if rng.random() < 0.3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    length = rng.randrange(64, 4096)
    head = length.to_bytes(4, "little") + rng.randrange(1 << 32).to_bytes(4, "little")
    return head + bytes(rng.randrange(256) for _ in range(rng.randrange(0, length)))


class JournalCase(unittest.TestCase):
    """Assertions over the journal files, through the operator's CLI."""

    def verify(self, dep, jdir=None, jwks=None):
        """`qaqpa journal verify` must exit 0 with seq 1..N; returns (N, warnings)."""
        jdir = jdir or journal_dir(dep)
        jwks = jwks or os.path.join(dep.tmp, "jwks.json")
        p = run_cli("verify", jdir, "--jwks", jwks)
        self.assertEqual(p.returncode, 0, f"verify failed:\n{p.stdout}\n{p.stderr}")
        self.assertIn(": OK", p.stdout, p.stdout)
        self.assertIn("signatures verified", p.stdout, p.stdout)
        m = re.search(VERIFY_EVENTS_RE, p.stdout)
        self.assertIsNotNone(m, p.stdout)
        count = int(m.group(1))
        if count:
            self.assertEqual(int(m.group(2)), 1, p.stdout)
            self.assertEqual(int(m.group(3)), count, p.stdout)
        warnings = [line for line in p.stderr.splitlines() if line.startswith("warning:")]
        return count, warnings

    def export(self, dep, subject, jdir=None, reason="Court order 2-117/2026 (integration test)"):
        """`qaqpa journal export --subject` must exit 0; returns the events (dicts) in order. The
        last one is the OPERATOR_ACCESS event of this very export."""
        jdir = jdir or journal_dir(dep)
        p = run_cli("export", jdir, "--subject", subject, "--reason", reason, "--operator",
                    "it-operator", "--signing-key", f"{dep.signing_kid}={dep.signing_key}")
        self.assertEqual(p.returncode, 0, f"export failed:\n{p.stdout}\n{p.stderr}")
        events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        self.assertTrue(events, p.stderr)
        for e in events:
            self.assertEqual(e.get("subject"), subject, e)
        seqs = [e["seq"] for e in events]
        self.assertEqual(seqs, sorted(set(seqs)), "export is in seq order, no repeats")
        access = events[-1]
        self.assertEqual(access["kind"], "OPERATOR_ACCESS", access)
        self.assertEqual(access["operatorReason"], reason, access)
        self.assertEqual(access["client"]["id"], "operator:it-operator", access)
        self.assertRegex(access["eventId"], UUID7_RE)
        return events

    def assertEventId(self, reply):
        event_id = reply.header("Qaqpa-Event-Id")
        self.assertIsNotNone(event_id, f"no Qaqpa-Event-Id: {reply!r}")
        self.assertRegex(event_id, UUID7_RE, reply)
        return event_id

    def assertSigned(self, reply, request, jwks, kid):
        """The response verifies with the JWKS key, independently of the gateway's code
        (tests/signing/make_vectors.py)."""
        try:
            mv.check_gateway_response(reply.status, reply.header_list, reply.body, request,
                                      public_key(jwks, kid), kid, "ecdsa-p256-sha256")
        except AssertionError as e:
            self.fail(f"response signature: {e}\n{reply!r}")

    def assertJournalProblem(self, reply):
        """Fail-closed answer: 503 PROVIDER_UNAVAILABLE, reason JOURNAL_UNAVAILABLE, no event."""
        self.assertEqual(reply.status, 503, reply)
        ctype = (reply.header("Content-Type") or "").split(";")[0].strip()
        self.assertEqual(ctype, "application/problem+json", reply)
        body = reply.json()
        self.assertEqual(body["code"], "PROVIDER_UNAVAILABLE", reply)
        self.assertEqual(body["reason"], "JOURNAL_UNAVAILABLE", reply)
        self.assertEqual(body["status"], 503, reply)
        self.assertEqual(body["messageId"], reply.header("Qaqpa-Message-Id"), reply)
        self.assertIsNone(reply.header("Qaqpa-Event-Id"),
                          f"an event id for an event that was not journaled: {reply!r}")
        return body


def deployment_guard(test, dep):
    """Marks the deployment failed (logs dumped, tmp kept) when the test fails."""
    outcome = {"ok": False}

    def cleanup():
        if not outcome["ok"]:
            dep.failed = True
        dep.stop()

    test.addCleanup(cleanup)
    return outcome


# ---------------------------------------------------------------------------------------------
# 1. End to end


class EndToEndTest(JournalCase):
    def test_every_call_is_one_event_and_the_export_holds_exactly_the_subjects_events(self):
        def prepare(dep):
            slow = dep.add_provider("legal-entity", delay_ms=3000)
            dep.bundle.set_service("legalEntity.byBin", upstream_port=slow.port,
                                   timeout="500ms")
            dep.bundle.set_service("tax.debtStatus", upstream_port=dep.closed_port())

        dep = harness.build_deployment(
            "journal-e2e",
            {"workers": 1, "demo_trust_client_header": True,
             "listeners": {"international": None, "space": None}},
            prepare=prepare)
        guard = deployment_guard(self, dep)
        jwks = save_jwks(dep)
        echo_payload = json.dumps({"note": "journal-e2e-request-payload-7f3a"}).encode()

        # (reply, request tuple, expected export fields); subject None = not in any export.
        calls = []

        def call(expect, service, client, subject, purpose, listener="state", **kw):
            r = dep.call(service, client, subject, purpose, listener=listener, **kw)
            self.assertEqual(r.status, expect["httpStatus"], r)
            headers = {"Qaqpa-Client": client}
            target = f"/v1/services/{service}" + (f"/{kw['path']}" if kw.get("path") else "")
            calls.append((r, (kw.get("method", "GET"), target, list(headers.items())),
                          dict(expect, subject=subject, zone=listener.upper(), client=client,
                               service=service)))
            return r

        ok = call({"kind": "DATA_ACCESS", "status": "OK", "httpStatus": 200},
                  "person.byIin", TAX, PERSON, "TAX_ADMINISTRATION")
        for marker in PAYLOAD_MARKERS:  # the markers are real: the search below can fail
            self.assertIn(marker, ok.body)
        echo = call({"kind": "DATA_ACCESS", "status": "OK", "httpStatus": 200},
                    "person.byIin", TAX, PERSON, "TAX_ADMINISTRATION", method="POST",
                    path="echo", body=echo_payload, headers={"Content-Type": "application/json"})
        self.assertEqual(echo.body, echo_payload)
        call({"kind": "ACCESS_DENIED", "status": "ACCESS_DENIED", "httpStatus": 403},
             "person.byIin", TAX, PERSON, "SOCIAL_BENEFITS")
        call({"kind": "ACCESS_DENIED", "status": "SERVICE_NOT_FOUND", "httpStatus": 404},
             "no.suchService", TAX, PERSON, "TAX_ADMINISTRATION")
        call({"kind": "DELIVERY_FAILED", "status": "PROVIDER_ERROR", "httpStatus": 502},
             "person.byIin", TAX, PERSON, "TAX_ADMINISTRATION", path="_demo/status/500")
        call({"kind": "DELIVERY_FAILED", "status": "PROVIDER_UNAVAILABLE", "httpStatus": 503,
              "reason": "PROVIDER_UNREACHABLE"},
             "tax.debtStatus", SOCIAL, PERSON, "SOCIAL_BENEFITS")
        call({"kind": "ACCESS_DENIED", "status": "CONSENT_REQUIRED", "httpStatus": 403,
              "reason": "CONSENT_MISSING"},
             "person.byIin", BANK, PERSON, "CREDIT_SCORING", listener="external")
        call({"kind": "DATA_ACCESS", "status": "OK", "httpStatus": 200},
             "person.byIin", TAX, OTHER_PERSON, "TAX_ADMINISTRATION")
        call({"kind": "DELIVERY_FAILED", "status": "PROVIDER_TIMEOUT", "httpStatus": 504},
             "legalEntity.byBin", BANK, COMPANY, "KYC", listener="external")
        # No subject at all: journaled, but in nobody's export.
        r = harness.request(dep.port("state"), "GET", "/no/such/route", {"Qaqpa-Client": TAX})
        self.assertEqual(r.status, 404, r)
        calls.append((r, ("GET", "/no/such/route", [("Qaqpa-Client", TAX)]),
                      {"kind": "ACCESS_DENIED", "status": "SERVICE_NOT_FOUND", "httpStatus": 404,
                       "subject": None}))

        event_ids = []
        for reply, request, _ in calls:
            event_ids.append(self.assertEventId(reply))
            self.assertSigned(reply, request, jwks, dep.signing_kid)
        self.assertEqual(len(set(event_ids)), len(event_ids), "event ids are unique")
        status, ready = readyz(dep)
        self.assertEqual(status, 200, ready)
        self.assertEqual(ready["checks"]["journal"], "writable", ready)
        self.assertEqual(ready["checks"]["journalSeq"], len(calls), ready)

        self.assertEqual(dep.gateway.stop(), 0, "the gateway exits 0 on SIGTERM")
        count, warnings = self.verify(dep)
        self.assertEqual(count, len(calls), "one event per call, nothing else")
        self.assertEqual(warnings, [], "a cleanly stopped journal has no uncovered events")

        # Never the payload: neither the provider's answer nor the client's body.
        stored = journal_bytes(journal_dir(dep))
        for marker in PAYLOAD_MARKERS + (echo_payload, b"journal-e2e-request-payload-7f3a"):
            self.assertNotIn(marker, stored, "a payload byte reached the journal")

        def expected_for(subject):
            return [(reply, exp) for reply, _, exp in calls if exp["subject"] == subject]

        seen_seqs = set()
        total = count
        for subject in (PERSON, OTHER_PERSON, COMPANY):
            events = self.export(dep, subject)
            total += 1
            expected = expected_for(subject)
            self.assertEqual(len(events), len(expected) + 1,
                             f"{subject}: exactly its events and the export's own\n{events}")
            for (reply, exp), event in zip(expected, events):
                self.assertEqual(event["eventId"], reply.header("Qaqpa-Event-Id"), event)
                self.assertEqual(event["messageId"], reply.header("Qaqpa-Message-Id"), event)
                for key in ("kind", "status", "httpStatus", "zone"):
                    self.assertEqual(event[key], exp[key], (key, event))
                self.assertEqual(event["client"]["id"], exp["client"], event)
                self.assertEqual(event["service"]["id"], exp["service"], event)
                if "reason" in exp:
                    self.assertEqual(event["reason"], exp["reason"], event)
                self.assertEqual(event["nodeId"], events[-1]["nodeId"])
                seen_seqs.add(event["seq"])
            access = events[-1]
            self.assertEqual(access["seq"], total, "the export's event is appended at the end")
            # The export's own event is durable: verify sees exactly one more.
            after, warnings = self.verify(dep)
            self.assertEqual(after, total)
            self.assertEqual(warnings, [])
        # The echo call's requestDigest is the digest of the body, not the body.
        echo_event = next(e for e in self.export(dep, PERSON)
                          if e["eventId"] == echo.header("Qaqpa-Event-Id"))
        digest = base64.b64encode(hashlib.sha256(echo_payload).digest()).decode()
        self.assertEqual(echo_event["requestDigest"], f"sha-256=:{digest}:", echo_event)
        # Every call but the subject-less one was in some export.
        self.assertEqual(seen_seqs, set(range(1, len(calls) + 1)) - {len(calls)})
        self.assertNotIn(b"journal-e2e-request-payload-7f3a", journal_bytes(journal_dir(dep)))
        guard["ok"] = True


# ---------------------------------------------------------------------------------------------
# 2. Crash


class CrashTest(JournalCase):
    def test_kill_9_under_load_never_loses_an_answered_event(self):
        dep = harness.build_deployment(
            "journal-crash",
            {"workers": 2, "demo_trust_client_header": True,
             "listeners": {"international": None, "space": None},
             # Small segments: rotations happen between the kills too.
             "journal": {"fsync": "always", "segment_max_bytes": 1048576}})
        guard = deployment_guard(self, dep)
        save_jwks(dep)
        rng = random.Random()
        seed = rng.randrange(1 << 30)
        rng.seed(seed)
        sys.stderr.write(f"\n[crash] seed {seed}\n")

        lock = threading.Lock()
        answered = {}  # event id -> (message id, subject, generation)
        per_gen = collections.Counter()  # generation -> 2xx answers
        statuses = collections.Counter()
        problems = []
        live = {"port": dep.port("state"), "gen": 0}
        up = threading.Event()
        up.set()
        stop = threading.Event()
        progress = threading.Condition(lock)

        def record(r, subject, gen):
            with lock:
                progress.notify_all()
                statuses[r.status] += 1
                if r.status != 200:
                    problems.append(f"unexpected answer under load: {r!r}")
                    return
                eid = r.header("Qaqpa-Event-Id")
                if not eid or not UUID7_RE.match(eid) or eid in answered:
                    problems.append(f"missing, malformed or repeated event id: {r!r}")
                answered[eid] = (r.header("Qaqpa-Message-Id"), subject, gen)
                per_gen[gen] += 1

        def one_connection(crng):
            with lock:
                port, gen = live["port"], live["gen"]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                while not stop.is_set():
                    with lock:
                        if live["gen"] != gen:
                            return
                    subject = crng.choice(CRASH_SUBJECTS)
                    if crng.random() < 0.7:
                        service, client, purpose = "person.byIin", TAX, "TAX_ADMINISTRATION"
                    else:
                        service, client, purpose = "tax.debtStatus", SOCIAL, "SOCIAL_BENEFITS"
                    r = harness.request(port, "GET", f"/v1/services/{service}",
                                        {"Qaqpa-Client": client, "Qaqpa-Subject": subject,
                                         "Qaqpa-Purpose": purpose}, conn=conn)
                    record(r, subject, gen)
            except (OSError, http.client.HTTPException):
                pass  # the gateway was killed under this connection: reconnect
            finally:
                conn.close()

        def client(index):
            crng = random.Random(seed + index)
            try:
                while not stop.is_set():
                    if up.wait(0.5):
                        one_connection(crng)
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                with lock:
                    problems.append(f"client {index}: {e!r}")
                    progress.notify_all()

        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(CRASH_CLIENTS)]
        for t in threads:
            t.start()
        started = time.monotonic()
        injected = 0
        try:
            for rnd in range(CRASH_ROUNDS):
                # Mostly: load is flowing on this process before the kill moment is chosen, a
                # few ms to a few hundred ms later (log-uniform). Sometimes: killed as soon as it
                # is ready, just after recovery (and its checkpoint) — clients still connecting.
                if rnd % 5 != 4:
                    with lock:
                        gen = live["gen"]
                        ok = progress.wait_for(lambda: per_gen[gen] > 0 or problems, 15)
                    self.assertTrue(ok, f"round {rnd}: no answered call within 15 s")
                    delay = 10 ** rng.uniform(-2.5, -0.5)
                    time.sleep(delay)  # the random kill moment is the point of the test
                self.assertEqual(problems, [])
                up.clear()
                dep.gateway.signal(signal.SIGKILL)
                self.assertIsNotNone(dep.gateway.wait(10), "killed gateway did not exit")
                # In some rounds the kill also cut a write short: a torn frame at the end of the
                # open segment (a batch never completed, so no client saw its answer).
                torn = b""
                if rng.random() < 0.3:
                    torn = torn_frame(rng)
                    with open(open_segment(journal_dir(dep)), "ab") as f:
                        f.write(torn)
                    injected += 1
                restart_gateway(dep, f"round{rnd}")  # refusing to start fails the test here
                if torn:
                    with open(os.path.join(dep.tmp, "gateway.log"), "rb") as f:
                        m = re.search(rb"TORN TAIL.*bytes=(\d+)", f.read())
                    self.assertIsNotNone(m, f"round {rnd}: torn tail of {len(torn)} bytes not "
                                            "reported at start")
                    self.assertGreaterEqual(int(m.group(1)), len(torn))
                with lock:
                    live["port"] = dep.port("state")
                    live["gen"] += 1
                up.set()
        finally:
            stop.set()
            up.set()
            for t in threads:
                t.join(timeout=20)
        load_s = time.monotonic() - started
        self.assertEqual(problems, [])
        self.assertFalse(any(t.is_alive() for t in threads), "a client thread hangs")
        self.assertEqual(dep.gateway.stop(), 0)

        segments = sum(n.startswith("seg-") for n in os.listdir(journal_dir(dep)))
        torn = 0
        for name in os.listdir(dep.tmp):
            if name.startswith("gateway") and name.endswith(".log"):
                with open(os.path.join(dep.tmp, name), "rb") as f:
                    torn += f.read().count(b"TORN TAIL")
        sys.stderr.write(f"[crash] {CRASH_ROUNDS} kills in {load_s:.1f} s, {len(answered)} 2xx "
                         f"answers, statuses {dict(statuses)}, {torn} torn-tail truncations "
                         f"({injected} torn frames injected), {segments} segments\n")
        self.assertGreater(len(answered), CRASH_ROUNDS)
        self.assertGreaterEqual(torn, injected)

        count, warnings = self.verify(dep)
        self.assertEqual(warnings, [], "the last start checkpointed everything it recovered")
        journaled = {}
        for subject in CRASH_SUBJECTS:
            for e in self.export(dep, subject):
                self.assertNotIn(e["eventId"], journaled, f"event journaled twice: {e}")
                journaled[e["eventId"]] = e
        total = count + len(CRASH_SUBJECTS)
        seqs = sorted(e["seq"] for e in journaled.values())
        self.assertEqual(seqs, list(range(1, total + 1)), "seq is gap-free across the restarts")
        missing = [eid for eid in answered if eid not in journaled]
        self.assertEqual(missing, [], f"{len(missing)} answered calls have no event (seed {seed})")
        for eid, (mid, subject, _) in answered.items():
            e = journaled[eid]
            self.assertEqual((e["messageId"], e["subject"], e["kind"], e["httpStatus"]),
                             (mid, subject, "DATA_ACCESS", 200), e)
        self.assertEqual(self.verify(dep)[0], total)
        guard["ok"] = True


# ---------------------------------------------------------------------------------------------
# 3. Disk full


def try_mount_tmpfs(path, size="4m"):
    """Mounts a tmpfs at path; returns None on success, else why not."""
    if os.environ.get("QAQPA_JOURNAL_TEST_NO_MOUNT") == "1":
        return "QAQPA_JOURNAL_TEST_NO_MOUNT=1"
    try:
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if p.returncode == 0 else (p.stderr.strip() or f"mount exited {p.returncode}")


def umount(path):
    subprocess.run(["umount", path], capture_output=True, timeout=30)


def fill(path):
    """Writes path until the filesystem says ENOSPC; returns the bytes written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written = 0
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1):
            chunk = b"\0" * size
            while True:
                try:
                    n = os.write(fd, chunk)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
                if n == 0:
                    break
                written += n
        os.fsync(fd)
    finally:
        os.close(fd)
    return written


class DiskFullTest(JournalCase):
    def test_full_disk_fails_closed_and_recovers_by_itself(self):
        state = {"mode": None, "mount": None, "tmp": None, "dep": None, "ok": False}

        def prepare(dep):
            state["tmp"] = dep.tmp
            fs_dir = os.path.join(dep.tmp, "jfs")
            os.makedirs(fs_dir)
            why = try_mount_tmpfs(fs_dir)
            if why is None:
                state["mode"], state["mount"] = "tmpfs", fs_dir
                dep.gateway_overrides["journal"]["dir"] = os.path.join(fs_dir, "journal")
            else:
                state["mode"], state["why"] = "rlimit", why
                os.rmdir(fs_dir)

        def cleanup():
            # The gateway lets go of the mount before it is unmounted, and the deployment's temp
            # dir is removed only after that (its rmtree cannot remove a mount point).
            dep = state["dep"]
            if dep is not None and dep.gateway is not None:
                dep.gateway.stop()
            if state["mount"]:
                umount(state["mount"])
            if dep is not None:
                dep.failed = dep.failed or not state["ok"]
                dep.stop()
            elif state["tmp"] and state["mount"]:
                shutil.rmtree(state["tmp"], ignore_errors=True)  # build failed after mounting

        self.addCleanup(cleanup)
        dep = harness.build_deployment(
            "journal-diskfull",
            {"workers": 1, "demo_trust_client_header": True,
             "listeners": {"international": None, "space": None},
             "journal": {"fsync": "always", "retry_interval": "100ms"}},
            prepare=prepare)
        state["dep"] = dep
        jdir = (os.path.join(state["mount"], "journal") if state["mode"] == "tmpfs"
                else journal_dir(dep))
        sys.stderr.write(f"\n[diskfull] mode {state['mode']} {state.get('why', '')}\n")
        jwks = save_jwks(dep)
        population = dep.providers["population"]
        answered = []  # (event id, message id) of every 200
        refused = []  # message ids of every 503

        def person():
            return dep.call("person.byIin", TAX, PERSON, "TAX_ADMINISTRATION")

        def request_of():
            return ("GET", "/v1/services/person.byIin", [("Qaqpa-Client", TAX)])

        r = person()
        self.assertEqual(r.status, 200, r)
        answered.append((self.assertEventId(r), r.header("Qaqpa-Message-Id")))

        # The disk fills up.
        if state["mode"] == "tmpfs":
            filler = os.path.join(state["mount"], "filler")
            self.assertGreater(fill(filler), 0)
        else:
            try:
                resource.prlimit(dep.gateway.pid, resource.RLIMIT_FSIZE,
                                 (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
            except (OSError, ValueError) as e:
                state["ok"] = True  # nothing failed: the test cannot run here
                self.skipTest(f"no tmpfs ({state['why']}) and no RLIMIT_FSIZE ({e})")
        # The next batch that needs a new block fails; a batch that still fits the segment's last
        # page may succeed first (and is then durable and answered 200).
        first_503 = None
        for _ in range(20):
            r = person()
            if r.status == 200:
                answered.append((self.assertEventId(r), r.header("Qaqpa-Message-Id")))
                continue
            first_503 = r
            break
        self.assertIsNotNone(first_503, "the journal never noticed the full disk")
        sys.stderr.write(f"[diskfull] {len(answered) - 1} call(s) still fit after the fill\n")
        self.assertTrue(dep.gateway.alive(), "the gateway died on the full disk")
        self.assertJournalProblem(first_503)
        self.assertSigned(first_503, request_of(), jwks, dep.signing_kid)
        refused.append(first_503.header("Qaqpa-Message-Id"))

        status, ready = readyz(dep)
        self.assertEqual(status, 503, ready)
        self.assertEqual(ready["checks"]["journal"], "failing", ready)
        self.assertFalse(ready["ready"], ready)

        # While the journal is known to be failing, nothing reaches the provider.
        with closing(population.connection()) as conn:
            before = population.stats(conn)["requests"]
            for _ in range(5):
                r = person()
                self.assertJournalProblem(r)
                self.assertSigned(r, request_of(), jwks, dep.signing_kid)
                refused.append(r.header("Qaqpa-Message-Id"))
            after = population.stats(conn)["requests"]
        self.assertEqual(after - before, 1, "only the second stats call reached the provider")
        status, ready = readyz(dep)
        self.assertEqual((status, ready["checks"]["journal"]), (503, "failing"), ready)

        # Space comes back: the gateway recovers by itself.
        if state["mode"] == "tmpfs":
            os.remove(filler)
        else:
            resource.prlimit(dep.gateway.pid, resource.RLIMIT_FSIZE,
                             resource.getrlimit(resource.RLIMIT_FSIZE))
        harness._wait_for(lambda: readyz(dep)[0] == 200, RECOVERY_TIMEOUT_S,
                          "/readyz 200 after the disk has space again", dep.gateway.proc,
                          dep.describe)
        status, ready = readyz(dep)
        self.assertEqual(ready["checks"]["journal"], "writable", ready)
        for _ in range(3):
            r = person()
            self.assertEqual(r.status, 200, r)
            answered.append((self.assertEventId(r), r.header("Qaqpa-Message-Id")))
        self.assertEqual(readyz(dep)[1]["checks"]["journalSeq"], len(answered))

        self.assertEqual(dep.gateway.stop(), 0)
        count, warnings = self.verify(dep, jdir, jwks)
        self.assertEqual(warnings, [])
        self.assertEqual(count, len(answered), "exactly the answered calls are journaled")
        events = self.export(dep, PERSON, jdir)
        self.assertEqual([e["seq"] for e in events], list(range(1, count + 2)), "gap-free")
        self.assertEqual([(e["eventId"], e["messageId"]) for e in events[:-1]], answered)
        journaled_messages = {e.get("messageId") for e in events}
        for mid in refused:
            self.assertNotIn(mid, journaled_messages, "a refused call has an event")
        self.verify(dep, jdir, jwks)
        state["ok"] = True


# ---------------------------------------------------------------------------------------------
# 4. Clean restart


class RestartTest(JournalCase):
    def test_seq_and_chain_continue_after_sigterm_and_restart(self):
        dep = harness.build_deployment(
            "journal-restart",
            {"workers": 1, "demo_trust_client_header": True,
             "listeners": {"international": None, "space": None}})
        guard = deployment_guard(self, dep)
        save_jwks(dep)
        before = []
        for _ in range(3):
            r = dep.call("person.byIin", TAX, PERSON, "TAX_ADMINISTRATION")
            self.assertEqual(r.status, 200, r)
            before.append(self.assertEventId(r))
        # The offline export refuses while the gateway holds the journal (LOCK): exit 2, and
        # it journals nothing.
        p = run_cli("export", journal_dir(dep), "--subject", PERSON, "--reason", "while running",
                    "--operator", "it-operator", "--signing-key",
                    f"{dep.signing_kid}={dep.signing_key}")
        self.assertEqual(p.returncode, 2, f"{p.stdout}\n{p.stderr}")
        self.assertIn("/admin/journal/export", p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(dep.gateway.stop(), 0)
        self.assertEqual(self.verify(dep)[0], 3)

        restart_gateway(dep, "first")
        status, ready = readyz(dep)
        self.assertEqual((status, ready["checks"]["journalSeq"]), (200, 3), ready)
        after = []
        for _ in range(2):
            r = dep.call("person.byIin", TAX, PERSON, "TAX_ADMINISTRATION")
            self.assertEqual(r.status, 200, r)
            after.append(self.assertEventId(r))
        self.assertEqual(dep.gateway.stop(), 0)

        count, warnings = self.verify(dep)
        self.assertEqual((count, warnings), (5, []))
        events = self.export(dep, PERSON)
        self.assertEqual([e["eventId"] for e in events[:-1]], before + after)
        self.assertEqual([e["seq"] for e in events], [1, 2, 3, 4, 5, 6])
        for prev, cur in zip(events, events[1:]):
            self.assertEqual(cur["prevHash"], prev["hash"], "the chain continues")
        guard["ok"] = True


class OperatorExportTest(JournalCase):
    def test_admin_export_is_journaled_first_and_the_config_drives_the_offline_tools(self):
        dep = harness.build_deployment(
            "journal-operator",
            {"workers": 1, "demo_trust_client_header": True,
             "listeners": {"international": None, "space": None}})
        guard = deployment_guard(self, dep)
        save_jwks(dep)
        ids = []
        for _ in range(2):
            r = dep.call("person.byIin", TAX, PERSON, "TAX_ADMINISTRATION")
            self.assertEqual(r.status, 200, r)
            ids.append(self.assertEventId(r))

        def admin_export(body):
            return harness.request(dep.port("admin"), "POST", "/admin/journal/export",
                                   {"Content-Type": "application/json"},
                                   json.dumps(body).encode())

        # Every field is required: no reason, no export (and nothing journaled).
        for bad, field in (({"subject": PERSON, "operator": "aigerim"}, "reason"),
                           ({"subject": "IIN:123", "reason": "court order", "operator": "a"},
                            "subject"),
                           ({"subject": PERSON, "reason": "court order"}, "operator")):
            r = admin_export(bad)
            self.assertEqual(r.status, 400, r)
            self.assertIn(field, r.body.decode(), r)
        r = admin_export({"subject": PERSON, "reason": "court order 7/2026", "operator": "aigerim"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("application/x-ndjson"), r)
        self.assertEqual(r.header("Qaqpa-Export-Complete"), "true", r)
        access_id = self.assertEventId(r)
        lines = [json.loads(line) for line in r.body.decode().splitlines() if line.strip()]
        self.assertEqual([e["eventId"] for e in lines], ids + [access_id],
                         "the subject's calls, then the export's own OPERATOR_ACCESS event")
        self.assertEqual(lines[-1]["kind"], "OPERATOR_ACCESS")
        self.assertEqual(lines[-1]["operatorReason"], "court order 7/2026")
        self.assertEqual(lines[-1]["client"]["id"], "operator:aigerim")
        self.assertEqual(dep.gateway.stop(), 0)

        # Offline, the gateway file is all an operator needs: journal dir, public keys, and the
        # active key that signs the export's own event.
        p = run_cli("verify", "--config", dep.config_path)
        self.assertEqual(p.returncode, 0, f"{p.stdout}\n{p.stderr}")
        self.assertIn("3 event(s) seq 1..3", p.stdout)
        self.assertIn("signatures verified", p.stdout)
        p = run_cli("export", "--config", dep.config_path, "--subject", PERSON, "--reason",
                    "citizen request 118", "--operator", "dana")
        self.assertEqual(p.returncode, 0, f"{p.stdout}\n{p.stderr}")
        events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        self.assertEqual([e["seq"] for e in events], [1, 2, 3, 4])
        self.assertEqual(events[-1]["client"]["id"], "operator:dana")
        self.assertEqual(self.verify(dep)[0], 4)
        guard["ok"] = True


if __name__ == "__main__":
    unittest.main()
