"""The gateway's response signatures end to end (PROTOCOL.md §2, last paragraph): the real gateway
with a fresh signing key (P-256 in one deployment, Ed25519 in another) serves its JWKS at
GET /v1/keys, and every response it sends — success, denial, unknown route, provider failure,
a request it could not even parse — carries Content-Digest and a `qaqpa` RFC 9421 signature that
Python verifies INDEPENDENTLY of the gateway's code: the public key is rebuilt from the JWK's
coordinates with `cryptography`, the digest recomputed with hashlib, and the covered-component
list and signature base rebuilt from the raw request and response (tests/signing/make_vectors.py,
the same independent implementation the unit cross-check uses). Checked on the state zone (TLS,
certificate-proven client) and the external zone (mutual TLS)."""

import base64
import hashlib
import http.client
import http.server
import os
import socket
import ssl
import sys
import threading
import time
import unittest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

import harness
from harness import BANK, CITIZENS, SOCIAL, TAX
import pki as pki_module
from pki import TestPki

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "signing"))
import make_vectors as mv  # noqa: E402

PERSON = f"IIN:{CITIZENS[0]}"
CLOCK_SLACK_S = 120  # created vs. this machine's clock; both are the same host


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_from_jwk(jwk):
    """RFC 8037 OKP Ed25519 or RFC 7518 EC P-256 JWK -> a `cryptography` public key."""
    if jwk["kty"] == "OKP":
        assert jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA", jwk
        return ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["alg"] == "ES256", jwk
    x, y = b64url_decode(jwk["x"]), b64url_decode(jwk["y"])
    assert len(x) == 32 and len(y) == 32, jwk
    numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                            ec.SECP256R1())
    return numbers.public_key()


class SigningProvider(http.server.ThreadingHTTPServer):
    """A provider that signs its own responses and sends its own Content-Digest (of other bytes):
    the gateway must drop all three headers and put its own."""

    daemon_threads = True
    BODY = b'{"iin":"%s","hasDebt":false}' % CITIZENS[0].encode()
    HEADERS = (
        ("Signature-Input",
         'prov=("@status" "content-digest");created=1;keyid="prov";alg="ed25519"'),
        ("Signature", "prov=:" + base64.b64encode(b"\x01" * 64).decode() + ":"),
        ("Content-Digest",
         "sha-256=:" + base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode() + ":"),
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(SigningProvider.BODY)))
            for name, value in SigningProvider.HEADERS:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(SigningProvider.BODY)

        def log_message(self, *args):
            pass

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SigningProvider.Handler)
        self.thread = threading.Thread(target=self.serve_forever, name="signing-provider",
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=5)


