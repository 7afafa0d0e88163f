"""The asynchronous exchange (PROTOCOL.md §4, docs/async.md, issue #6 items 2 and 4) with the real
gateway, real demo providers and a real redis-server (unix socket, AOF on; harness.py):
submit → 202 → poll → 200 with the provider's body and a gateway signature verified
independently; an idempotent repeat (one delivery, seen by the provider's dedup) and a
conflicting one (409); another client's GET is 404 like an unknown id; DELETE of a queued, a
dispatched and a final message; a provider down for longer than the retry budget ends
NOT_DELIVERED with its problem and one DELIVERY_FAILED event per attempt, visible to the citizen
in the digital space next to MESSAGE_ACCEPTED; Redis killed → 503 (never a 202 that is then
lost) and readiness shows it; without Redis, Prefer is ignored. Two replicas: the replica that
is delivering a slow message is killed with SIGKILL, the other claims the entry (XAUTOCLAIM) and
completes it: DELIVERED, processed once by the provider (its dedup on Qaqpa-Message-Id answered
the second delivery from memory). Nothing sleeps for timing: every wait polls with a deadline."""

import base64
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest
import uuid

import harness
from harness import CITIZENS, SOCIAL, TAX

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "signing"))
import make_vectors as mv  # noqa: E402
from test_response_signatures import public_key_from_jwk  # noqa: E402

PERSON = f"IIN:{CITIZENS[0]}"
WAIT_S = 20.0
ASYNC = {"Prefer": "respond-async"}


def new_id():
    return str(uuid.uuid4())


def wait(predicate, what, dep, timeout=WAIT_S):
    return harness._wait_for(predicate, timeout, what, None, dep.describe)


