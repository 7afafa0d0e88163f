"""Policy state shared by two gateway replicas through one redis-server (issue #6 item 3): a
grant's rate limit holds for replicas A and B together (calls alternating between them); a
message id accepted by A is DUPLICATE on B; with Redis killed each replica decides alone (calls
succeed, each limits on its own, the fallback shows in /metrics), and once Redis is back the
decisions are shared again. Nothing sleeps for timing: waits poll with a deadline."""

import math
import re
import time
import unittest
import uuid

import harness
from harness import CITIZENS, SOCIAL, TAX

POP = "providers/population-register.yaml"
STATE_TIMEOUT_S = 10.0


def metric(replica, name, labels=None):
    """A sample of /metrics of one replica (0 when the labelled sample is absent)."""
    text = harness.request(replica.port("admin"), "GET", "/metrics", timeout=5).body.decode()
    want = "" if not labels else "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = m.group(2) or ""
        if labels and all(f'{k}="{v}"' in got for k, v in labels.items()):
            return float(m.group(3))
        if not labels and got == want:
            return float(m.group(3))
    return 0.0


def redis_check(replica):
    r = harness.request(replica.port("admin"), "GET", "/readyz", timeout=5)
    return r.json()["checks"].get("redis")


def wait_connected(test, replica):
    harness._wait_for(lambda: redis_check(replica) == "connected", STATE_TIMEOUT_S,
                      f"{replica.name}: redis connected", replica.gateway.proc,
                      test.dep.describe)


def tax_call(replica, message_id=None):
    headers = {"Qaqpa-Message-Id": message_id} if message_id else {}
    return replica.call("person.byIin", TAX, f"IIN:{CITIZENS[2]}", "TAX_ADMINISTRATION",
                        headers=headers)


def social_call(replica, message_id):
    return replica.call("person.byIin", SOCIAL, f"IIN:{CITIZENS[1]}", "SOCIAL_BENEFITS",
                        headers={"Qaqpa-Message-Id": message_id})


class _TwoReplicas(harness.GatewayTestCase):
    # policy_timeout well above the default: on a loaded test machine a 10 ms check may time out
    # and be decided locally (by design, counted); these tests are about the shared decisions and
    # check that none was local. Outages are made by killing Redis, which fails checks at once.
    GATEWAY_OVERRIDES = {"workers": 2, "demo_trust_client_header": True,
                         "redis": {"policy_timeout": "1s"}}
    REDIS = True
    REPLICAS = 2
    PER_MINUTE = 30  # 0.5/s
    BURST = 4

    @classmethod
    def prepare(cls, dep):
        # Only the tax service's grant is limited; social-benefits' is not (replay tests).
        doc = dep.bundle._doc(POP)
        for g in doc["grants"]:
            if str(g["client"]) == TAX:
                g["rate_limit"] = {"per_minute": cls.PER_MINUTE, "burst": cls.BURST}
        dep.bundle.save(POP)

    def setUp(self):
        if not self.dep.redis.alive():
            self.dep.redis.start_again()
        for r in self.dep.replicas:
            wait_connected(self, r)


