"""Redis plumbing (issue #6, foundations): with a `redis:` section every worker connects its own
client to a real redis-server (unix socket, started by the harness); /readyz reports
checks.redis (connected / connecting / down / off) without making readiness depend on it; an
outage (redis-server killed) is seen within a bounded wait while zone calls keep succeeding; a
restarted server is reconnected to and the reconnects show in /metrics. The section is
restart-only (a reload that changes it is refused). Nothing here sleeps for timing: every wait
polls with a deadline."""

import re
import unittest

import harness
from harness import CITIZENS, TAX

WORKERS = 2
# reconnect_max is 200 ms in the harness's redis section: state changes are seen well within this.
STATE_TIMEOUT_S = 10.0


def readyz(dep):
    return harness.request(dep.port("admin"), "GET", "/readyz", timeout=5)


def redis_check(dep):
    return readyz(dep).json()["checks"].get("redis")


def metric(dep, name):
    """The value of an unlabelled sample in /metrics."""
    text = harness.request(dep.port("admin"), "GET", "/metrics", timeout=5).body.decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def wait_for_check(dep, wanted, what):
    def seen():
        check = redis_check(dep)
        return check if check in wanted else None

    return harness._wait_for(seen, STATE_TIMEOUT_S, what, dep.gateway.proc, dep.describe)


class RedisPlumbingTest(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": WORKERS, "demo_trust_client_header": True}
    REDIS = True

    def call_zone(self):
        return self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")

    def setUp(self):
        # Every test starts with the server up and every worker connected (a test may kill it).
        if not self.dep.redis.alive():
            self.dep.redis.start_again()
        wait_for_check(self.dep, ("connected",), "redis connected before the test")

    def test_readiness_reports_redis_connected(self):
        r = readyz(self.dep)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertTrue(body["ready"], body)
        self.assertEqual(body["checks"]["redis"], "connected", body)
        harness._wait_for(lambda: metric(self.dep, "qaqpa_redis_connected") == WORKERS,
                          STATE_TIMEOUT_S, "qaqpa_redis_connected == workers")

    def test_outage_is_reported_and_recovered_while_calls_succeed(self):
        reconnects_before = metric(self.dep, "qaqpa_redis_reconnects_total")
        lost_before = metric(self.dep, "qaqpa_redis_connections_lost_total")

        self.dep.redis.kill()
        check = wait_for_check(self.dep, ("down", "connecting"), "redis reported down")
        self.assertIn(check, ("down", "connecting"))
        # Reported only: nothing serves from Redis yet, so readiness and calls are unaffected.
        r = readyz(self.dep)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["ready"], r)
        for _ in range(3):
            reply = self.call_zone()
            self.assertEqual(reply.status, 200, reply)
        harness._wait_for(
            lambda: metric(self.dep, "qaqpa_redis_connections_lost_total") >= lost_before + WORKERS,
            STATE_TIMEOUT_S, "every worker's lost connection counted")
        self.assertLess(metric(self.dep, "qaqpa_redis_connected"), WORKERS)

        self.dep.redis.start_again()
        wait_for_check(self.dep, ("connected",), "redis connected again after the restart")
        harness._wait_for(
            lambda: metric(self.dep, "qaqpa_redis_reconnects_total") >= reconnects_before + WORKERS,
            STATE_TIMEOUT_S, "every worker's reconnect counted")
        self.assertEqual(metric(self.dep, "qaqpa_redis_connected"), WORKERS)
        self.assertGreater(metric(self.dep, "qaqpa_redis_connect_failures_total"), 0)
        self.assertEqual(self.call_zone().status, 200)
        log = self.dep.gateway.log()
        self.assertIn("redis connection lost; reconnecting", log)
        self.assertIn("redis connected", log)

    def test_redis_section_is_restart_only(self):
        with open(self.dep.config_path, encoding="utf-8") as f:
            original = f.read()
        changed, n = re.subn(r"reconnect_max: *200ms", "reconnect_max: 300ms", original)
        self.assertEqual(n, 1, original)
        try:
            with open(self.dep.config_path, "w", encoding="utf-8") as f:
                f.write(changed)
            r = harness.request(self.dep.port("admin"), "POST", "/admin/reload")
            self.assertEqual(r.status, 422, r)
            self.assertEqual([e["where"] for e in r.json()["errors"]], ["redis"], r)
        finally:
            with open(self.dep.config_path, "w", encoding="utf-8") as f:
                f.write(original)
        self.assertEqual(redis_check(self.dep), "connected")


class RedisAbsentServerTest(harness.GatewayTestCase):
    """A configured Redis that does not answer (as with the committed demo file and no
    redis-server): the gateway starts, is ready and serves; checks.redis says so."""

    GATEWAY_OVERRIDES = {"workers": 1, "demo_trust_client_header": True,
                         "redis": {"address": "unix:no-redis-here.sock",
                                   "reconnect_initial": harness.Plain("20ms"),
                                   "reconnect_max": harness.Plain("200ms")}}

    def test_ready_and_serving_without_redis(self):
        r = readyz(self.dep)
        self.assertEqual(r.status, 200, r)
        self.assertIn(r.json()["checks"]["redis"], ("down", "connecting"), r)
        reply = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(metric(self.dep, "qaqpa_redis_connected"), 0)


class RedisOffTest(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": 1}

    def test_redis_check_is_off_without_a_section(self):
        r = readyz(self.dep)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["checks"]["redis"], "off", r)


if __name__ == "__main__":
    unittest.main()
