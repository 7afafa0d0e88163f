#!/usr/bin/env python3
"""Generates tests/signing/data/vectors.json for signing_test, independently of the C++ code.

RFC 9421 signature bases, RFC 9530 digests and the signatures are produced here with Python's
`cryptography` (python3-cryptography on Debian bookworm) and hand-written serialisation, so that
the C++ verifier is checked against a second implementation rather than against itself.

Keys: data/test_*.pem are TEST-ONLY keys made by this script (kept when they exist; pass
--fresh-keys to replace them). ECDSA signatures are randomised, so re-running changes the file.

Usage: python3 tests/signing/make_vectors.py [--fresh-keys]
Also importable: crosscheck.py uses signature_base() and verify() to check what the C++ signs.
"""
import base64
import hashlib
import json
import os
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
NOW = 1750000000
SCHEME = "https"

CLIENT = "KZ/GOV/240140000021/tax-service"
MESSAGE_ID = "0190a6f4-3c2b-7d1e-8f00-112233445566"
SUBJECT = "IIN:900101300123"
PURPOSE = "TAX_AUDIT"
TARGET = "/v1/services/person.byIin/details?x=1&y=two"
BODY = '{"iin":"900101300123","fields":["name","address"]}'
REQUIRED = ["@method", "@path", "@query", "content-digest", "qaqpa-client", "qaqpa-message-id"]


# ---------------------------------------------------------------- keys

