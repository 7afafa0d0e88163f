"""Provider failures end to end: unreachable provider → 503, provider slower than the service
deadline → 504, and the gateway keeps serving afterwards.

tax.debtStatus points at a port that refuses connections; person.byIin points at a provider that
answers after 3 s while its service timeout is 500 ms.
"""

import time
import unittest

import harness
from harness import BANK, CITIZENS, SOCIAL, TAX

SLOW_DELAY_MS = 3000
SERVICE_TIMEOUT = "500ms"


class ProviderFailureTest(harness.GatewayTestCase):
    # Also checks that the ports file lists exactly the configured listeners.
    GATEWAY_OVERRIDES = {
        "workers": 1,
        "demo_trust_client_header": True,
        "listeners": {"international": None, "space": None},
    }

    @classmethod
    def prepare(cls, dep):
        slow = dep.add_provider("population", delay_ms=SLOW_DELAY_MS)
        dep.bundle.set_service("person.byIin", upstream_port=slow.port, timeout=SERVICE_TIMEOUT)
        dep.bundle.set_service("tax.debtStatus", upstream_port=dep.closed_port())

    def test_unreachable_provider_is_503(self):
        r = self.dep.call("tax.debtStatus", SOCIAL, f"IIN:{CITIZENS[0]}", "SOCIAL_BENEFITS")
        self.assertProblem(r, 503, "PROVIDER_UNAVAILABLE")

    def test_slow_provider_is_504_at_the_deadline(self):
        started = time.monotonic()
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        elapsed = time.monotonic() - started
        self.assertProblem(r, 504, "PROVIDER_TIMEOUT")
        # Generous bound for a noisy machine; the point is it does not wait for the provider.
        self.assertLess(elapsed, SLOW_DELAY_MS / 1000 - 0.5, f"took {elapsed:.2f} s")

    def test_gateway_serves_other_services_after_failures(self):
        self.dep.call("tax.debtStatus", SOCIAL, f"IIN:{CITIZENS[0]}", "SOCIAL_BENEFITS")
        self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        r = self.dep.call("legalEntity.byBin", BANK, "BIN:240140000041", "KYC",
                          listener="external")
        self.assertEqual(r.status, 200, r)

    def test_ports_file_lists_only_configured_listeners(self):
        self.assertEqual(set(self.dep.ports), {"state", "external", "admin"}, self.dep.ports)

    def test_failure_problems_do_not_leak_upstream_address(self):
        r = self.dep.call("tax.debtStatus", SOCIAL, f"IIN:{CITIZENS[0]}", "SOCIAL_BENEFITS",
                          language="en")
        body = self.assertProblem(r, 503)
        self.assertNotIn("127.0.0.1", body["title"] + body["detail"])


if __name__ == "__main__":
    unittest.main()
