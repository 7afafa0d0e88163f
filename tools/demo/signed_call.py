#!/usr/bin/env python3
"""Sends one request signed per RFC 9421 (PROTOCOL.md §2) and prints the reply like `curl -i`.

The international zone accepts only signed requests, over mutual TLS. `./qaqpa.sh up` makes a demo
Ed25519 key pair in .run/keys/ and a demo CA with client certificates in .run/pki/ (never committed)
and registers both for AM/INT/AMGW/national-gateway:

  python3 tools/demo/signed_call.py --key .run/keys/amgw.key --keyid amgw-demo-1 \\
    --cacert .run/pki/ca.crt --cert .run/pki/amgw.crt --cert-key .run/pki/amgw.key \\
    --client AM/INT/AMGW/national-gateway \\
    --url https://127.0.0.1:8082/v1/services/legalEntity.byBin/240140000011 --header 'Accept-Language: en'

--key is the request-signing key; --cert and --cert-key are the TLS client certificate and its key
(like curl's --cert/--key), --cacert the CA that verifies the gateway's server certificate.

Signed components: @method @path @query content-digest qaqpa-client qaqpa-message-id, plus
qaqpa-subject / qaqpa-purpose when given; parameters created, keyid, alg. Only GET with an empty
body (Content-Digest of b"")."""

import argparse
import base64
import hashlib
import http.client
import ssl
import sys
import time
import urllib.parse
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def content_digest(body):
    """RFC 9530, sha-256."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def sign(key, method, path, query, headers, keyid):
    """Adds Signature-Input and Signature (label sig1) to `headers`, which already holds every
    covered header. The signature base of RFC 9421 §2.5."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        alg = "ed25519"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        alg = "ecdsa-p256-sha256"
    else:
        sys.exit("signed_call.py: the key must be an Ed25519 or EC P-256 private key")
    lower = {k.lower(): v for k, v in headers.items()}
    components = ["@method", "@path", "@query", "content-digest", "qaqpa-client", "qaqpa-message-id"]
    components += [c for c in ("qaqpa-subject", "qaqpa-purpose") if c in lower]
    lines = []
    for name in components:
        if name == "@method":
            value = method.upper()
        elif name == "@path":
            value = path
        elif name == "@query":
            value = "?" + query
        else:
            value = lower[name].strip()
        lines.append(f'"{name}": {value}')
    params = ("(" + " ".join(f'"{c}"' for c in components) + ")" +
              f';created={int(time.time())};keyid="{keyid}";alg="{alg}"')
    lines.append(f'"@signature-params": {params}')
    base = "\n".join(lines).encode("ascii")
    if alg == "ed25519":
        sig = key.sign(base)
    else:  # RFC 9421 §3.3.4: r||s, 32 bytes each
        r, s = decode_dss_signature(key.sign(base, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    headers["Signature-Input"] = f"sig1={params}"
    headers["Signature"] = "sig1=:" + base64.b64encode(sig).decode() + ":"


def main():
    ap = argparse.ArgumentParser(description="Send one RFC 9421-signed GET to the Qaqpa gateway.")
    ap.add_argument("--key", required=True, help="PEM private key (Ed25519 or EC P-256)")
    ap.add_argument("--keyid", required=True, help="keyid registered in systems.yaml")
    ap.add_argument("--client", required=True, help="Qaqpa-Client (the signing system)")
    ap.add_argument("--url", required=True, help="http[s]://host:port/v1/services/...")
    ap.add_argument("--cacert", help="https: PEM CA certificate(s) that verify the gateway "
                    "(default: the system trust store)")
    ap.add_argument("--cert", help="https: PEM client certificate for mutual TLS")
    ap.add_argument("--cert-key", help="https: PEM private key of --cert (default: read from --cert)")
    ap.add_argument("--subject", help="Qaqpa-Subject, e.g. IIN:900101300017")
    ap.add_argument("--purpose", help="Qaqpa-Purpose, e.g. TAX_ADMINISTRATION")
    ap.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                    help="an extra (unsigned) header; repeatable")
    args = ap.parse_args()

    url = urllib.parse.urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.hostname:
        sys.exit("signed_call.py: --url must be http[s]://host[:port]/path")
    if url.scheme == "http" and (args.cacert or args.cert or args.cert_key):
        sys.exit("signed_call.py: --cacert, --cert and --cert-key need an https:// --url")
    if args.cert_key and not args.cert:
        sys.exit("signed_call.py: --cert-key needs --cert")
    path = url.path or "/"
    target = path + ("?" + url.query if url.query else "")

    with open(args.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)

    body = b""
    headers = {"Host": url.netloc, "Qaqpa-Client": args.client,
               "Qaqpa-Message-Id": str(uuid.uuid4()), "Content-Digest": content_digest(body)}
    if args.subject:
        headers["Qaqpa-Subject"] = args.subject
    if args.purpose:
        headers["Qaqpa-Purpose"] = args.purpose
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            sys.exit(f"signed_call.py: --header must be 'Name: value', got {h!r}")
        headers[name.strip()] = value.strip()
    sign(key, "GET", path, url.query, headers, args.keyid)

    if url.scheme == "https":
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
        try:
            if args.cacert:
                tls.load_verify_locations(cafile=args.cacert)
            else:
                tls.load_default_certs()
            if args.cert:
                tls.load_cert_chain(args.cert, args.cert_key)
        except (OSError, ssl.SSLError) as e:
            sys.exit(f"signed_call.py: TLS files: {e}")
        conn = http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=30, context=tls)
    else:
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
    try:
        conn.request("GET", target, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    except OSError as e:
        sys.exit(f"signed_call.py: {args.url}: {e}")
    finally:
        conn.close()
    out = sys.stdout
    out.write(f"HTTP/{resp.version // 10}.{resp.version % 10} {resp.status} {resp.reason}\r\n")
    for name, value in resp.getheaders():
        out.write(f"{name}: {value}\r\n")
    out.write("\r\n")
    out.flush()
    sys.stdout.buffer.write(data)
    if data and not data.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    return 0  # like curl -i: any HTTP reply is a success; read the status line


if __name__ == "__main__":
    sys.exit(main())
