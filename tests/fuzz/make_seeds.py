#!/usr/bin/env python3
"""Writes the hand-made seed inputs of tests/fuzz/corpus/<target>/seed_*.

Request seeds for request_signature and envelope_headers are taken from
tests/signing/data/vectors.json (validly signed requests and every failure class), in the
fuzz_request.h format. Journal seeds (journal_frames, journal_verify) are whole journals encoded
here byte by byte from journal.proto and format.h (deterministic protobuf encoding, CRC-32C
frames, the SHA-256 chain) with checkpoints signed by the test-only keys of tests/signing/data
(deterministic Ed25519 and RFC 6979 ECDSA, so the seeds are reproducible); needs Python's
cryptography package. Existing seed_* files are replaced; minimised corpus files are kept.
Usage: python3 tests/fuzz/make_seeds.py
"""
import base64
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
VECTORS = os.path.join(HERE, "..", "signing", "data", "vectors.json")
KEYS = os.path.join(HERE, "..", "signing", "data")


def request_bytes(c):
    lines = [f"{c['method']} {c['target']}"] + [f"{n}: {v}" for n, v in c["headers"]]
    return ("\n".join(lines) + "\n\n" + c["body"]).encode()


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed_"):
            os.remove(os.path.join(d, f))
    for i, s in enumerate(seeds):
        with open(os.path.join(d, f"seed_{i:03d}"), "wb") as f:
            f.write(s if isinstance(s, bytes) else s.encode())


# --- Journal (schemas/qaqpa/journal/v1/journal.proto, gateway/journal/format.h) -----------------

def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC_TABLE = _crc32c_table()


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _CRC_TABLE[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(v):
    v &= (1 << 64) - 1  # negative int64/int32 values: two's complement, 10 bytes
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def pb(*fields):
    """Deterministic proto3 encoding of (number, value) pairs given in field order; ints are
    varints, str/bytes length-delimited, lists repeated; defaults (0, "", b"", None) omitted."""
    out = bytearray()
    for num, val in fields:
        vals = val if isinstance(val, list) else [val]
        for v in vals:
            if v is None or v == 0 or v == "" or v == b"":
                continue
            if isinstance(v, int):
                out += varint(num << 3) + varint(v)
            else:
                b = v.encode() if isinstance(v, str) else v
                out += varint(num << 3 | 2) + varint(len(b)) + b
    return bytes(out)


def ts(seconds, nanos=0):
    return pb((1, seconds), (2, nanos)) or None


def frame(payload):
    return struct.pack("<II", len(payload), crc32c(payload)) + payload


MAGIC = b"QAQPAJ1\n"
ZERO = bytes(32)


def _load_keys():
    from cryptography.hazmat.primitives import serialization
    with open(os.path.join(KEYS, "test_ed25519_private.pem"), "rb") as f:
        ed = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(KEYS, "test_p256_private.pem"), "rb") as f:
        p256 = serialization.load_pem_private_key(f.read(), None)
    return ed, p256


def sign(kid, message):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils
    ed, p256 = _load_keys()
    if kid == "test-ed25519":
        return "ed25519", ed.sign(message)
    der = p256.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = utils.decode_dss_signature(der)
    return "ecdsa-p256-sha256", r.to_bytes(32, "big") + s.to_bytes(32, "big")


SUBJECT = "IIN:900101300017"  # the subject journal_verify exports


def localized(kk, ru, en):
    return pb((1, kk), (2, ru), (3, en)) or None


