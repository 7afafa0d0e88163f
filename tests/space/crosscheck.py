#!/usr/bin/env python3
"""ctest space_python_crosscheck: citizen tokens checked against an independent implementation.

JWS compact serialisation, base64url, the claims and the EdDSA / ES256 signatures are produced
and checked here with Python's `cryptography` (python3-cryptography on Debian bookworm) and the
standard library only — no code shared with the C++ under test.

1. Python makes an Ed25519 and a P-256 identity-provider key and mints tokens: valid ones and
   forged or broken ones (alg none, HS256 keyed with the public key, DER ECDSA, tampered payload,
   expired, wrong audience, BIN subject, ...), each with the status the C++ verifier must give.
2. It runs `space_test --gtest_also_run_disabled_tests --gtest_filter=*PythonCrossCheck*` with
   QAQPA_SPACE_CROSSCHECK=<tmp dir>: the C++ side verifies every token (registry built from
   config::SpaceSettings and the PEM files) and mints tokens with the demo identity provider
   using two private keys Python made.
3. Python compares the statuses, then verifies every C++-minted token itself (signature, header,
   claims) and checks that a tampered copy fails its own check (so the check can fail).
Usage: crosscheck.py <path to space_test>
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)

NOW = 1750000000
ISSUER = "https://idp.egov.kz"
AUDIENCE = "qaqpa-space"
CITIZEN = "IIN:900101300126"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text):
    assert "=" not in text and "+" not in text and "/" not in text, text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jws_sign(key, data):
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def jws_verify(public_key, data, sig):
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(sig, data)
        else:
            if len(sig) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def compact(header, claims):
    """header and claims as dicts (serialised compactly) or as raw JSON text."""
    h = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    c = claims if isinstance(claims, str) else json.dumps(claims, separators=(",", ":"))
    return b64url(h.encode()) + "." + b64url(c.encode())


def claims(**over):
    c = {"iss": ISSUER, "sub": CITIZEN, "aud": AUDIENCE, "iat": NOW - 10, "exp": NOW + 600}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def make_cases(ed, es, ed_pub_pem):
    ed_h = {"alg": "EdDSA", "kid": "py-ed", "typ": "JWT"}
    es_h = {"alg": "ES256", "kid": "py-es"}

    def signed(key, header, body):
        inp = compact(header, body)
        return inp + "." + b64url(jws_sign(key, inp.encode()))

    cases = []

    def add(name, token, expect):
        cases.append({"name": name, "token": token, "expect": expect})

    add("ed_valid", signed(ed, ed_h, claims()), "OK")
    add("es_valid", signed(es, es_h, claims()), "OK")
    add("es_aud_array", signed(es, es_h, claims(aud=["x", AUDIENCE])), "OK")
    add("ed_nbf_fractional", signed(ed, ed_h, claims(nbf=NOW - 1.5, iat=NOW - 2.25)), "OK")
    add("ed_lifetime_max", signed(ed, ed_h, claims(iat=NOW - 100, exp=NOW - 100 + 3600)), "OK")
    add("ed_exp_at_skew_bound", signed(ed, ed_h, claims(iat=NOW - 300, exp=NOW - 60)),
        "TOKEN_EXPIRED")
    add("ed_exp_inside_skew", signed(ed, ed_h, claims(iat=NOW - 300, exp=NOW - 59)), "OK")

    none_input = compact({"alg": "none", "kid": "py-ed"}, claims())
    add("alg_none_empty_sig", none_input + ".", "TOKEN_MALFORMED")
    add("alg_none_with_sig", none_input + "." + b64url(b"\0" * 64), "TOKEN_ALG_REFUSED")
    hs_input = compact({"alg": "HS256", "kid": "py-ed", "typ": "JWT"}, claims())
    add("hs256_public_key_secret",
        hs_input + "." + b64url(hmac.new(ed_pub_pem, hs_input.encode(), hashlib.sha256).digest()),
        "TOKEN_ALG_REFUSED")
    es_input = compact(es_h, claims())
    add("es_der_signature",
        es_input + "." + b64url(es.sign(es_input.encode(), ec.ECDSA(hashes.SHA256()))),
        "TOKEN_SIGNATURE_INVALID")
    good = signed(ed, ed_h, claims())
    h, _, s = good.split(".")
    add("ed_tampered_payload",
        h + "." + compact(ed_h, claims(sub="IIN:870412450002")).split(".")[1] + "." + s,
        "TOKEN_SIGNATURE_INVALID")
    add("ed_unknown_kid", signed(ed, dict(ed_h, kid="nope"), claims()), "TOKEN_KEY_UNKNOWN")
    add("ed_key_alg_mismatch", signed(ed, dict(ed_h, kid="py-es"), claims()),
        "TOKEN_ALG_REFUSED")
    add("unknown_issuer", signed(ed, ed_h, claims(iss="https://evil.example")),
        "TOKEN_ISSUER_UNKNOWN")
    add("expired", signed(ed, ed_h, claims(iat=NOW - 1000, exp=NOW - 61)), "TOKEN_EXPIRED")
    add("not_yet_valid", signed(ed, ed_h, claims(nbf=NOW + 61)), "TOKEN_NOT_YET_VALID")
    add("wrong_audience", signed(es, es_h, claims(aud="qaqpa-admin")), "TOKEN_AUDIENCE_MISMATCH")
    add("audience_array_without_ours", signed(es, es_h, claims(aud=["a", "b"])),
        "TOKEN_AUDIENCE_MISMATCH")
    add("bin_subject", signed(ed, ed_h, claims(sub="BIN:240140000011")), "TOKEN_SUBJECT_INVALID")
    add("bad_checksum", signed(ed, ed_h, claims(sub="IIN:900101300123")),
        "TOKEN_SUBJECT_INVALID")
    add("lifetime_too_long", signed(ed, ed_h, claims(iat=NOW - 100, exp=NOW + 3501)),
        "TOKEN_LIFETIME_TOO_LONG")
    dup = json.dumps(claims(), separators=(",", ":"))[:-1] + ',"sub":"IIN:870412450002"}'
    add("duplicate_sub", signed(ed, ed_h, dup), "TOKEN_MALFORMED")
    padded = base64.urlsafe_b64encode(json.dumps(ed_h).encode()).decode()
    if padded.endswith("="):
        add("padded_header", padded + good[good.index("."):], "TOKEN_MALFORMED")
    add("jku_header", signed(ed, dict(ed_h, jku="https://evil.example/jwks"), claims()),
        "TOKEN_HEADER_REFUSED")
    add("embedded_jwk", signed(ed, dict(ed_h, jwk={"kty": "OKP", "crv": "Ed25519",
                                                   "x": b64url(b"\1" * 32)}), claims()),
        "TOKEN_HEADER_REFUSED")
    return cases


def check_minted(entry):
    token = entry["token"]
    parts = token.split(".")
    assert len(parts) == 3 and all(parts), token
    with open(entry["public_key_file"], "rb") as f:
        public_key = serialization.load_pem_public_key(f.read())
    header = json.loads(unb64url(parts[0]))
    body = json.loads(unb64url(parts[1]))
    sig = unb64url(parts[2])
    data = (parts[0] + "." + parts[1]).encode("ascii")
    problems = []
    if header != {"alg": entry["alg"], "kid": entry["kid"], "typ": "JWT"}:
        problems.append(f"header {header}")
    expected_type = ed25519.Ed25519PublicKey if entry["alg"] == "EdDSA" else ec.EllipticCurvePublicKey
    if not isinstance(public_key, expected_type):
        problems.append("alg does not match the key type")
    if len(sig) != 64 or not jws_verify(public_key, data, sig):
        problems.append("signature does not verify")
    want = {"iss": entry["issuer"], "sub": entry["subject"], "aud": AUDIENCE, "iat": NOW,
            "exp": NOW + entry["lifetime"]}
    if body != want:
        problems.append(f"claims {body} != {want}")
    return problems


def main():
    ed = ed25519.Ed25519PrivateKey.generate()
    es = ec.generate_private_key(ec.SECP256R1())
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, data):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            return path

        def pub_pem(key):
            return key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)

        def priv_pem(key):
            return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())

        demo_ed = ed25519.Ed25519PrivateKey.generate()
        demo_es = ec.generate_private_key(ec.SECP256R1())
        cases = make_cases(ed, es, pub_pem(ed))
        doc = {
            "now": NOW,
            "issuer": ISSUER,
            "keys": [
                {"kid": "py-ed", "alg": "EdDSA", "public_key_file": write("ed.pub", pub_pem(ed))},
                {"kid": "py-es", "alg": "ES256", "public_key_file": write("es.pub", pub_pem(es))},
            ],
            "demo": [
                {"kid": "demo-ed", "private_key_file": write("demo-ed.pem", priv_pem(demo_ed)),
                 "public_key_file": write("demo-ed.pub", pub_pem(demo_ed))},
                {"kid": "demo-es", "private_key_file": write("demo-es.pem", priv_pem(demo_es)),
                 "public_key_file": write("demo-es.pub", pub_pem(demo_es))},
            ],
            "tokens": cases,
        }
        write("cases.json", json.dumps(doc).encode())
        env = dict(os.environ, QAQPA_SPACE_CROSSCHECK=tmp)
        subprocess.run([sys.argv[1], "--gtest_also_run_disabled_tests",
                        "--gtest_filter=*PythonCrossCheck*"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(tmp, "results.json")) as f:
            results = json.load(f)

        failures = []
        for case in cases:
            got = results["verified"].get(case["name"])
            if got is None or got["status"] != case["expect"]:
                failures.append(f"{case['name']}: expected {case['expect']}, got {got}")
            elif case["expect"] == "OK" and got.get("subject") != CITIZEN:
                failures.append(f"{case['name']}: subject {got.get('subject')}")
        minted = results["minted"]
        if len(minted) != 4:
            failures.append(f"{len(minted)} minted tokens, expected 4")
        for entry in minted:
            failures += [f"minted {entry['alg']} {entry['subject']}: {p}"
                         for p in check_minted(entry)]
            # The Python check must be able to fail: another subject in the payload.
            h, p, s = entry["token"].split(".")
            body = json.loads(unb64url(p))
            body["sub"] = "IIN:950715400010"
            forged = dict(entry, token=h + "." + b64url(json.dumps(body).encode()) + "." + s)
            if not check_minted(forged):
                failures.append(f"a tampered {entry['alg']} token passed the Python check")
        if failures:
            print("\n".join(failures), file=sys.stderr)
            sys.exit(1)
    print(f"{len(cases)} Python tokens verified by C++ as expected; "
          f"{len(minted)} C++ demo tokens verified by Python")


if __name__ == "__main__":
    main()