def raw_public(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


class ResponseSignatureCases:
    """Mixed into one GatewayTestCase per algorithm (SIGNING_ALG)."""

    SIGNING_ALG = None
    GATEWAY_OVERRIDES = {
        "workers": 1,
        "demo_trust_client_header": False,
        "listeners": {"space": None, "international": None},
        "signing": {"sign_responses": True},
    }

    @classmethod
    def prepare(cls, dep):
        # harness.Deployment generates the key when it writes the gateway file (after prepare).
        dep.signing_alg = cls.SIGNING_ALG
        dep.signing_kid = f"it-{cls.SIGNING_ALG}-1"
        cls.pki = pki = TestPki(os.path.join(dep.tmp, "pki"))
        server = {"cert_file": pki.server.cert_path, "key_file": pki.server.key_path,
                  "client_ca_file": pki.ca.cert_path}
        dep.gateway_overrides["listeners"].update({
            "state": {"tls": dict(server, client_auth="optional")},
            "external": {"tls": dict(server)},
        })
        systems = dep.bundle._doc("systems.yaml")["systems"]
        by_id = {str(s["id"]): s for s in systems}
        by_id[BANK]["certificates"] = [{"fingerprint_sha256": pki.bank.fingerprint}]
        by_id[TAX]["certificates"] = [{"subject": {"cn": "tax-service", "bin": "240140000021"}}]
        cls.social = pki.ca.issue("social", pki_module._name("social-benefits", "BIN240140000031"),
                                  [ExtendedKeyUsageOID.CLIENT_AUTH])
        by_id[SOCIAL]["certificates"] = [{"fingerprint_sha256": cls.social.fingerprint}]
        dep.bundle.save("systems.yaml")
        # tax.debtStatus (granted to social-benefits) answers with its own signature headers.
        cls.signing_provider = SigningProvider()
        dep.bundle.set_service("tax.debtStatus", upstream_port=cls.signing_provider.server_port)

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
        except BaseException:
            cls._stop_provider()
            raise

    @classmethod
    def _stop_provider(cls):
        provider = getattr(cls, "signing_provider", None)
        if provider is not None:
            provider.stop()
            cls.signing_provider = None

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls._stop_provider()

    # -- transport ----------------------------------------------------------------------------

    def tls(self, client):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.pki.ca.cert_path)
        if client is not None:
            ctx.load_cert_chain(client.cert_path, client.key_path)
        return ctx

    def client_cert(self, listener, client):
        if client == SOCIAL:
            return self.social
        return self.pki.tax if listener == "state" else self.pki.bank

    def send(self, listener, method, target, headers=None, body=None):
        """One request over TLS with the certificate of the Qaqpa-Client sent (tax-service on
        state, bank-core on external by default); returns (Reply, (method, target, headers))."""
        headers = dict(headers or {})
        cert = self.client_cert(listener, headers.get("Qaqpa-Client"))
        conn = http.client.HTTPSConnection("127.0.0.1", self.dep.port(listener),
                                           timeout=harness.HTTP_TIMEOUT_S,
                                           context=self.tls(cert))
        try:
            conn.request(method, target, body=body, headers=headers)
            r = conn.getresponse()
            reply = harness.Reply(r.status, r.reason, r.getheaders(), r.read())
        finally:
            conn.close()
        return reply, (method, target, list(headers.items()))

    def service(self, listener, service, client, subject=None, purpose=None, path=""):
        target = f"/v1/services/{service}" + (f"/{path}" if path else "")
        h = {"Qaqpa-Client": client}
        if subject:
            h["Qaqpa-Subject"] = subject
        if purpose:
            h["Qaqpa-Purpose"] = purpose
        return self.send(listener, "GET", target, h)

    # -- keys and verification ------------------------------------------------------------------

    def jwks(self, listener="state"):
        reply, request = self.send(listener, "GET", "/v1/keys")
        self.assertEqual(reply.status, 200, reply)
        ctype = (reply.header("Content-Type") or "").split(";")[0].strip()
        self.assertEqual(ctype, "application/jwk-set+json", reply)
        doc = reply.json()
        self.assertEqual(set(doc), {"keys"}, doc)
        return reply, request, doc["keys"]

    def active_key(self):
        _, _, keys = self.jwks()
        return keys[0]["kid"], public_key_from_jwk(keys[0])

    def assertSignedByGateway(self, reply, request):
        """The response verifies against the JWKS key, independently of the gateway's code."""
        kid, key = self.active_key()
        self.assertEqual(kid, self.dep.signing_kid)
        try:
            created = mv.check_gateway_response(reply.status, reply.header_list, reply.body,
                                                request, key, kid, self.SIGNING_ALG)
        except AssertionError as e:
            self.fail(f"{e}\n{reply!r}")
        self.assertLess(abs(created - time.time()), CLOCK_SLACK_S, reply)
        # And the check can fail: the same signature does not cover another status or body.
        for status, body in ((reply.status + 1, reply.body), (reply.status, reply.body + b" ")):
            with self.assertRaises(AssertionError):
                mv.check_gateway_response(status, reply.header_list, body, request, key, kid,
                                          self.SIGNING_ALG)
        return created

    def covered(self, reply):
        value = reply.header("Signature-Input")
        return value[len("qaqpa=("):value.index(")")].split(" ")

    # -- JWKS ---------------------------------------------------------------------------------

    def test_jwks_publishes_the_configured_key(self):
        reply, request, keys = self.jwks()
        self.assertEqual(len(keys), 1, keys)
        jwk = keys[0]
        self.assertEqual(jwk["kid"], self.dep.signing_kid)
        self.assertEqual(jwk["use"], "sig")
        for coord in ("x", "y"):
            if coord in jwk:
                self.assertNotIn("=", jwk[coord])
        self.assertNotIn("d", jwk, "no private part is ever published")
        with open(self.dep.signing_key, "rb") as f:
            private = serialization.load_pem_private_key(f.read(), password=None)
        self.assertEqual(raw_public(public_key_from_jwk(jwk)), raw_public(private.public_key()))
        # The JWKS response itself is signed; /v1/keys carries no Qaqpa-Client.
        self.assertSignedByGateway(reply, request)
        self.assertNotIn('"qaqpa-client";req', self.covered(reply))

    def test_jwks_is_the_same_on_the_external_listener(self):
        _, _, state_keys = self.jwks("state")
        reply, request, external_keys = self.jwks("external")
        self.assertEqual(state_keys, external_keys)
        self.assertSignedByGateway(reply, request)

    # -- state zone ----------------------------------------------------------------------------

    def test_state_success_is_signed(self):
        reply, request = self.service("state", "person.byIin", TAX, PERSON, "TAX_ADMINISTRATION",
                                      path=CITIZENS[0])
        self.assertEqual(reply.status, 200, reply)
        self.assertSignedByGateway(reply, request)
        self.assertEqual(self.covered(reply),
                         ['"@status"', '"content-digest"', '"qaqpa-message-id"',
                          '"qaqpa-event-id"', '"qaqpa-status"', '"@method";req', '"@path";req',
                          '"qaqpa-client";req'])

    def test_state_denial_is_signed(self):
        reply, request = self.service("state", "person.byIin", TAX, PERSON, "SOCIAL_BENEFITS",
                                      path=CITIZENS[0])
        self.assertProblem(reply, 403, "ACCESS_DENIED")
        self.assertSignedByGateway(reply, request)

    def test_state_unknown_route_is_signed(self):
        reply, request = self.send("state", "GET", "/no/such/route", {"Qaqpa-Client": TAX})
        self.assertProblem(reply, 404, "SERVICE_NOT_FOUND")
        self.assertSignedByGateway(reply, request)

    def test_state_provider_failure_is_signed(self):
        reply, request = self.service("state", "person.byIin", TAX, PERSON, "TAX_ADMINISTRATION",
                                      path="_demo/status/500")
        self.assertProblem(reply, 502, "PROVIDER_ERROR")
        self.assertSignedByGateway(reply, request)

    def test_provider_signature_headers_are_replaced(self):
        reply, request = self.service("state", "tax.debtStatus", SOCIAL, PERSON,
                                      "SOCIAL_BENEFITS", path=CITIZENS[0])
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.body, SigningProvider.BODY)
        names = [n.lower() for n, _ in reply.header_list]
        for name in ("signature", "signature-input", "content-digest"):
            self.assertEqual(names.count(name), 1, reply)
        for _, value in SigningProvider.HEADERS:
            self.assertNotIn(value, [v for _, v in reply.header_list], reply)
        self.assertSignedByGateway(reply, request)

    def test_unparsable_request_is_signed_without_request_components(self):
        ctx = self.tls(self.pki.tax)
        with socket.create_connection(("127.0.0.1", self.dep.port("state")), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                data = b""
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except (socket.timeout, ssl.SSLError, ConnectionResetError):
                    pass
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = [tuple(part.strip(" ") for part in line.split(":", 1)) for line in lines[1:]]
        length = [int(v) for n, v in headers if n.lower() == "content-length"]
        if length:
            body = body[:length[0]]
        reply = harness.Reply(status, "", headers, body)
        self.assertEqual(reply.status, 400, reply)
        self.assertSignedByGateway(reply, None)
        self.assertFalse([c for c in self.covered(reply) if c.endswith(";req")], reply)

    # -- external zone (mutual TLS) ------------------------------------------------------------

    def test_external_success_is_signed(self):
        reply, request = self.service("external", "legalEntity.byBin", BANK, "BIN:240140000041",
                                      "KYC", path="240140000041")
        self.assertEqual(reply.status, 200, reply)
        self.assertSignedByGateway(reply, request)

    def test_external_denial_is_signed(self):
        reply, request = self.service("external", "tax.debtStatus", BANK, PERSON,
                                      "CREDIT_SCORING")
        self.assertProblem(reply, 403, "ACCESS_DENIED")
        self.assertSignedByGateway(reply, request)

    def test_external_unknown_route_is_signed(self):
        reply, request = self.send("external", "GET", "/no/such/route", {"Qaqpa-Client": BANK})
        self.assertProblem(reply, 404, "SERVICE_NOT_FOUND")
        self.assertSignedByGateway(reply, request)

    def test_external_provider_failure_is_signed(self):
        reply, request = self.service("external", "legalEntity.byBin", BANK, "BIN:240140000041",
                                      "KYC", path="_demo/status/500")
        self.assertProblem(reply, 502, "PROVIDER_ERROR")
        self.assertSignedByGateway(reply, request)


class P256ResponseSignatures(ResponseSignatureCases, harness.GatewayTestCase):
    SIGNING_ALG = "ecdsa-p256-sha256"


class Ed25519ResponseSignatures(ResponseSignatureCases, harness.GatewayTestCase):
    SIGNING_ALG = "ed25519"


if __name__ == "__main__":
    unittest.main()
