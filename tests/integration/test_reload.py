"""Hot reload (issue #3): POST /admin/reload and SIGHUP build and validate a whole new snapshot
off the workers and swap it atomically; an invalid bundle is refused with every error listed and
the old one keeps serving; no request fails because of a reload, even under load."""

import os
import re
import signal
import threading
import time
import unittest

import harness
from harness import CITIZENS, SOCIAL, TAX

TAX_FILE = os.path.join("providers", "tax-service.yaml")
GRANT_MARKER = "  - client: KZ/GOV/240140000031/social-benefits\n"


class ReloadTest(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": 2, "demo_trust_client_header": True}

    def setUp(self):
        self.path = os.path.join(self.dep.bundle.dir, TAX_FILE)
        with open(self.path, encoding="utf-8") as f:
            self.original = f.read()
        with open(self.dep.config_path, encoding="utf-8") as f:
            self.original_gateway = f.read()
        self.assertIn(GRANT_MARKER, self.original)

    def tearDown(self):
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(self.original)
        with open(self.dep.config_path, "w", encoding="utf-8") as f:
            f.write(self.original_gateway)
        r = self.reload()
        self.assertEqual(r.status, 200, r)

    # -- helpers ------------------------------------------------------------------------------

    def reload(self):
        return harness.request(self.dep.port("admin"), "POST", "/admin/reload")

    def digest(self):
        return harness.request(self.dep.port("admin"), "GET", "/readyz").json()["checks"][
            "policyDigest"]

    def social_reads_tax(self):
        return self.dep.call("tax.debtStatus", SOCIAL, f"IIN:{CITIZENS[0]}", "SOCIAL_BENEFITS")

    def write_tax(self, text):
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(text)

    def without_social_grant(self):
        # The grant list is the end of the file: replace it with an empty one.
        return self.original[: self.original.index("grants:")] + "grants: []\n"

    # -- tests --------------------------------------------------------------------------------

    def test_reload_applies_a_revoked_grant_and_its_return(self):
        self.assertEqual(self.social_reads_tax().status, 200)
        before = self.digest()
        self.write_tax(self.without_social_grant())
        r = self.reload()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["changed"])
        self.assertNotEqual(r.json()["policyDigest"], before)
        self.assertEqual(self.digest(), r.json()["policyDigest"])
        denied = self.social_reads_tax()
        self.assertProblem(denied, 403, "ACCESS_DENIED")
        self.assertEqual(denied.json()["reason"], "NO_GRANT")
        self.write_tax(self.original)
        r = self.reload()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["policyDigest"], before)
        self.assertEqual(self.social_reads_tax().status, 200)

    def test_unchanged_reload_reports_no_change(self):
        r = self.reload()
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.json()["changed"])

    def test_invalid_bundle_is_refused_with_every_error_and_old_one_serves(self):
        before = self.digest()
        broken = self.original.replace("personal_data: true", "personal_data: true\n    colour: red")
        broken = broken.replace("purposes: [SOCIAL_BENEFITS]", "purposes: [NO_SUCH_PURPOSE]")
        self.write_tax(broken)
        r = self.reload()
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.header("Content-Type"), "application/problem+json")
        body = r.json()
        self.assertEqual(body["code"], "VALIDATION_FAILED")
        wheres = " | ".join(e["where"] + ": " + e["message"] for e in body["errors"])
        self.assertGreaterEqual(len(body["errors"]), 2, wheres)
        self.assertIn("colour", wheres)
        self.assertIn("NO_SUCH_PURPOSE", wheres)
        self.assertEqual(self.digest(), before)
        self.assertEqual(self.social_reads_tax().status, 200)

    def test_restart_only_setting_is_refused(self):
        changed, n = re.subn(r"idle_timeout: *\S+", "idle_timeout: 61s", self.original_gateway)
        self.assertEqual(n, 1, self.original_gateway)
        with open(self.dep.config_path, "w", encoding="utf-8") as f:
            f.write(changed)
        r = self.reload()
        self.assertEqual(r.status, 422, r)
        self.assertEqual([e["where"] for e in r.json()["errors"]], ["limits"], r)
        self.assertEqual(self.social_reads_tax().status, 200)

    def test_sighup_reloads(self):
        self.write_tax(self.without_social_grant())
        self.dep.gateway.signal(signal.SIGHUP)
        harness._wait_for(lambda: self.social_reads_tax().status == 403, 10,
                          "SIGHUP reload to revoke the grant")

    def test_no_request_fails_during_repeated_reloads(self):
        stop = threading.Event()
        failures, counts = [], [0]
        lock = threading.Lock()

        def load(keep_alive):
            conn = None
            while not stop.is_set():
                if conn is None or not keep_alive:
                    conn = harness.http.client.HTTPConnection(
                        "127.0.0.1", self.dep.port("state"), timeout=10)
                try:
                    r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[1]}",
                                      "TAX_ADMINISTRATION", conn=conn)
                    with lock:
                        counts[0] += 1
                        if r.status != 200:
                            failures.append(r)
                except Exception as e:  # any transport error is a failure too
                    with lock:
                        failures.append(repr(e))
                    conn = None
                if not keep_alive and conn is not None:
                    conn.close()

        threads = [threading.Thread(target=load, args=(k,)) for k in (True, True, False)]
        for t in threads:
            t.start()
        try:
            for i in range(20):
                self.write_tax(self.without_social_grant() if i % 2 == 0 else self.original)
                r = self.reload()
                self.assertEqual(r.status, 200, r)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        self.assertEqual(failures, [], f"{len(failures)} of {counts[0]} requests failed")
        self.assertGreater(counts[0], 50, "the load generator barely ran")


if __name__ == "__main__":
    unittest.main()
