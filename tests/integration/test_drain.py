"""Graceful drain: SIGTERM while a slow request is in flight → that request still completes
(200 when the provider answers inside the service deadline, 504 when the deadline passes first)
and the gateway then exits 0 within its drain timeout. One deployment per test."""

import signal
import threading
import time
import unittest
from contextlib import closing

import harness
from harness import CITIZENS, TAX

DRAIN_TIMEOUT_S = 10


class DrainTest(unittest.TestCase):
    def run_drain(self, delay_ms, service_timeout, expected_status):
        def prepare(dep):
            slow = dep.add_provider("population", delay_ms=delay_ms)
            dep.bundle.set_service("person.byIin", upstream_port=slow.port,
                                   timeout=service_timeout)
            dep.slow = slow

        dep = harness.build_deployment(
            f"drain-{expected_status}",
            {"workers": 1, "demo_trust_client_header": True,
             "drain_timeout": f"{DRAIN_TIMEOUT_S}s"},
            prepare=prepare)
        try:
            result = {}

            def call():
                try:
                    result["reply"] = dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}",
                                               "TAX_ADMINISTRATION", timeout=30)
                except Exception as e:  # noqa: BLE001 - asserted below
                    result["error"] = e

            t = threading.Thread(target=call)
            t.start()
            with closing(dep.slow.connection()) as conn:
                harness._wait_for(lambda: dep.slow.stats(conn)["in_flight"] >= 1, 10,
                                  "request in flight at the provider")
            signaled = time.monotonic()
            dep.gateway.signal(signal.SIGTERM)
            t.join(timeout=30)
            self.assertFalse(t.is_alive())
            self.assertNotIn("error", result, result)
            reply = result["reply"]
            self.assertEqual(reply.status, expected_status, reply)
            rc = dep.gateway.wait(DRAIN_TIMEOUT_S + 5)
            self.assertIsNotNone(rc, "the gateway did not exit after the drain")
            self.assertEqual(rc, 0)
            # It leaves as soon as nothing is in flight, not at the drain deadline.
            self.assertLess(time.monotonic() - signaled, DRAIN_TIMEOUT_S - 3)
        except BaseException:
            dep.failed = True
            raise
        finally:
            dep.stop()

    def test_in_flight_request_completes_with_200(self):
        self.run_drain(delay_ms=1500, service_timeout="8s", expected_status=200)

    def test_in_flight_request_completes_with_504(self):
        self.run_drain(delay_ms=3000, service_timeout="800ms", expected_status=504)


if __name__ == "__main__":
    unittest.main()
