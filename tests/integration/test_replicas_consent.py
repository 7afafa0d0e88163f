"""Consents shared by two gateway replicas through one redis-server (issue #6, redis.consents):
a citizen grants a consent in the digital space of replica A (demo login works on both: they
share the demo identity provider key), the bank's call through replica B succeeds with it; the
citizen revokes it on B and the very next call through A is 403 CONSENT_REQUIRED. With Redis
killed, a consent-requiring call fails closed (503 CONSENT_STORE_UNAVAILABLE) on both and the
space's list says so; Redis back (append-only file): the consents are there again."""

import datetime
import json
import unittest

import harness
from harness import BANK, CITIZENS

A = f"IIN:{CITIZENS[0]}"
STATE_TIMEOUT_S = 10.0


def in_future(**delta):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**delta)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def redis_check(replica):
    r = harness.request(replica.port("admin"), "GET", "/readyz", timeout=5)
    return r.json()["checks"].get("redis")


class ReplicaConsentTest(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": 2, "demo_trust_client_header": True}
    REDIS = True
    REPLICAS = 2

    def setUp(self):
        if not self.dep.redis.alive():
            self.dep.redis.start_again()
        for r in self.dep.replicas:
            harness._wait_for(lambda: redis_check(r) == "connected", STATE_TIMEOUT_S,
                              f"{r.name}: redis connected", r.gateway.proc, self.dep.describe)

    def login(self, replica, iin):
        r = harness.request(replica.port("space"), "POST", "/v1/space/demo-login",
                            {"Content-Type": "application/json"},
                            json.dumps({"iin": iin}).encode())
        self.assertEqual(r.status, 200, r)
        return r.json()["token"]

    def space(self, replica, method, target, token, body=None):
        h = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        return harness.request(replica.port("space"), method, target, h, data)

    def bank_call(self, replica, consent_id):
        return replica.call("person.byIin", BANK, A, "CREDIT_SCORING", listener="external",
                            headers={"Qaqpa-Consent": consent_id})

    def grant(self, replica, token):
        r = self.space(replica, "POST", "/v1/space/consents", token, body={
            "client": BANK, "services": ["person.byIin"], "purpose": "CREDIT_SCORING",
            "expires": in_future(days=30)})
        self.assertEqual(r.status, 201, r)
        return r.json()

    def test_granted_on_a_used_on_b_revoked_on_b_refused_on_a(self):
        a, b = self.dep.replicas
        token = self.login(a, CITIZENS[0])
        consent = self.grant(a, token)
        self.assertEqual(consent["state"], "ACTIVE")
        self.assertEqual(self.bank_call(b, consent["id"]).status, 200)
        # The token of A's demo login is good on B (shared identity provider key), and B's
        # space lists the consent made on A.
        listed = self.space(b, "GET", "/v1/space/consents", token)
        self.assertEqual(listed.status, 200, listed)
        self.assertIn(consent["id"], [c["id"] for c in listed.json()["consents"]])
        r = self.space(b, "DELETE", f"/v1/space/consents/{consent['id']}", token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "REVOKED")
        denied = self.bank_call(a, consent["id"])
        body = self.assertProblem(denied, 403, "CONSENT_REQUIRED")
        self.assertEqual(body["reason"], "CONSENT_REVOKED", denied)
        again = self.space(a, "DELETE", f"/v1/space/consents/{consent['id']}", token)
        self.assertEqual(again.status, 200, again)  # already revoked: idempotent, on A too

    def test_operator_consents_are_shared_too(self):
        a, b = self.dep.replicas
        r = harness.request(a.port("admin"), "POST", "/admin/consents",
                            {"Content-Type": "application/json"}, json.dumps({
                                "subject": A, "client": BANK, "services": ["person.byIin"],
                                "purpose": "CREDIT_SCORING", "expires": in_future(days=3),
                                "operator": "test-op"}).encode())
        self.assertEqual(r.status, 201, r)
        consent = r.json()
        subject = A.replace(":", "%3A")
        listed = harness.request(b.port("admin"), "GET",
                                 f"/admin/consents?subject={subject}&operator=op&reason=test")
        self.assertEqual(listed.status, 200, listed)
        self.assertIn(consent["id"], [c["id"] for c in listed.json()["consents"]])
        self.assertEqual(self.bank_call(b, consent["id"]).status, 200)
        revoked = harness.request(b.port("admin"), "DELETE",
                                  f"/admin/consents/{consent['id']}?subject={subject}")
        self.assertEqual(revoked.status, 200, revoked)
        self.assertEqual(revoked.json()["state"], "REVOKED")
        body = self.assertProblem(self.bank_call(a, consent["id"]), 403, "CONSENT_REQUIRED")
        self.assertEqual(body["reason"], "CONSENT_REVOKED")

    def test_redis_down_fails_closed_then_consents_are_back(self):
        a, b = self.dep.replicas
        token = self.login(b, CITIZENS[0])
        consent = self.grant(b, token)
        self.assertEqual(self.bank_call(a, consent["id"]).status, 200)

        self.dep.redis.kill()
        for r in (a, b):
            harness._wait_for(lambda: redis_check(r) in ("down", "connecting"), STATE_TIMEOUT_S,
                              f"{r.name}: redis down", r.gateway.proc, self.dep.describe)
            refused = self.bank_call(r, consent["id"])
            body = self.assertProblem(refused, 503, "PROVIDER_UNAVAILABLE")
            self.assertEqual(body["reason"], "CONSENT_STORE_UNAVAILABLE", refused)
            listed = self.space(r, "GET", "/v1/space/consents", token)
            body = self.assertProblem(listed, 503, "PROVIDER_UNAVAILABLE")
            self.assertEqual(body["reason"], "CONSENT_STORE_UNAVAILABLE", listed)

        self.dep.redis.start_again()
        for r in (a, b):
            harness._wait_for(lambda: redis_check(r) == "connected", STATE_TIMEOUT_S,
                              f"{r.name}: redis connected", r.gateway.proc, self.dep.describe)
            self.assertEqual(self.bank_call(r, consent["id"]).status, 200)


if __name__ == "__main__":
    unittest.main()