class Journal:
    """A journal built byte by byte, like tests/audit/journal_builder.h."""

    def __init__(self, node="node-a"):
        self.node = node
        self.segments = []  # dicts: entry fields + bytes
        self.seq = 0
        self.head = ZERO
        self.pending_first = 0

    def start_segment(self, state_of_previous=2):
        if self.segments:
            last = self.segments[-1]
            last["state"] = state_of_previous
            last["last_seq"] = self.seq
            last["last_hash"] = self.head
        index = len(self.segments) + 1
        seg = {"index": index, "first_seq": self.seq + 1, "prev_hash": self.head, "state": 1,
               "last_seq": 0, "last_hash": b"", "archive_path": "",
               "name": "seg-%08d-%020d.qj" % (index, self.seq + 1)}
        start = pb((1, self.node), (2, index), (3, self.seq + 1), (4, self.head),
                   (5, ts(1795000000 + index)))
        seg["bytes"] = MAGIC + frame(pb((3, start)))
        self.segments.append(seg)

    def event(self, subject=SUBJECT, rich=False, kind=1, zone=1):
        seq = self.seq + 1
        fields = [(1, "0193a0b0-0000-7000-8000-%012d" % seq), (2, self.node),
                  (3, ts(1795000000 + seq, 250000000 if rich else 0)), (4, zone), (5, kind),
                  (6, pb((1, "KZ/GOV/240140000021/tax-service"),
                         (2, localized("Салық", "Налоговая", "Tax") if rich else None))),
                  (7, pb((1, "KZ/GOV/240140000011/population-register"),
                         (2, localized("Тізілім", "Регистр", "Register"))) if rich else None),
                  (8, pb((1, "population.person"), (2, localized("", "", "Person") if rich
                                                     else None))),
                  (9, subject), (10, "IIN:900101300124" if rich else ""),
                  (11, pb((1, "TAX_AUDIT"), (2, localized("a", "б", "c"))) if rich else None),
                  (12, "0190a6f4-3c2b-7d1e-8f00-112233445566" if rich else ""),
                  (13, "0190a6f4-3c2b-7d1e-8f00-112233445567" if rich else ""),
                  (14, "corr-1" if rich else ""), (15, "OK"), (16, 200), (17, 1000 + seq),
                  (18, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:" if rich else ""),
                  (19, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:" if rich else ""),
                  (20, ["personal", "address"] if rich else []), (21, "EE" if rich else ""),
                  (22, "ok" if rich else ""), (23, "court order 1" if rich else ""),
                  (24, "query" if rich else ""), (29, seq), (30, self.head)]
        without_hash = pb(*fields)
        h = hashlib.sha256(self.head + without_hash).digest()
        self._put(pb((1, without_hash + pb((31, h)))))
        self.seq = seq
        self.head = h
        if self.pending_first == 0:
            self.pending_first = seq

    def checkpoint(self, kid="test-ed25519"):
        unsigned = [(1, self.node), (2, self.pending_first), (3, self.seq), (4, self.head),
                    (5, ts(1795000000 + self.seq)), (6, kid)]
        alg, _ = sign(kid, b"")
        unsigned.append((7, alg))
        _, sig = sign(kid, pb(*unsigned))
        self._put(pb((2, pb(*unsigned, (8, sig)))))
        self.pending_first = 0

    def batch(self, n, subject=SUBJECT, kid="test-ed25519", rich=False):
        for _ in range(n):
            self.event(subject, rich=rich)
        self.checkpoint(kid)

    def _put(self, record):
        self.segments[-1]["bytes"] += frame(record)

    def archive_first(self):
        self.segments[0]["state"] = 3
        self.segments[0]["archive_path"] = "/var/archive/" + self.segments[0]["name"]

    def manifest(self):
        segs = [pb((1, s["name"]), (2, s["index"]), (3, s["first_seq"]), (4, s["last_seq"]),
                   (5, s["prev_hash"]), (6, s["last_hash"]), (7, s["state"]),
                   (8, ts(1795000000 + s["index"]))) for s in self.segments]
        return frame(pb((1, 1), (2, self.node), (3, segs)))

    def verify_input(self, flags=1):
        sep = b"\n=QJ=\n"
        return bytes([flags]) + sep.join([self.manifest()] + [s["bytes"] for s in self.segments])


def journal_seeds():
    """(journal_frames seeds, journal_verify seeds)"""
    j1 = Journal()  # one OPEN segment, two signed batches, one rich event
    j1.start_segment()
    j1.batch(2)
    j1.event(rich=True)
    j1.event(subject="BIN:240140000011", kind=8, zone=5)
    j1.checkpoint()

    j2 = Journal()  # CLOSED + OPEN, both keys, an uncovered tail
    j2.start_segment()
    j2.batch(2, kid="test-p256")
    j2.start_segment()
    j2.batch(1, subject="IIN:900101300124")
    j2.event()

    j3 = Journal()  # ARCHIVED + CLOSED + OPEN (empty)
    j3.start_segment()
    j3.batch(1)
    j3.start_segment()
    j3.batch(2, rich=True)
    j3.start_segment()
    j3.archive_first()

    verify = [j1.verify_input(0), j1.verify_input(1), j1.verify_input(1 | 64),
              j2.verify_input(1), j2.verify_input(1 | 2), j2.verify_input(1 | 32),
              j3.verify_input(1), j3.verify_input(1 | 16), j3.verify_input(1 | 8 | 4)]
    # Damage: a torn tail, a bad magic, an unlisted segment, a missing one.
    torn = j1.verify_input(1)
    verify.append(torn[:-7])
    verify.append(j1.verify_input(0).replace(b"QAQPAJ1\n", b"QAQPAJ2\n"))
    verify.append(j1.verify_input(1) + b"\n=QJ=\n" + MAGIC)
    verify.append(bytes([1]) + j2.manifest() + b"\n=QJ=\n" + j2.segments[0]["bytes"])

    frames = []
    for j in (j1, j2, j3):
        for s in j.segments:
            frames.append(bytes([0]) + s["bytes"])
            frames.append(bytes([1]) + s["bytes"][len(MAGIC):])
    return frames, verify


def jwks_seeds():
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    from cryptography.hazmat.primitives import serialization
    ed, p256 = _load_keys()
    ed_x = b64(ed.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw))
    n = p256.public_key().public_numbers()
    ec_x, ec_y = b64(n.x.to_bytes(32, "big")), b64(n.y.to_bytes(32, "big"))
    okp = {"kty": "OKP", "crv": "Ed25519", "x": ed_x, "kid": "test-ed25519", "alg": "EdDSA",
           "use": "sig"}
    ec = {"kty": "EC", "crv": "P-256", "x": ec_x, "y": ec_y, "kid": "test-p256"}
    d = lambda o: json.dumps(o, ensure_ascii=False)
    return [d({"keys": [okp, ec]}), d({"keys": [okp]}), d({"keys": [ec]}), d({"keys": []}),
            d({"keys": [dict(okp, kid="k1"), dict(ec, kid="k1")]}),
            d({"keys": [dict(okp, x=ed_x + "=")]}), d({"keys": [dict(okp, x=ed_x[:-1])]}),
            d({"keys": [dict(ec, y=ec_x)]}), d({"keys": [dict(ec, crv="P-384")]}),
            d({"keys": [dict(okp, kid="")]}), d({"keys": [{"kty": "RSA", "kid": "r", "n": "AQAB",
                                                         "e": "AQAB"}]}),
            d({"keys": [1]}), d({"keys": {}}), d([]), "{\"keys\":[", ed_x, ""]


def main():
    with open(VECTORS) as f:
        v = json.load(f)
    cases = v["request_cases"]
    # Sizes matter: keep the over-8-KiB and 65-member cases out of the request seeds' majority.
    write("request_signature", [request_bytes(c) for c in cases[:60]] +
          [request_bytes(c) for c in cases[60:] if len(json.dumps(c)) < 6000][:40])
    write("sf_dictionary", [c["input"] for c in v["sf_cases"]] +
          [h[1] for c in cases[:20] for h in c["headers"] if h[0] in ("Signature-Input",
                                                                     "Signature")][:20])
    write("content_digest", [f"{c['header']}\n{c['body']}" for c in v["digest_cases"]])
    write("parse_subject", ["IIN:900101300123", "BIN:240140000011", "IIN:900101300124",
                            "iin:900101300123", "IIN:9001013001", "IIN:90010130012x", "IIN:",
                            "BIN:000000000000", ""])
    write("parse_system_id", ["KZ/GOV/240140000011/population-register",
                              "KZ/GOV/240140000021/tax-service", "EE/INT/ee1/xroad.gw",
                              "KZ/GOV/240140000012/population-register", "KZ/XXX/240140000011/a",
                              "KZ/GOV/240140000011/", "KZ/GOV/240140000011/A", "kz/GOV/1/a",
                              "KZ//240140000011/a", "KZ/GOV/240140000011/a/b", ""])
    write("parse_uuid", ["0190a6f4-3c2b-7d1e-8f00-112233445566",
                         "0190A6F4-3C2B-7D1E-8F00-112233445566",
                         "00000000-0000-0000-0000-000000000000",
                         "0190a6f43c2b7d1e8f00112233445566", "0190a6f4-3c2b-7d1e-8f00-11223344556",
                         "0190a6f4-3c2b-7d1e-8f00-1122334455667", "{0190a6f4-3c2b-7d1e-8f00-112233445566}",
                         "0190a6f4-3c2b-7d1e-8f00_112233445566", "g190a6f4-3c2b-7d1e-8f00-112233445566"])
    write("parse_accept_language", ["ru", "en-US,en;q=0.9,ru;q=0.8", "kk-KZ", "*", "de, ru;q=0.1",
                                    "ru;q=0, en;q=0.001", "en;q=1.000", "en;q=1.001", "ru;q=abc",
                                    ";;,,", "RU", "ru-RU;q=0.5, kk;q=0.5", ""])
    env = [c for c in cases if c["expect"] == "ok"][:8]
    extra = [
        "GET /v1/services/person.byIin\nQaqpa-Client: KZ/GOV/240140000021/tax-service\n\n",
        "GET /v1/services/person.byIin/a/../b\nQaqpa-Client: KZ/GOV/240140000021/tax-service\n\n",
        "GET /v1/services/person.byIin/%2e%2e/x?q=1\nQaqpa-Client: KZ/GOV/240140000021/tax-service\n\n",
        "GET /v1/services/person.byIin/%252e\nQaqpa-Client: KZ/GOV/240140000021/tax-service\n\n",
        "GET /v1/services/Bad\nQaqpa-Client: KZ/GOV/240140000021/tax-service\n\n",
        "GET /v1/services/x\nQaqpa-Message-Id: nope\n\n",
        "GET /v1/services/x\nQaqpa-Message-Id: 0190a6f4-3c2b-7d1e-8f00-112233445566\n"
        "qaqpa-message-id: 0190a6f4-3c2b-7d1e-8f00-112233445566\n\n",
        "GET /v1/services/x\nQaqpa-Client: KZ/GOV/240140000021/tax-service\n"
        "Qaqpa-Subject: IIN:900101300124\nQaqpa-Actor: BIN:240140000011\n"
        "Qaqpa-Purpose: x\nQaqpa-Consent: a b\nQaqpa-Correlation-Id: 1\n\n",
        "GET /v1/services/x/a;p=1//b\\c#f\nQaqpa-Client: KZ/GOV/240140000021/tax-service\n\n",
        "GET /v2/other\n\n",
    ]
    write("envelope_headers", [request_bytes(c) for c in env] + extra)
    frames, verify = journal_seeds()
    write("journal_frames", frames)
    write("journal_verify", verify)
    write("jwks", jwks_seeds())


if __name__ == "__main__":
    main()