def _load_or_make(name, make):
    path = os.path.join(DATA, f"test_{name}_private.pem")
    if os.path.exists(path) and "--fresh-keys" not in sys.argv:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    else:
        key = make()
        with open(path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    with open(os.path.join(DATA, f"test_{name}_public.pem"), "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def sign(key, base):
    data = base.encode("ascii")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(public_key, base, sig):
    data = base.encode("ascii")
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


# ---------------------------------------------------------------- RFC 8941 / 9421 / 9530

def sf_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sf_params(params):
    out = ""
    for k, v in params:
        if v is True:
            out += f";{k}"
        elif isinstance(v, int):
            out += f";{k}={v}"
        else:
            out += f";{k}={sf_string(v)}"
    return out


def inner_list(components, params):
    return "(" + " ".join(sf_string(c) for c in components) + ")" + sf_params(params)


def component_value(method, target, headers, name, scheme=SCHEME):
    if name == "@method":
        return method
    if name == "@path":
        return target.split("?", 1)[0]
    if name == "@query":
        return "?" + target.split("?", 1)[1] if "?" in target else "?"
    if name == "@request-target":
        return target
    if name == "@scheme":
        return scheme
    host = ", ".join(v.strip(" \t") for n, v in headers if n.lower() == "host").lower()
    if name == "@authority":
        return host
    if name == "@target-uri":
        return f"{scheme}://{host}{target}"
    lines = [v.strip(" \t") for n, v in headers if n.lower() == name]
    if not lines:
        raise KeyError(name)
    return ", ".join(lines)


def signature_base(method, target, headers, components, params_serialized):
    lines = [f'"{c}": {component_value(method, target, headers, c)}' for c in components]
    lines.append(f'"@signature-params": {params_serialized}')
    return "\n".join(lines)


def digest_header(body, algs=("sha-256",)):
    parts = []
    for alg in algs:
        h = hashlib.sha256 if alg == "sha-256" else hashlib.sha512
        parts.append(f"{alg}=:{base64.b64encode(h(body.encode()).digest()).decode()}:")
    return ", ".join(parts)


# ---------------------------------------------------------------- gateway response signatures

# PROTOCOL.md §2: the gateway's response signature, label qaqpa, covering these in this order;
# a component that does not exist on the exchange is not covered (docs/protocol-extensions).
RESPONSE_HEADERS = ("content-digest", "qaqpa-message-id", "qaqpa-event-id", "qaqpa-status")


def _joined(headers, name):
    lines = [v.strip(" \t") for n, v in headers if n.lower() == name]
    return ", ".join(lines) if lines else None


def response_components(status, headers, request=None):
    """[(name, req, value)] the gateway must cover on a response; request = (method, target,
    headers) or None when the gateway parsed no request."""
    out = [("@status", False, f"{status:03d}")]
    for name in RESPONSE_HEADERS:
        value = _joined(headers, name)
        if value is not None:
            out.append((name, False, value))
    if request is not None:
        method, target, req_headers = request
        out.append(("@method", True, method))
        if target.startswith("/"):
            out.append(("@path", True, target.split("?", 1)[0]))
        client = _joined(req_headers, "qaqpa-client")
        if client is not None:
            out.append(("qaqpa-client", True, client))
    return out


def response_signature_params(components, created, keyid, alg):
    items = " ".join(sf_string(n) + (";req" if r else "") for n, r, _ in components)
    return f"({items})" + sf_params([("created", created), ("keyid", keyid), ("alg", alg)])


def response_signature_base(components, params):
    lines = [f'"{n}"' + (";req" if r else "") + f": {v}" for n, r, v in components]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines)


def check_gateway_response(status, headers, body, request, public_key, keyid, alg):
    """Verifies the gateway's signature on a raw response (headers: [(name, value)], body: bytes)
    from scratch: Content-Digest recomputed with hashlib, the expected Signature-Input rebuilt from
    the rules above and compared byte for byte, the signature base rebuilt and the signature
    checked with `cryptography`. Raises AssertionError; returns `created`."""
    def lines(name):
        return [v for n, v in headers if n.lower() == name]
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    assert lines("content-digest") == [digest], (lines("content-digest"), digest)
    inputs, sigs = lines("signature-input"), lines("signature")
    assert len(inputs) == 1 and len(sigs) == 1, (inputs, sigs)
    m = re.fullmatch(r"qaqpa=\(.*\);created=(\d+);keyid=.*", inputs[0])
    assert m, inputs[0]
    created = int(m.group(1))
    components = response_components(status, headers, request)
    params = response_signature_params(components, created, keyid, alg)
    assert inputs[0] == f"qaqpa={params}", (inputs[0], params)
    m = re.fullmatch(r"qaqpa=:([A-Za-z0-9+/]*={0,2}):", sigs[0])
    assert m, sigs[0]
    sig = base64.b64decode(m.group(1), validate=True)
    base = response_signature_base(components, params)
    assert verify(public_key, base, sig), f"gateway signature does not verify over:\n{base}"
    return created


# ---------------------------------------------------------------- request cases

def base_headers(subject=True, body=BODY, digest_algs=("sha-256",)):
    h = [["Host", "gw.qaqpa.kz"], ["Qaqpa-Client", CLIENT], ["Qaqpa-Message-Id", MESSAGE_ID]]
    if subject:
        h += [["Qaqpa-Subject", SUBJECT], ["Qaqpa-Purpose", PURPOSE]]
    h += [["Content-Type", "application/json"], ["Content-Digest", digest_header(body, digest_algs)]]
    return h


def default_components(headers):
    names = {n.lower() for n, _ in headers}
    return REQUIRED + [c for c in ("qaqpa-subject", "qaqpa-purpose") if c in names]


def signed(keys, *, key="ed", keyid=None, alg=None, created=NOW, expires=None, extra_params=(),
           method="POST", target=TARGET, headers=None, body=BODY, components=None,
           label="sig1", params=None):
    """Returns (method, target, headers, body, signature_input_member, signature_member)."""
    headers = [list(h) for h in (headers if headers is not None else base_headers(body=body))]
    components = components if components is not None else default_components(headers)
    if params is None:
        params = [("created", created)]
        if expires is not None:
            params.append(("expires", expires))
        params.append(("keyid", keyid or ("test-ed25519" if key == "ed" else "test-p256")))
        params.append(("alg", alg or ("ed25519" if key == "ed" else "ecdsa-p256-sha256")))
        params += list(extra_params)
    serialized = inner_list(components, params)
    sig = sign(keys[key], signature_base(method, target, headers, components, serialized))
    return (method, target, headers, body, f"{label}={serialized}",
            f"{label}=:{base64.b64encode(sig).decode()}:")


def case(name, expect, parts, *, sig_input=None, signature=None, now=NOW, label=None,
         mutate=None, detail=None):
    method, target, headers, body, si, s = parts
    headers = [list(h) for h in headers]
    si = [si] if sig_input is None else sig_input
    s = [s] if signature is None else signature
    headers += [["Signature-Input", v] for v in si if v is not None]
    headers += [["Signature", v] for v in s if v is not None]
    c = {"name": name, "method": method, "target": target, "headers": headers, "body": body,
         "now": now, "expect": expect}
    if mutate:
        mutate(c)
    if label:
        c["label"] = label
    if detail:
        c["detail"] = detail
    return c


def set_header(name, value):
    def f(c):
        for h in c["headers"]:
            if h[0].lower() == name.lower():
                h[1] = value
    return f


def flip_signature(c):
    for h in c["headers"]:
        if h[0] == "Signature":
            label, rest = h[1].split("=", 1)
            raw = bytearray(base64.b64decode(rest.strip(":")))
            raw[10] ^= 0x01
            h[1] = f"{label}=:{base64.b64encode(bytes(raw)).decode()}:"


def request_cases(keys):
    cases = []
    ok = signed(keys)
    si_ok, s_ok = ok[4], ok[5]
    add = cases.append

    # Valid.
    add(case("ed25519_post_ok", "ok", ok, label="sig1"))
    add(case("p256_post_ok", "ok", signed(keys, key="p256")))
    add(case("ed25519_get_empty_body_ok", "ok",
             signed(keys, method="GET", target="/v1/services/person.byIin", body="",
                    headers=base_headers(subject=False, body=""))))
    add(case("empty_query_is_question_mark_ok", "ok",
             signed(keys, target="/v1/services/person.byIin?")))
    add(case("no_subject_headers_ok", "ok", signed(keys, headers=base_headers(subject=False))))
    add(case("all_derived_components_ok", "ok",
             signed(keys, components=default_components(base_headers()) +
                    ["@authority", "@target-uri", "@scheme", "@request-target"])))
    multi = base_headers() + [["X-Trace", "  a=1 "], ["X-Trace", "\tb=2"]]
    add(case("multiple_field_lines_joined_ok", "ok",
             signed(keys, headers=multi, components=default_components(multi) + ["x-trace"])))
    add(case("sha512_digest_ok", "ok",
             signed(keys, headers=base_headers(digest_algs=("sha-512",)))))
    add(case("sha256_and_sha512_digest_ok", "ok",
             signed(keys, headers=base_headers(digest_algs=("sha-256", "sha-512")))))
    add(case("expires_in_future_ok", "ok", signed(keys, expires=NOW + 60)))
    add(case("created_at_past_skew_edge_ok", "ok", signed(keys, created=NOW - 300)))
    add(case("created_at_future_skew_edge_ok", "ok", signed(keys, created=NOW + 300)))
    add(case("nonce_tag_and_unknown_param_ok", "ok",
             signed(keys, extra_params=[("nonce", "n-1"), ("tag", "qaqpa"), ("x-ext", 7)])))
    unk = signed(keys, keyid="nobody", label="sig0")
    add(case("first_label_unknown_key_second_ok", "ok", ok,
             sig_input=[f"{unk[4]}, {si_ok}"], signature=[f"{unk[5]}, {s_ok}"], label="sig1"))
    add(case("labels_on_separate_field_lines_ok", "ok", ok,
             sig_input=[unk[4], si_ok], signature=[s_ok, unk[5]], label="sig1"))
    add(case("whitespace_inside_inner_list_reserialized_ok", "ok", ok,
             sig_input=["sig1=(  " + si_ok[len("sig1=("):].replace('" "', '"   "', 1)]))

    # Tampering.
    add(case("tampered_body", "digest_mismatch", ok, mutate=lambda c: c.update(body=BODY + " ")))
    add(case("tampered_body_and_digest", "bad_signature", ok,
             mutate=lambda c: (c.update(body=BODY + " "),
                               set_header("Content-Digest", digest_header(BODY + " "))(c))))
    add(case("tampered_client", "bad_signature", ok,
             mutate=set_header("Qaqpa-Client", "KZ/GOV/240140000021/other")))
    add(case("tampered_subject", "bad_signature", ok,
             mutate=set_header("Qaqpa-Subject", "IIN:900101300131")))
    add(case("tampered_query", "bad_signature", ok,
             mutate=lambda c: c.update(target=TARGET + "&z=3")))
    add(case("tampered_path", "bad_signature", ok,
             mutate=lambda c: c.update(target=TARGET.replace("details", "detail"))))
    add(case("tampered_method", "bad_signature", ok, mutate=lambda c: c.update(method="PUT")))
    add(case("tampered_signature_ed25519", "bad_signature", ok, mutate=flip_signature))
    add(case("tampered_signature_p256", "bad_signature", signed(keys, key="p256"),
             mutate=flip_signature))
    add(case("truncated_signature", "bad_signature", ok,
             signature=["sig1=:" + base64.b64encode(b"\x01" * 63).decode() + ":"]))
    other = ed25519.Ed25519PrivateKey.generate()
    add(case("signed_by_other_key", "bad_signature", signed({**keys, "other": other}, key="other",
                                                             keyid="test-ed25519", alg="ed25519")))
    add(case("tampered_created_param", "bad_signature", ok,
             sig_input=[si_ok.replace(f"created={NOW}", f"created={NOW + 1}")]))

    # Time.
    add(case("stale_created", "stale_created", signed(keys, created=NOW - 301)))
    add(case("created_in_future", "created_in_future", signed(keys, created=NOW + 301)))
    add(case("expired", "expired", signed(keys, expires=NOW - 1)))

    # Keys and algorithms.
    add(case("unknown_keyid", "unknown_key", signed(keys, keyid="test-unknown")))
    add(case("alg_ed25519_key_p256", "algorithm_mismatch",
             signed(keys, key="ed", keyid="test-p256", alg="ed25519")))
    add(case("alg_p256_key_ed25519", "algorithm_mismatch",
             signed(keys, key="p256", keyid="test-ed25519", alg="ecdsa-p256-sha256")))
    for alg in ("rsa-pss-sha512", "hmac-sha256", "rsa-v1_5-sha256", "ecdsa-p384-sha384", "ED25519"):
        add(case(f"unsupported_alg_{alg}", "unsupported_algorithm", signed(keys, alg=alg)))
    for missing in ("created", "keyid", "alg"):
        params = [p for p in [("created", NOW), ("keyid", "test-ed25519"), ("alg", "ed25519")]
                  if p[0] != missing]
        add(case(f"missing_param_{missing}", "missing_parameter", signed(keys, params=params),
                 detail=missing))

    # Required components, each one.
    for comp in default_components(base_headers()):
        comps = [c for c in default_components(base_headers()) if c != comp]
        add(case(f"uncovered_{comp.lstrip('@')}", "missing_component",
                 signed(keys, components=comps), detail=comp))
    consent = base_headers()
    add(case("covered_header_absent", "absent_component", ok,
             sig_input=[si_ok.replace('"qaqpa-client"', '"qaqpa-client" "qaqpa-consent"')],
             detail="qaqpa-consent"))
    add(case("required_message_id_absent", "absent_component", ok,
             mutate=lambda c: c.update(headers=[h for h in c["headers"]
                                                if h[0] != "Qaqpa-Message-Id"]),
             detail="qaqpa-message-id"))
    del consent
    for comp, expect in (('"@query-param";name="x"', "unsupported_component"),
                         ('"@status"', "unsupported_component"),
                         ('"@method";req', "unsupported_component"),
                         ('"content-digest";sf', "unsupported_component"),
                         ('"@unknown"', "unsupported_component"),
                         ('"Qaqpa-Client"', "malformed"),
                         ('"qaqpa client"', "malformed"),
                         ('""', "malformed"),
                         ('qaqpa-client', "malformed"),
                         ('"qaqpa-client"', "malformed")):  # the last one: duplicate
        add(case(f"component_{comp}", expect, ok,
                 sig_input=[si_ok.replace('"qaqpa-client"', f'"qaqpa-client" {comp}')]))

    # Labels and header presence.
    add(case("duplicate_label_in_signature_input", "malformed", ok,
             sig_input=[f"{si_ok}, {si_ok}"]))
    add(case("duplicate_label_across_field_lines", "malformed", ok, sig_input=[si_ok, si_ok]))
    add(case("duplicate_label_in_signature", "malformed", ok, signature=[f"{s_ok}, {s_ok}"]))
    add(case("label_without_signature", "malformed", ok,
             signature=[s_ok.replace("sig1=", "sig2=")]))
    add(case("no_signature_header", "missing", ok, signature=[None]))
    add(case("no_signature_input_header", "missing", ok, sig_input=[None]))
    add(case("no_headers", "missing", ok, sig_input=[None], signature=[None]))
    add(case("empty_signature_input", "missing", ok, sig_input=[""]))
    add(case("signature_input_is_not_a_list", "malformed", ok, sig_input=["sig1=:AAAA:"]))

    # Malformed structured fields (Signature-Input).
    body = si_ok[len("sig1="):]
    bad_inputs = [
        "sig1=(\"@method\"",                  # unterminated inner list
        "sig1=(\"@method\"\"@path\");created=1",  # items not separated
        "sig1=(@method);created=1",           # not a string
        "SIG1=(\"@method\")",                 # upper-case key
        "1sig=(\"@method\")",                 # key starts with a digit
        f"sig1={body},",                      # trailing comma
        f"sig1={body} sig2={body}",           # missing comma
        f"sig1={body};created=1",             # duplicate parameter
        "sig1=(\"@method\");created=abc",     # not an integer
        "sig1=(\"@method\");created=1234567890123456",  # 16 digits
        "sig1=(\"@method\");created=1.5",     # decimal
        "sig1=(\"@method\");created=-",       # lone minus
        "sig1=(\"@met\\hod\")",               # bad escape
        "sig1=(\"@method)",                   # unterminated string
        "sig1=(\"@méthod\")",                 # non-ASCII
        "sig1=(\"@method\");keyid=@123",      # date item
        "sig1=(\"@method\");flag=?2",         # bad boolean
        "sig1=(\"@method\");=1",              # empty parameter key
        "sig1=(\"@method\");created=1,",      # trailing comma after params
        "sig1=(\"@method\")\t;created=1",     # tab before params
        "sig1=(\"@method\");created=\"1\"",   # created as a string
        "sig1=(\"@method\");created=1;keyid=k;alg=\"ed25519\"",  # keyid as a token
        "sig1=(\"@method\");created=1;keyid=\"k\";alg=ed25519",  # alg as a token
        "sig1=(\"@method\");created=1;keyid=\"k\";alg=\"ed25519\";nonce=5",
        "sig1=(\"@method\");created=1;keyid=\"k\";alg=\"ed25519\";expires=\"x\"",
        ",sig1=(\"@method\")",                # leading comma
        "sig1=(\"@method\"), ,sig2=(\"@path\")",  # empty member
        "sig1=(\"@method\");created=1;created",  # duplicate parameter (boolean)
        ", ".join(f"s{i}={body}" for i in range(65)),  # too many members
        "sig1=(" + " ".join(f"\"h{i}\"" for i in range(65)) + ")",  # too many components
        "sig1=(\"@method\");x=\"" + "a" * 8200 + "\"",  # over 8 KiB
    ]
    for i, v in enumerate(bad_inputs):
        add(case(f"malformed_signature_input_{i:02d}", "malformed", ok, sig_input=[v]))
    bad_signatures = ["sig1=:not base64!:", "sig1=\"abc\"", "sig1=:YWJj", "sig1=:YWI=:"[:-3] + "J=:",
                      "sig1=:YR==:", "sig1=:YWJjZA=:", "sig1=(:YWJj:)", "sig1", "sig1=?1",
                      "sig1=:YWJj:;x=", "sig1=:Y W J j:"]
    for i, v in enumerate(bad_signatures):
        add(case(f"malformed_signature_{i:02d}", "malformed", ok, signature=[v]))

    # Digest content (covered and signed, but not matching the body).
    add(case("covered_digest_unsupported_only", "digest_mismatch",
             signed(keys, headers=[h if h[0] != "Content-Digest" else
                                   ["Content-Digest", "md5=:AAAAAAAAAAAAAAAAAAAAAA==:"]
                                   for h in base_headers()]), detail="unsupported_algorithm"))
    add(case("covered_digest_malformed", "digest_mismatch",
             signed(keys, headers=[h if h[0] != "Content-Digest" else
                                   ["Content-Digest", "sha-256=abc"] for h in base_headers()]),
             detail="malformed"))
    return cases


def digest_cases():
    body = '{"hello": "world"}'
    s256 = digest_header(body)
    s512 = digest_header(body, ("sha-512",))
    other = digest_header("other")
    return [
        # RFC 9530 §2 example value.
        {"name": "rfc9530_example", "header": "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
         "body": body, "expect": "ok"},
        {"name": "sha256", "header": s256, "body": body, "expect": "ok"},
        {"name": "sha512", "header": s512, "body": body, "expect": "ok"},
        {"name": "both", "header": f"{s256}, {s512}", "body": body, "expect": "ok"},
        {"name": "with_unknown", "header": f"md5=:AAAA:, {s256}, unixsum=:AAAA:", "body": body,
         "expect": "ok"},
        {"name": "empty_body", "header": digest_header(""), "body": "", "expect": "ok"},
        {"name": "mismatch", "header": other, "body": body, "expect": "mismatch"},
        {"name": "one_of_two_mismatch",
         "header": f"{s256}, {digest_header('other', ('sha-512',))}", "body": body,
         "expect": "mismatch"},
        {"name": "missing_empty", "header": "", "body": body, "expect": "missing"},
        {"name": "missing_spaces", "header": "   ", "body": body, "expect": "missing"},
        {"name": "unsupported_only", "header": "md5=:AAAA:", "body": body,
         "expect": "unsupported_algorithm"},
        {"name": "uppercase_alg_is_other_key", "header": "SHA-256=:AAAA:", "body": body,
         "expect": "malformed"},
        {"name": "not_bytes", "header": "sha-256=abc", "body": body, "expect": "malformed"},
        {"name": "string_value", "header": "sha-256=\"abc\"", "body": body, "expect": "malformed"},
        {"name": "wrong_length", "header": "sha-256=:AAAA:", "body": body, "expect": "malformed"},
        {"name": "bad_base64", "header": "sha-256=:!!!!:", "body": body, "expect": "malformed"},
        {"name": "inner_list", "header": "sha-256=(:AAAA:)", "body": body, "expect": "malformed"},
        {"name": "duplicate", "header": f"{s256}, {s256}", "body": body, "expect": "malformed"},
        {"name": "trailing_comma", "header": f"{s256},", "body": body, "expect": "malformed"},
        {"name": "with_params_ok", "header": f"{s256};x=1", "body": body, "expect": "ok"},
    ]


def sf_cases():
    """RFC 8941 dictionaries: input -> canonical serialisation, or null when invalid."""
    return [
        {"input": "a=1", "canonical": "a=1"},
        {"input": "  a=1 ,\tb=2  ", "canonical": "a=1, b=2"},
        {"input": "a", "canonical": "a"},
        {"input": "a;x=?1", "canonical": "a;x"},
        {"input": "a=?0", "canonical": "a=?0"},
        {"input": "a=?1;p", "canonical": "a;p"},
        {"input": "a=-999999999999999", "canonical": "a=-999999999999999"},
        {"input": "a=007", "canonical": "a=7"},
        {"input": "a=\"x\\\"y\\\\z\"", "canonical": "a=\"x\\\"y\\\\z\""},
        {"input": "a=tok/en:x*", "canonical": "a=tok/en:x*"},
        {"input": "a=*tok", "canonical": "a=*tok"},
        {"input": "a=:aGVsbG8=:", "canonical": "a=:aGVsbG8=:"},
        {"input": "a=::", "canonical": "a=::"},
        {"input": "a=(  \"x\"   y;q=1  );k=\"v\"", "canonical": "a=(\"x\" y;q=1);k=\"v\""},
        {"input": "a=(\"x\") ;k=\"v\"", "canonical": None},  # no space before list params
        {"input": "a=()", "canonical": "a=()"},
        {"input": "*a.b-c_d=1", "canonical": "*a.b-c_d=1"},
        {"input": "a=1;  b=2", "canonical": "a=1;b=2"},
        {"input": "", "canonical": ""},
        {"input": "a=1,b=2", "canonical": "a=1, b=2"},
        {"input": "a=1 , b", "canonical": "a=1, b"},
        {"input": "A=1", "canonical": None},
        {"input": "a=1,", "canonical": None},
        {"input": "a=1 b=2", "canonical": None},
        {"input": "a=1, a=2", "canonical": None},
        {"input": "a;x;x", "canonical": None},
        {"input": "a=1.0", "canonical": None},
        {"input": "a=1234567890123456", "canonical": None},
        {"input": "a=-", "canonical": None},
        {"input": "a=\"unterminated", "canonical": None},
        {"input": "a=\"\\n\"", "canonical": None},
        {"input": "a=\"\x7f\"", "canonical": None},
        {"input": "a=:aGVsbG8:", "canonical": None},
        {"input": "a=:aGVsbG9=:", "canonical": None},
        {"input": "a=:aGVs bG8=:", "canonical": None},
        {"input": "a=:aGVsbG8=", "canonical": None},
        {"input": "a=?", "canonical": None},
        {"input": "a=?01", "canonical": None},
        {"input": "a=(", "canonical": None},
        {"input": "a=(\"x\"\"y\")", "canonical": None},
        {"input": "a=((\"x\"))", "canonical": None},
        {"input": "a=@1659578233", "canonical": None},
        {"input": "a=%\"x\"", "canonical": None},
        {"input": "a=#", "canonical": None},
        {"input": "a=", "canonical": None},
        {"input": "a;", "canonical": None},
        {"input": "a;B=1", "canonical": None},
        {"input": "\ta=1", "canonical": None},
        {"input": ",a=1", "canonical": None},
        {"input": "a=1;x=1;x=2", "canonical": None},
    ]


def main():
    os.makedirs(DATA, exist_ok=True)
    keys = {
        "ed": _load_or_make("ed25519", ed25519.Ed25519PrivateKey.generate),
        "p256": _load_or_make("p256", lambda: ec.generate_private_key(ec.SECP256R1())),
    }
    out = {
        "comment": "Generated by tests/signing/make_vectors.py; do not edit by hand.",
        "scheme": SCHEME,
        "keys": {"test-ed25519": "test_ed25519_public.pem", "test-p256": "test_p256_public.pem"},
        "request_cases": request_cases(keys),
        "digest_cases": digest_cases(),
        "sf_cases": sf_cases(),
    }
    names = [c["name"] for c in out["request_cases"]]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(os.path.join(DATA, "vectors.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(out['request_cases'])} request, {len(out['digest_cases'])} digest, "
          f"{len(out['sf_cases'])} sf cases")


if __name__ == "__main__":
    main()