class CallbackReceiver(http.server.ThreadingHTTPServer):
    """A client system's callback endpoint: records every POST (path, headers, body)."""

    def __init__(self):
        self.received = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append((self.path, list(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


class AsyncCases:
    """Helpers shared by the test classes (mixed into a GatewayTestCase)."""

    def submit(self, caller, message_id, service="person.byIin", client=TAX, subject=PERSON,
               purpose="TAX_ADMINISTRATION", path="", headers=None):
        h = dict(ASYNC)
        h["Qaqpa-Message-Id"] = message_id
        h.update(headers or {})
        return caller.call(service, client, subject, purpose, path=path, headers=h)

    def message(self, caller, message_id, client=TAX, method="GET"):
        target = f"/v1/messages/{message_id}"
        headers = {"Qaqpa-Client": client}
        reply = harness.request(caller.port("state"), method, target, headers)
        return reply, (method, target, list(headers.items()))

    def wait_final(self, caller, message_id, client=TAX, timeout=WAIT_S):
        def final():
            r, _ = self.message(caller, message_id, client)
            return r if r.status != 202 else None
        return wait(final, f"message {message_id} final", self.dep, timeout)

    def assertAccepted(self, reply, message_id):
        self.assertEqual(reply.status, 202, reply)
        self.assertEqual(reply.header("Preference-Applied"), "respond-async", reply)
        self.assertEqual(reply.header("Location"), f"/v1/messages/{message_id}", reply)
        self.assertEqual(reply.header("Qaqpa-Status"), "ACCEPTED", reply)
        self.assertEqual(reply.header("Qaqpa-Message-Id"), message_id, reply)
        self.assertTrue(reply.header("Qaqpa-Event-Id"), reply)
        body = reply.json()
        self.assertEqual(body["messageId"], message_id, body)
        self.assertIn(body["state"], ("QUEUED", "DISPATCHED", "DELIVERED"), body)

    def assertProblem(self, reply, status, code, reason):
        self.assertEqual(reply.status, status, reply)
        body = reply.json()
        self.assertEqual((body["code"], body.get("reason")), (code, reason), body)

    def provider_counts(self, provider, message_id):
        return provider.get_json(f"/_demo/messages/{message_id}")


class AsyncExchangeTest(AsyncCases, harness.GatewayTestCase):
    # One worker and one delivery at a time: a slow delivery keeps the next message QUEUED.
    GATEWAY_OVERRIDES = {
        "workers": 1,
        "demo_trust_client_header": True,
        "async": {"max_in_flight": 1, "retry_initial": harness.Plain("30ms"),
                  "retry_max": harness.Plain("100ms"), "poll_interval": harness.Plain("20ms")},
    }
    REDIS = True

    @classmethod
    def prepare(cls, dep):
        # tax.debtStatus (granted to social-benefits) points at a closed port: always down.
        dep.bundle.set_service("tax.debtStatus", upstream_port=dep.closed_port())
        # The tax service registers a callback for its messages' final states.
        cls.receiver = CallbackReceiver()
        systems = dep.bundle._doc("systems.yaml")["systems"]
        tax = [s for s in systems if str(s["id"]) == TAX][0]
        tax["callback"] = harness.Plain(
            f"http://127.0.0.1:{cls.receiver.server_address[1]}/hooks/qaqpa")
        dep.bundle.save("systems.yaml")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if getattr(cls, "receiver", None) is not None:
                cls.receiver.stop()
                cls.receiver = None

    def setUp(self):
        if not self.dep.redis.alive():
            self.dep.redis.start_again()
        wait(lambda: harness.request(self.dep.port("admin"), "GET", "/readyz").json()["checks"]
             .get("redis") == "connected", "redis connected", self.dep)

    def population(self):
        return self.dep.providers["population"]

    def test_submit_then_poll_returns_the_providers_answer_signed(self):
        sync = self.dep.call("person.byIin", TAX, PERSON, "TAX_ADMINISTRATION")
        self.assertEqual(sync.status, 200, sync)
        mid = new_id()
        accepted = self.submit(self.dep, mid)
        self.assertAccepted(accepted, mid)
        final = self.wait_final(self.dep, mid)
        self.assertEqual(final.status, 200, final)
        self.assertEqual(final.header("Qaqpa-Status"), "OK", final)
        self.assertEqual(final.json(), sync.json())
        self.assertEqual(final.header("Content-Type"), "application/json", final)
        # The gateway signed the stored answer on the way out, like any response.
        reply, request = self.message(self.dep, mid)
        keys = harness.request(self.dep.port("state"), "GET", "/v1/keys").json()["keys"]
        created = mv.check_gateway_response(reply.status, reply.header_list, reply.body, request,
                                            public_key_from_jwk(keys[0]), keys[0]["kid"],
                                            self.dep.signing_alg)
        self.assertLess(abs(created - time.time()), 120)
        with self.assertRaises(AssertionError):
            mv.check_gateway_response(reply.status, reply.header_list, reply.body + b" ", request,
                                      public_key_from_jwk(keys[0]), keys[0]["kid"],
                                      self.dep.signing_alg)
        counts = self.provider_counts(self.population(), mid)
        self.assertEqual((counts["received"], counts["processed"]), (1, 1), counts)

    def test_the_final_state_is_posted_to_the_registered_callback_signed(self):
        mid = new_id()
        self.assertAccepted(self.submit(self.dep, mid), mid)
        self.assertEqual(self.wait_final(self.dep, mid).status, 200)

        def posted():
            mine = [r for r in self.receiver.received if json.loads(r[2])["messageId"] == mid]
            return mine or None
        (path, headers, body), = wait(posted, "the callback", self.dep)
        self.assertEqual(path, "/hooks/qaqpa")
        note = json.loads(body)
        self.assertEqual(note, {"messageId": mid, "state": "DELIVERED", "attempts": 1,
                                "location": f"/v1/messages/{mid}", "providerStatus": 200})
        h = {n.lower(): v for n, v in headers}
        self.assertEqual(h["content-digest"],
                         "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode()
                         + ":")
        self.assertEqual(h["qaqpa-message-id"], mid)
        # The gateway's RFC 9421 signature, checked against its JWKS independently of its code.
        m = re.fullmatch(r'qaqpa=\((.*)\)(;created=\d+;keyid="([^"]+)";alg="([^"]+)")',
                         h["signature-input"])
        self.assertIsNotNone(m, h["signature-input"])
        components = [c.strip('"') for c in m.group(1).split(" ")]
        self.assertEqual(components, ["@method", "@authority", "@path", "content-digest",
                                      "qaqpa-message-id"])
        keys = harness.request(self.dep.port("state"), "GET", "/v1/keys").json()["keys"]
        key = [k for k in keys if k["kid"] == m.group(3)][0]
        base = mv.signature_base("POST", path, headers, components,
                                 h["signature-input"][len("qaqpa="):])
        sig = base64.b64decode(h["signature"][len("qaqpa=:"):-1])
        self.assertTrue(mv.verify(public_key_from_jwk(key), base, sig))
        self.assertFalse(mv.verify(public_key_from_jwk(key), base.replace(mid, new_id()), sig))

    def test_repeat_is_idempotent_and_a_different_request_conflicts(self):
        mid = new_id()
        first = self.submit(self.dep, mid)
        self.assertAccepted(first, mid)
        again = self.submit(self.dep, mid)
        self.assertAccepted(again, mid)
        self.assertEqual(self.wait_final(self.dep, mid).status, 200)
        after = self.submit(self.dep, mid)
        self.assertAccepted(after, mid)
        self.assertEqual(after.json()["state"], "DELIVERED")
        counts = self.provider_counts(self.population(), mid)
        self.assertEqual((counts["received"], counts["processed"]), (1, 1), counts)
        other = self.submit(self.dep, mid, subject=f"IIN:{CITIZENS[1]}", path="x")
        self.assertProblem(other, 409, "DUPLICATE", "MESSAGE_ID_CONFLICT")

    def test_another_clients_get_is_like_an_unknown_id(self):
        mid = new_id()
        self.assertAccepted(self.submit(self.dep, mid), mid)
        theirs, _ = self.message(self.dep, mid, client=SOCIAL)
        unknown, _ = self.message(self.dep, new_id(), client=SOCIAL)
        self.assertProblem(theirs, 404, "SERVICE_NOT_FOUND", "MESSAGE_UNKNOWN")
        self.assertProblem(unknown, 404, "SERVICE_NOT_FOUND", "MESSAGE_UNKNOWN")
        self.assertEqual(theirs.json()["detail"], unknown.json()["detail"])
        deleted, _ = self.message(self.dep, mid, client=SOCIAL, method="DELETE")
        self.assertProblem(deleted, 404, "SERVICE_NOT_FOUND", "MESSAGE_UNKNOWN")
        self.assertEqual(self.wait_final(self.dep, mid).status, 200)

    def test_bad_message_targets(self):
        r = harness.request(self.dep.port("state"), "GET", "/v1/messages/not-a-uuid",
                            {"Qaqpa-Client": TAX})
        self.assertProblem(r, 400, "VALIDATION_FAILED", "INVALID_PATH")
        r = harness.request(self.dep.port("state"), "POST", f"/v1/messages/{new_id()}",
                            {"Qaqpa-Client": TAX})
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.header("Allow"), "GET, DELETE", r)

    def test_delete_queued_dispatched_and_final(self):
        slow, queued = new_id(), new_id()
        # The only delivery slot is held 2 s by the slow one: the second stays QUEUED.
        self.assertAccepted(self.submit(self.dep, slow, headers={"X-Demo-Delay-Ms": "2000"}),
                            slow)
        wait(lambda: self.message(self.dep, slow)[0].json().get("state") == "DISPATCHED",
             "slow message dispatched", self.dep)
        self.assertAccepted(self.submit(self.dep, queued), queued)
        stopped, _ = self.message(self.dep, queued, method="DELETE")
        self.assertEqual(stopped.status, 200, stopped)
        self.assertEqual(stopped.json()["state"], "DELIVERY_STOPPED", stopped)
        # A dispatched message is stopped only if its attempt does not deliver: this one does.
        requested, _ = self.message(self.dep, slow, method="DELETE")
        self.assertEqual(requested.status, 202, requested)
        self.assertEqual(requested.json()["state"], "DISPATCHED", requested)
        self.assertTrue(requested.json()["cancelRequested"], requested)
        self.assertEqual(self.wait_final(self.dep, slow).status, 200)
        final, _ = self.message(self.dep, queued)
        self.assertEqual(final.status, 200, final)
        self.assertEqual(final.json()["state"], "DELIVERY_STOPPED", final)
        again, _ = self.message(self.dep, queued, method="DELETE")
        self.assertProblem(again, 409, "DUPLICATE", "MESSAGE_FINAL")
        self.assertEqual(self.provider_counts(self.population(), queued)["received"], 0)

    def test_provider_down_beyond_the_retry_budget_is_not_delivered_with_its_events(self):
        subject = f"IIN:{CITIZENS[2]}"
        mid = new_id()
        accepted = self.submit(self.dep, mid, service="tax.debtStatus", client=SOCIAL,
                               subject=subject, purpose="SOCIAL_BENEFITS")
        self.assertAccepted(accepted, mid)
        final = self.wait_final(self.dep, mid, client=SOCIAL)
        self.assertEqual(final.status, 200, final)
        body = final.json()
        self.assertEqual(body["state"], "NOT_DELIVERED", body)
        # The demo bundle gives tax.debtStatus async.max_attempts 3 (the gateway default is 5).
        self.assertEqual(body["attempts"], 3, body)
        self.assertEqual(body["status"]["code"], "PROVIDER_UNAVAILABLE", body)
        self.assertEqual(body["status"]["messageId"], mid, body)
        # The citizen sees the submission and every failed attempt in the digital space.
        login = harness.request(self.dep.port("space"), "POST", "/v1/space/demo-login",
                                {"Content-Type": "application/json"},
                                json.dumps({"iin": CITIZENS[2]}).encode())
        self.assertEqual(login.status, 200, login)
        auth = {"Authorization": f"Bearer {login.json()['token']}"}

        def events():
            r = harness.request(self.dep.port("space"), "GET", "/v1/space/events?limit=200", auth)
            if r.status != 200:
                return None
            mine = [e for e in r.json()["events"] if e.get("messageId") == mid]
            kinds = sorted(e["kind"] for e in mine)
            return mine if kinds.count("DELIVERY_FAILED") == 3 else None
        mine = wait(events, "the message's events in the digital space", self.dep)
        kinds = sorted(e["kind"] for e in mine)
        self.assertEqual(kinds, ["DELIVERY_FAILED"] * 3 + ["MESSAGE_ACCEPTED"], mine)
        for e in mine:
            self.assertEqual(e["client"]["id"], SOCIAL, e)
            self.assertEqual(e["service"]["id"], "tax.debtStatus", e)
            self.assertEqual(e["subject"], subject, e)
        failed = [e for e in mine if e["kind"] == "DELIVERY_FAILED"]
        self.assertTrue(all(e["status"] == "PROVIDER_UNAVAILABLE" for e in failed), failed)
        self.assertEqual(sorted(e.get("detail") for e in failed),
                         ["async attempt 1/3: RETRY", "async attempt 2/3: RETRY",
                          "async attempt 3/3: NOT_DELIVERED"], failed)
        accepted_event = [e for e in mine if e["kind"] == "MESSAGE_ACCEPTED"][0]
        self.assertEqual((accepted_event["status"], accepted_event["httpStatus"]),
                         ("ACCEPTED", 202), accepted_event)
        self.assertEqual(accepted_event["eventId"], accepted.header("Qaqpa-Event-Id"))

    def test_redis_killed_submissions_fail_closed_and_readiness_shows_it(self):
        self.dep.redis.kill()
        wait(lambda: harness.request(self.dep.port("admin"), "GET", "/readyz").json()["checks"]
             .get("redis") == "down", "redis down in /readyz", self.dep)
        mids = [new_id() for _ in range(5)]
        for mid in mids:
            r = self.submit(self.dep, mid)
            self.assertEqual(r.status, 503, r)
            self.assertNotEqual(r.header("Qaqpa-Status"), "ACCEPTED", r)
            self.assertIn(r.json().get("reason"), ("ASYNC_STORE_UNAVAILABLE",), r)
        self.dep.redis.start_again()
        wait(lambda: harness.request(self.dep.port("admin"), "GET", "/readyz").json()["checks"]
             .get("redis") == "connected", "redis reconnected", self.dep)
        # Nothing refused was stored: unknown now, and accepted afresh when sent again.
        unknown, _ = self.message(self.dep, mids[0])
        self.assertEqual(unknown.status, 404, unknown)
        self.assertAccepted(self.submit(self.dep, mids[0]), mids[0])
        self.assertEqual(self.wait_final(self.dep, mids[0]).status, 200)


class NoRedisTest(AsyncCases, harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": 1, "demo_trust_client_header": True}

    def test_prefer_is_ignored_and_messages_are_not_found(self):
        r = self.submit(self.dep, new_id())
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.header("Preference-Applied"), r)
        self.assertEqual(r.header("Qaqpa-Status"), "OK", r)
        m, _ = self.message(self.dep, new_id())
        self.assertProblem(m, 404, "SERVICE_NOT_FOUND", "ASYNC_NOT_ENABLED")


class AsyncTakeoverTest(AsyncCases, harness.GatewayTestCase):
    # Short deadlines so that an entry is claimable (longest deadline + 5 s) within the test.
    GATEWAY_OVERRIDES = {
        "workers": 1,
        "demo_trust_client_header": True,
        "upstream": {"default_timeout": harness.Plain("3s")},
        "async": {"claim_idle": harness.Plain("1s"), "poll_interval": harness.Plain("50ms")},
    }
    REDIS = True
    REPLICAS = 2

    @classmethod
    def prepare(cls, dep):
        for service in ("person.byIin", "legalEntity.byBin", "tax.debtStatus"):
            dep.bundle.set_service(service, timeout="3s")

    def redis_cli(self, *args):
        out = subprocess.run(["redis-cli", "-s", self.dep.redis.socket_path, *args],
                             capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()

    def delivering_replica(self, mid):
        """The replica whose dispatcher holds the message (field `by` = "<node id>/<worker>")."""
        keys = self.redis_cli("--scan", "--pattern", f"qaqpa:{{async:*}}:msg:*:{mid}").split()
        self.assertEqual(len(keys), 1, keys)
        by = self.redis_cli("HGET", keys[0], "by")
        node = by.rsplit("/", 1)[0]
        for r in self.dep.replicas:
            if r.node_id == node:
                return r
        raise AssertionError(f"no replica {node!r}")

    def test_a_killed_replicas_delivery_is_completed_once_by_the_other(self):
        population = self.dep.providers["population"]
        mid = new_id()
        a = self.dep.replicas[0]
        accepted = self.submit(a, mid, headers={"X-Demo-Delay-Ms": "1500"})
        self.assertAccepted(accepted, mid)
        wait(lambda: self.provider_counts(population, mid)["received"] == 1,
             "the provider received the first delivery", self.dep)
        holder = self.delivering_replica(mid)
        survivor = [r for r in self.dep.replicas if r is not holder][0]
        holder.kill9()
        final = self.wait_final(survivor, mid, timeout=40)
        self.assertEqual(final.status, 200, final)
        self.assertEqual(final.header("Qaqpa-Status"), "OK", final)
        sync = survivor.call("person.byIin", TAX, PERSON, "TAX_ADMINISTRATION")
        self.assertEqual(final.json(), sync.json())
        counts = self.provider_counts(population, mid)
        # Delivered at least once on the wire, processed exactly once by the provider.
        self.assertEqual(counts["processed"], 1, counts)
        self.assertEqual(counts["received"], 2, counts)
        status, _ = self.message(survivor, mid)
        self.assertEqual(status.status, 200, status)


if __name__ == "__main__":
    unittest.main()
