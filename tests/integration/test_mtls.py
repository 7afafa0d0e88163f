"""Mutual TLS end to end (issue #3): the gateway with real TLS listeners, certificates made by the
test (pki.py), demo trust OFF. external and international require client certificates; state
serves TLS with optional client certificates. Each refused certificate shape is tried for real."""

import http.client
import os
import ssl
import unittest
import uuid

import harness
from harness import BANK, CITIZENS, SOCIAL, TAX
from pki import TestPki
from test_signatures import content_digest, new_key, public_pem, sign

AMGW = "AM/INT/AMGW/national-gateway"


class MutualTlsTest(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": 1, "demo_trust_client_header": False, "listeners": {
        "space": None}}

    @classmethod
    def prepare(cls, dep):
        cls.pki = pki = TestPki(os.path.join(dep.tmp, "pki"))
        server = {"cert_file": pki.server.cert_path, "key_file": pki.server.key_path,
                  "client_ca_file": pki.ca.cert_path}
        dep.gateway_overrides["listeners"].update({
            "state": {"tls": dict(server, client_auth="optional")},
            "external": {"tls": dict(server)},
            "international": {"tls": dict(server, min_version="1.3")},
        })
        systems = dep.bundle._doc("systems.yaml")["systems"]
        by_id = {str(s["id"]): s for s in systems}
        by_id[BANK]["certificates"] = [{"fingerprint_sha256": pki.bank.fingerprint}]
        by_id[TAX]["certificates"] = [{"subject": {"cn": "tax-service", "bin": "240140000021"}}]
        by_id[AMGW]["certificates"] = [{"subject": {"cn": "AMGW national gateway"}}]
        # International requests are always signed as well (PROTOCOL.md §2).
        cls.amgw_key = new_key("p256")
        os.makedirs(os.path.join(dep.bundle.dir, "keys"))
        with open(os.path.join(dep.bundle.dir, "keys", "amgw.pem"), "wb") as f:
            f.write(public_pem(cls.amgw_key))
        by_id[AMGW]["signature_keys"] = [{"keyid": "amgw-1", "alg": "ecdsa-p256-sha256",
                                          "public_key_file": "keys/amgw.pem"}]
        dep.bundle.save("systems.yaml")

    def tls(self, client=None, maximum=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.pki.ca.cert_path)
        if client is not None:
            ctx.load_cert_chain(client.cert_path, client.key_path)
        if maximum is not None:
            ctx.maximum_version = maximum
        return ctx

    def call(self, listener, service, client_header, client_cert, subject=None, purpose=None,
             path="", maximum=None, signed_by=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.dep.port(listener), timeout=10,
                                           context=self.tls(client_cert, maximum))
        headers = {"Qaqpa-Client": client_header}
        if subject:
            headers["Qaqpa-Subject"] = subject
        if purpose:
            headers["Qaqpa-Purpose"] = purpose
        try:
            target = f"/v1/services/{service}" + (f"/{path}" if path else "")
            if signed_by is not None:
                headers["Qaqpa-Message-Id"] = str(uuid.uuid4())
                headers["Content-Digest"] = content_digest(b"")
                sign("GET", target, headers, signed_by[0], key=signed_by[1],
                     alg="ecdsa-p256-sha256",
                     components=("@method", "@path", "@query", "content-digest", "qaqpa-client",
                                 "qaqpa-message-id"))
            conn.request("GET", target, headers=headers)
            r = conn.getresponse()
            return harness.Reply(r.status, r.reason, r.getheaders(), r.read())
        finally:
            conn.close()

    def handshake_failures(self, listener):
        text = harness.request(self.dep.port("admin"), "GET", "/metrics").body.decode()
        prefix = f'qaqpa_tls_handshake_failures_total{{listener="{listener}"}} '
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line[len(prefix):])
        raise AssertionError(f"no {prefix!r} in /metrics")

    def assertRefusedAtHandshake(self, listener, cert, **kw):
        before = self.handshake_failures(listener)
        with self.assertRaises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected,
                                OSError)):
            self.call(listener, "legalEntity.byBin", BANK, cert, path="240140000041",
                      purpose="KYC", **kw)
        # The gateway itself refused (not the client giving up on the server's certificate).
        harness._wait_for(lambda: self.handshake_failures(listener) > before, 5,
                          "the gateway to count the failed handshake")

    # -- accepted ---------------------------------------------------------------------------

    def test_registered_fingerprint_is_accepted_on_external(self):
        r = self.call("external", "legalEntity.byBin", BANK, self.pki.bank, path="240140000041",
                      purpose="KYC")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Qaqpa-Status"), "OK")

    def test_registered_subject_is_accepted_on_state(self):
        r = self.call("state", "person.byIin", TAX, self.pki.tax, f"IIN:{CITIZENS[0]}",
                      "TAX_ADMINISTRATION")
        self.assertEqual(r.status, 200, r)

    def test_international_peer_over_tls13(self):
        r = self.call("international", "legalEntity.byBin", AMGW, self.pki.amgw,
                      path="240140000011", signed_by=("amgw-1", self.amgw_key))
        self.assertEqual(r.status, 200, r)

    def test_international_peer_must_also_sign(self):
        r = self.call("international", "legalEntity.byBin", AMGW, self.pki.amgw,
                      path="240140000011")
        body = self.assertProblem(r, 401, "SIGNATURE_INVALID")
        self.assertEqual(body["reason"], "SIGNATURE_MISSING")

    def test_tls12_is_still_accepted_on_external(self):
        r = self.call("external", "legalEntity.byBin", BANK, self.pki.bank, path="240140000041",
                      purpose="KYC", maximum=ssl.TLSVersion.TLSv1_2)
        self.assertEqual(r.status, 200, r)

    # -- refused at the handshake -----------------------------------------------------------

    def test_no_client_certificate_on_external(self):
        self.assertRefusedAtHandshake("external", None)

    def test_expired_certificate(self):
        self.assertRefusedAtHandshake("external", self.pki.bank_expired)

    def test_certificate_from_another_ca(self):
        self.assertRefusedAtHandshake("external", self.pki.bank_rogue)

    def test_certificate_without_client_auth_usage(self):
        self.assertRefusedAtHandshake("external", self.pki.bank_server_only)

    def test_tls12_refused_where_13_is_required(self):
        self.assertRefusedAtHandshake("international", self.pki.amgw,
                                      maximum=ssl.TLSVersion.TLSv1_2)

    def test_plain_http_to_a_tls_listener_gets_no_http_answer(self):
        with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
            harness.request(self.dep.port("external"), "GET", "/v1/services/legalEntity.byBin",
                            {"Qaqpa-Client": BANK})

    # -- refused by identity mapping (valid certificate, wrong system) -----------------------

    def test_unregistered_certificate_is_auth_failed(self):
        r = self.call("external", "legalEntity.byBin", BANK, self.pki.stranger,
                      path="240140000041", purpose="KYC")
        body = self.assertProblem(r, 401, "AUTH_FAILED")
        self.assertEqual(body["reason"], "CLIENT_CERT_UNKNOWN")

    def test_header_naming_another_system_than_the_certificate(self):
        # the tax service's certificate, claiming to be social-benefits
        r = self.call("state", "person.byIin", SOCIAL, self.pki.tax, f"IIN:{CITIZENS[0]}",
                      "SOCIAL_BENEFITS")
        body = self.assertProblem(r, 401, "AUTH_FAILED")
        self.assertEqual(body["reason"], "CLIENT_CERT_MISMATCH")

    def test_state_without_client_certificate_is_not_proven(self):
        r = self.call("state", "person.byIin", TAX, None, f"IIN:{CITIZENS[0]}",
                      "TAX_ADMINISTRATION")
        body = self.assertProblem(r, 401, "AUTH_FAILED")
        self.assertEqual(body["reason"], "CLIENT_NOT_PROVEN")

    def test_gateway_keeps_serving_after_refusals(self):
        self.assertRefusedAtHandshake("external", self.pki.bank_rogue)
        r = self.call("external", "legalEntity.byBin", BANK, self.pki.bank, path="240140000041",
                      purpose="KYC")
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
