#!/usr/bin/env python3
"""Writes the hand-made seed inputs of tests/fuzz/corpus/<target>/seed_*.

Request seeds for request_signature and envelope_headers are taken from
tests/signing/data/vectors.json (validly signed requests and every failure class), in the
fuzz_request.h format. Existing seed_* files are replaced; minimised corpus files are kept.
Usage: python3 tests/fuzz/make_seeds.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
VECTORS = os.path.join(HERE, "..", "signing", "data", "vectors.json")


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


if __name__ == "__main__":
    main()
