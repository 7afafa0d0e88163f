#!/usr/bin/env python3
"""ctest signing_python_crosscheck: requests signed by the C++ signer verify in Python.

Runs `signing_test --gtest_also_run_disabled_tests --gtest_filter=*ExportForPython` with
QAQPA_SIGNING_EXPORT=<tmp dir>, then for
every exported request rebuilds the Signature-Input member and the signature base with
make_vectors.py (independent code) and verifies the signature with `cryptography`.
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


if __name__ == "__main__":
    main()
