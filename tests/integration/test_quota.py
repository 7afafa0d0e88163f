"""Quotas end to end (issue #3): a grant's rate limit answers 429 RATE_LIMITED with Retry-After
and recovers; a refused request does not use up its message id; a reload with unchanged limits
keeps the bucket."""

import unittest
import uuid

import harness
from harness import CITIZENS, TAX

POP = "providers/population-register.yaml"


class QuotaTest(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": 2, "demo_trust_client_header": True}

    @classmethod
    def prepare(cls, dep):
        doc = dep.bundle._doc(POP)
        for g in doc["grants"]:
            if str(g["client"]) == TAX:
                g["rate_limit"] = {"per_second": 1, "burst": 3}
        dep.bundle.save(POP)

    def call(self, message_id=None):
        headers = {"Qaqpa-Message-Id": message_id} if message_id else {}
        return self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[2]}", "TAX_ADMINISTRATION",
                             headers=headers)

    def drain_bucket(self):
        for _ in range(10):
            if self.call().status == 429:
                return
        self.fail("the bucket never emptied")

    def test_burst_then_429_with_retry_after_then_recovery(self):
        self.drain_bucket()
        r = self.call()
        body = self.assertProblem(r, 429, "RATE_LIMITED")
        self.assertEqual(body["reason"], "RATE_EXCEEDED")
        self.assertEqual(r.header("Retry-After"), "1")
        harness._wait_for(lambda: self.call().status == 200, 5, "the bucket to refill")

    def test_rate_limited_request_keeps_its_message_id(self):
        self.drain_bucket()
        mid = str(uuid.uuid4())
        self.assertEqual(self.call(mid).status, 429)
        harness._wait_for(lambda: self.call(mid).status == 200, 5,
                          "the same message id to pass once the bucket refills")

    def test_reload_keeps_an_unchanged_bucket(self):
        self.drain_bucket()
        r = harness.request(self.dep.port("admin"), "POST", "/admin/reload")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.call().status, 429, "a reload must not refill the bucket")

    def test_other_grants_are_not_limited(self):
        self.drain_bucket()
        r = self.dep.call("person.byIin", "KZ/GOV/240140000031/social-benefits",
                          f"IIN:{CITIZENS[2]}", "SOCIAL_BENEFITS")
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
