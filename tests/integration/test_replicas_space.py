"""The citizen's digital space across two gateway replicas sharing one redis-server (issue #6
item 3, docs/space.md "Several replicas"): each replica's outbox ships its journal's events to
Redis and the event routes of either replica read them from there. A citizen's events from calls
on A and on B are visible through either replica — list (pages whose cursor was issued by the
other replica), one event with its proof (hash chain and the checkpoint signed by the replica
that journaled it, checked here with /v1/keys), CSV — newest first, each exactly once. Redis
killed during calls: the calls keep being journaled locally, the event routes answer 503
INDEX_UNAVAILABLE (never a partial list) and /readyz shows it; once Redis is back every event
appears exactly once (outbox catch-up). A replica restarted: still no duplicate. Nothing sleeps
for timing: waits poll with a deadline."""

import base64
import csv
import io
import json
import unittest

from cryptography.hazmat.primitives import hashes

import harness
from harness import CITIZENS, TAX

STATE_TIMEOUT_S = 20.0


def readyz(replica):
    return harness.request(replica.port("admin"), "GET", "/readyz", timeout=5).json()


def tax_call(replica, iin):
    return replica.call("person.byIin", TAX, f"IIN:{iin}", "TAX_ADMINISTRATION")


class ReplicasSpaceTest(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": 2, "demo_trust_client_header": True}
    REDIS = True
    REPLICAS = 2

    # -- helpers ---------------------------------------------------------------------------

    def setUp(self):
        if not self.dep.redis.alive():
            self.dep.redis.start_again()
        for r in self.dep.replicas:
            self.wait_check(r, "redis", ("connected",))

    def wait_check(self, replica, check, wanted):
        def seen():
            got = readyz(replica)["checks"].get(check)
            return got if got in wanted else None

        return harness._wait_for(seen, STATE_TIMEOUT_S, f"{replica.name}: {check} in {wanted}",
                                 replica.gateway.proc, self.dep.describe)

    def wait_caught_up(self):
        """Every replica's outbox has shipped everything, and every worker's own connection
        (what the event routes read through) is back: the outbox has its own connection, which
        may reconnect before the workers' do after a Redis restart."""
        for r in self.dep.replicas:
            self.wait_check(r, "outbox", ("caught-up",))
            self.wait_check(r, "redis", ("connected",))

    def login(self, replica, iin):
        r = harness.request(replica.port("space"), "POST", "/v1/space/demo-login",
                            {"Content-Type": "application/json"},
                            json.dumps({"iin": iin}).encode())
        self.assertEqual(r.status, 200, r)
        return r.json()["token"]

    def space(self, replica, target, token, headers=None):
        h = dict(headers or {})
        h["Authorization"] = f"Bearer {token}"
        return harness.request(replica.port("space"), "GET", target, h)

    def walk(self, token, limit, replicas):
        """Every page of the citizen's events, each page asked of the next replica in turn (so
        a cursor issued by one replica is used on the other)."""
        events, cursor, i = [], None, 0
        for _ in range(500):
            replica = replicas[i % len(replicas)]
            i += 1
            q = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            r = self.space(replica, "/v1/space/events" + q, token)
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertLessEqual(len(body["events"]), limit)
            events += body["events"]
            cursor = body.get("nextCursor")
            if not cursor:
                return events
        self.fail("pages never ended")

    def check_proof(self, replica, token, event_id, expected_node):
        r = self.space(replica, f"/v1/space/events/{event_id}", token)
        self.assertEqual(r.status, 200, r)
        event, proof = r.json()["event"], r.json()["proof"]
        self.assertEqual(event["eventId"], event_id)
        self.assertEqual(event["nodeId"], expected_node)
        canonical = base64.b64decode(proof["canonical"])
        digest = hashes.Hash(hashes.SHA256())
        digest.update(base64.b64decode(proof["prevHash"]) + canonical)
        self.assertEqual(base64.b64encode(digest.finalize()).decode(), proof["hash"])
        self.assertEqual(proof["hash"], event["hash"])
        self.assertTrue(proof["covered"], proof)
        cp = proof["checkpoint"]
        self.assertEqual(cp["nodeId"], expected_node)
        self.assertLessEqual(cp["firstSeq"], event["seq"])
        self.assertLessEqual(event["seq"], cp["lastSeq"])
        # The key that signed the other replica's checkpoint is published by this one too.
        jwks = harness.request(replica.port("space"), "GET", "/v1/keys").json()
        harness.verify_checkpoint_signature(jwks, cp, proof["checkpointCanonical"])
        if event["seq"] == cp["lastSeq"]:
            self.assertEqual(cp["chainHead"], proof["hash"])

    def csv_ids(self, replica, token, wanted):
        r = self.space(replica, "/v1/space/events.csv", token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Qaqpa-Export-Complete"), "true")
        text = r.body[3:].decode("utf-8")
        cells = [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
        return [w for w in wanted for c in cells if c == w]

    def assert_exactly(self, token, expected_ids):
        """Through each replica (and alternating between them): every expected event exactly
        once, nothing else, newest first."""
        a, b = self.dep.replicas
        for order in ((a,), (b,), (a, b), (b, a)):
            for limit in (1, 3, 200):
                events = self.walk(token, limit, order)
                ids = [e["eventId"] for e in events]
                self.assertEqual(len(ids), len(set(ids)), f"duplicates via {order}: {ids}")
                self.assertEqual(set(ids), set(expected_ids), f"via {[r.name for r in order]}")
                times = [e["time"] for e in events]
                self.assertEqual(times, sorted(times, reverse=True), times)

    # -- tests -----------------------------------------------------------------------------

    def test_events_from_both_replicas_visible_through_either(self):
        a, b = self.dep.replicas
        iin = CITIZENS[0]
        calls = []
        for replica in (a, b, a, b, b):
            r = tax_call(replica, iin)
            self.assertEqual(r.status, 200, r)
            calls.append((replica, r.header("Qaqpa-Event-Id")))
        self.wait_caught_up()
        token = self.login(a, iin)
        token_b = self.login(b, iin)
        expected = [eid for _, eid in calls]
        self.assert_exactly(token, expected)
        self.assert_exactly(token_b, expected)
        for replica, eid in calls:
            for via in (a, b):
                self.check_proof(via, token, eid, replica.node_id)
        for via in (a, b):
            self.assertEqual(sorted(self.csv_ids(via, token, expected)), sorted(expected))
        # Another citizen sees none of them, by list or by id.
        other = self.login(b, CITIZENS[1])
        listed = [e["eventId"] for e in self.walk(other, 200, (a, b))]
        self.assertFalse(set(listed) & set(expected))
        for via in (a, b):
            r = self.space(via, f"/v1/space/events/{expected[0]}", other)
            self.assertProblem(r, 404)
        # A cursor from A refused for another citizen on B.
        r = self.space(a, "/v1/space/events?limit=1", token)
        cursor = r.json()["nextCursor"]
        r = self.space(b, f"/v1/space/events?limit=1&cursor={cursor}", other)
        self.assertProblem(r, 400, "VALIDATION_FAILED")

    def test_redis_outage_journals_locally_503s_then_everything_once(self):
        a, b = self.dep.replicas
        iin = CITIZENS[1]
        token = self.login(a, iin)
        calls = []
        for replica in (a, b):
            r = tax_call(replica, iin)
            self.assertEqual(r.status, 200, r)
            calls.append((replica, r.header("Qaqpa-Event-Id")))
        self.wait_caught_up()

        self.dep.redis.kill()
        for replica in (a, b, a, b):
            r = tax_call(replica, iin)
            self.assertEqual(r.status, 200, r)  # journaled locally, the call is served
            calls.append((replica, r.header("Qaqpa-Event-Id")))
        for replica in (a, b):
            self.wait_check(replica, "outbox", ("down",))
            body = readyz(replica)
            self.assertIn(body["checks"]["redis"], ("down", "connecting"), body)
            self.assertGreaterEqual(body["checks"]["outboxLag"], 2, body)
            for target in ("/v1/space/events", f"/v1/space/events/{calls[0][1]}",
                           "/v1/space/events.csv"):
                r = self.space(replica, target, token)
                problem = self.assertProblem(r, 503)
                self.assertEqual(problem["reason"], "INDEX_UNAVAILABLE", r)
                self.assertIsNotNone(r.header("Retry-After"), r)

        self.dep.redis.start_again()
        self.wait_caught_up()
        self.assert_exactly(token, [eid for _, eid in calls])
        for replica, eid in calls[2:]:
            self.check_proof(b, token, eid, replica.node_id)

    def test_replica_restarted_ships_nothing_twice(self):
        a, b = self.dep.replicas
        iin = CITIZENS[2]
        expected = []
        for replica in (a, b, a):
            r = tax_call(replica, iin)
            self.assertEqual(r.status, 200, r)
            expected.append(r.header("Qaqpa-Event-Id"))
        self.wait_caught_up()
        a.start_again()
        self.wait_check(a, "redis", ("connected",))
        r = tax_call(a, iin)
        self.assertEqual(r.status, 200, r)
        expected.append(r.header("Qaqpa-Event-Id"))
        self.wait_caught_up()
        token = self.login(b, iin)
        self.assert_exactly(token, expected)
        # A killed without a drain: whatever it journaled is shipped after it comes back.
        r = tax_call(a, iin)
        self.assertEqual(r.status, 200, r)
        expected.append(r.header("Qaqpa-Event-Id"))
        a.kill9()
        a.start_again()
        self.wait_caught_up()
        self.assert_exactly(token, expected)


if __name__ == "__main__":
    unittest.main()
