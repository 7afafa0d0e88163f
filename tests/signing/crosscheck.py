#!/usr/bin/env python3
"""ctest signing_python_crosscheck: requests and gateway responses signed by the C++ code verify
in Python.

Runs `signing_test --gtest_also_run_disabled_tests --gtest_filter=*ExportForPython` with
QAQPA_SIGNING_EXPORT=<tmp dir>, then for
every exported request rebuilds the Signature-Input member and the signature base with
make_vectors.py (independent code) and verifies the signature with `cryptography`; for every
exported gateway response (signResponse, both algorithms, with and without a request, event id,
client, body) rebuilds the covered components, Signature-Input, base and Content-Digest
(make_vectors.check_gateway_response) from the raw messages and verifies them the same way.
Usage: crosscheck.py <path to signing_test>
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_vectors as mv  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QAQPA_SIGNING_EXPORT=tmp)
        subprocess.run([sys.argv[1], "--gtest_also_run_disabled_tests",
                        "--gtest_filter=*ExportForPython"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(tmp, "ours.json")) as f:
            exported = json.load(f)
        with open(os.path.join(tmp, "responses.json")) as f:
            responses = json.load(f)
    assert len(exported) == 6, len(exported)
    for e in exported:
        alg = "ed25519" if e["keyid"] == "test-ed25519" else "ecdsa-p256-sha256"
        serialized = mv.inner_list(e["components"],
                                   [("created", e["created"]), ("keyid", e["keyid"]), ("alg", alg)])
        assert e["signature_input"] == f"qaqpa={serialized}", (e["signature_input"], serialized)
        headers = e["headers"]
        digest = [v for n, v in headers if n.lower() == "content-digest"][0]
        assert digest == mv.digest_header(e["body"]), digest
        base = mv.signature_base(e["method"], e["target"], headers, e["components"], serialized)
        label, value = e["signature"].split("=", 1)
        assert label == "qaqpa" and value.startswith(":") and value.endswith(":")
        sig = base64.b64decode(value[1:-1], validate=True)
        with open(e["public_key"], "rb") as f:
            key = serialization.load_pem_public_key(f.read())
        assert mv.verify(key, base, sig), f"signature by {e['keyid']} does not verify"
        assert not mv.verify(key, base + " ", sig)
    print(f"{len(exported)} C++ signatures verified by Python")
    check_responses(responses)


def check_responses(responses):
    assert len(responses) == 16, len(responses)
    shapes = set()
    for e in responses:
        alg = "ed25519" if e["kid"] == "gw-ed" else "ecdsa-p256-sha256"
        with open(e["public_key"], "rb") as f:
            key = serialization.load_pem_public_key(f.read())
        req = e.get("request")
        request = (req["method"], req["target"], req["headers"]) if req else None
        headers = [tuple(h) for h in e["headers"]]
        body = e["body"].encode()
        try:
            created = mv.check_gateway_response(e["status"], headers, body, request, key, e["kid"],
                                                alg)
        except AssertionError as err:
            raise AssertionError(f"response {e['name']} ({alg}): {err}") from None
        assert created >= mv.NOW, created
        shapes.add(e["name"])
        # The check itself must be able to fail: another status, body or request path.
        for status, b, r in ((e["status"] + 1, body, request), (e["status"], body + b" ", request),
                             (e["status"], body, (request[0], "/other", request[2])
                              if request else ("GET", "/x", []))):
            try:
                mv.check_gateway_response(status, headers, b, r, key, e["kid"], alg)
            except AssertionError:
                continue
            raise AssertionError(f"tampered response {e['name']} ({alg}) verified")
    print(f"{len(responses)} C++ gateway response signatures ({len(shapes)} shapes) verified by "
          "Python")


if __name__ == "__main__":
    main()