class ReplicaPolicyTest(_TwoReplicas):
    def test_a_grants_rate_limit_holds_across_both_replicas(self):
        a, b = self.dep.replicas
        admitted = 0
        refused = {a.name: 0, b.name: 0}
        start = time.monotonic()
        for i in range(16):
            replica = (a, b)[i % 2]
            r = tax_call(replica)
            if r.status == 200:
                admitted += 1
                continue
            body = self.assertProblem(r, 429, "RATE_LIMITED")
            self.assertEqual(body["reason"], "RATE_EXCEEDED", r)
            retry_after = r.header("Retry-After")
            self.assertIsNotNone(retry_after, r)
            self.assertGreaterEqual(int(retry_after), 1, r)
            self.assertLessEqual(int(retry_after), math.ceil(1 / (self.PER_MINUTE / 60)), r)
            refused[replica.name] += 1
        elapsed = time.monotonic() - start
        # Each replica alone would admit BURST (8 together); the grant's one bucket admits
        # at most rate·t + burst over the whole run.
        self.assertGreaterEqual(admitted, self.BURST)
        self.assertLessEqual(admitted, math.floor((self.PER_MINUTE / 60) * elapsed + self.BURST),
                             f"{admitted} admitted in {elapsed:.2f} s")
        self.assertGreater(refused[a.name], 0, refused)
        self.assertGreater(refused[b.name], 0, refused)
        for r in (a, b):
            self.assertGreater(metric(r, "qaqpa_shared_state_decisions_total",
                                      {"check": "rate", "source": "shared"}), 0)
            self.assertEqual(metric(r, "qaqpa_shared_state_decisions_total",
                                    {"check": "rate", "source": "local"}), 0, r.name)

    def test_a_message_id_accepted_by_a_is_duplicate_on_b(self):
        a, b = self.dep.replicas
        mid = str(uuid.uuid4())
        r = social_call(a, mid)
        self.assertEqual(r.status, 200, r)
        dup = social_call(b, mid)
        body = self.assertProblem(dup, 409, "DUPLICATE")
        self.assertEqual(body["reason"], "MESSAGE_REPLAYED", dup)
        self.assertEqual(social_call(a, mid).status, 409)
        # And the other way round.
        mid2 = str(uuid.uuid4())
        self.assertEqual(social_call(b, mid2).status, 200)
        self.assertEqual(social_call(a, mid2).status, 409)


class ReplicaOutageTest(_TwoReplicas):
    PER_MINUTE = 12  # 0.2/s
    BURST = 3

    def test_redis_down_each_replica_decides_alone_then_shared_again(self):
        a, b = self.dep.replicas
        before = str(uuid.uuid4())
        self.assertEqual(social_call(a, before).status, 200)

        self.dep.redis.kill()
        for r in (a, b):
            harness._wait_for(lambda: redis_check(r) in ("down", "connecting"), STATE_TIMEOUT_S,
                              f"{r.name}: redis down", r.gateway.proc, self.dep.describe)
        # Calls keep succeeding; each replica enforces the grant's whole burst on its own.
        admitted = {}
        start = time.monotonic()
        for r in (a, b):
            n = 0
            for _ in range(self.BURST + 4):
                reply = tax_call(r)
                if reply.status == 200:
                    n += 1
                else:
                    self.assertProblem(reply, 429, "RATE_LIMITED")
                    self.assertIsNotNone(reply.header("Retry-After"), reply)
            admitted[r.name] = n
        elapsed = time.monotonic() - start
        for r in (a, b):
            self.assertGreaterEqual(admitted[r.name], self.BURST, admitted)
            self.assertLessEqual(admitted[r.name], math.floor((self.PER_MINUTE / 60) * elapsed + self.BURST),
                                 admitted)
        # A still catches the id it accepted while Redis was up (its local mirror).
        self.assertEqual(social_call(a, before).status, 409)
        # An id accepted by A during the outage is still a duplicate on A.
        during = str(uuid.uuid4())
        self.assertEqual(social_call(a, during).status, 200)
        self.assertEqual(social_call(a, during).status, 409)
        for r in (a, b):
            self.assertGreater(metric(r, "qaqpa_shared_state_decisions_total",
                                      {"check": "rate", "source": "local"}), 0, r.name)
            self.assertGreater(metric(r, "qaqpa_shared_state_fallbacks_total",
                                      {"reason": "disconnected"}), 0, r.name)

        # Redis back: the next decisions are shared again, by both.
        self.dep.redis.start_again()
        for r in (a, b):
            wait_connected(self, r)
        local = {r.name: metric(r, "qaqpa_shared_state_decisions_total",
                                {"check": "replay", "source": "local"}) for r in (a, b)}
        shared = {r.name: metric(r, "qaqpa_shared_state_decisions_total",
                                 {"check": "replay", "source": "shared"}) for r in (a, b)}
        after = str(uuid.uuid4())
        self.assertEqual(social_call(b, after).status, 200)
        self.assertEqual(social_call(a, after).status, 409)
        for r in (a, b):
            self.assertEqual(metric(r, "qaqpa_shared_state_decisions_total",
                                    {"check": "replay", "source": "local"}), local[r.name])
            self.assertGreater(metric(r, "qaqpa_shared_state_decisions_total",
                                      {"check": "replay", "source": "shared"}), shared[r.name])


if __name__ == "__main__":
    unittest.main()
