"""Two gateway replicas sharing one redis-server, under load, while redis-server is killed and
started again (issue #6 item 4: "Redis restarted during load — no acknowledged message or event
lost, gateway readiness reflects the outage").

Load: client threads alternate between the replicas, each sending synchronous calls about one
citizen and asynchronous submissions (`Prefer: respond-async`, PROTOCOL.md §4). Redis is killed
(SIGKILL) in the middle and started again on the same AOF (appendfsync always). What must hold:
- every synchronous 200 (its digital event acknowledged by Qaqpa-Event-Id) appears in the
  citizen's digital space exactly once, read through EITHER replica once the outbox has caught up;
- every 202 (a durably accepted message) reaches DELIVERED, read through either replica, and the
  provider received it (at least once, deduplicated by Qaqpa-Message-Id to exactly one result);
- while Redis is down, /readyz of both replicas says so (checks.redis, and `degraded` lists the
  features that need Redis) while staying ready, the synchronous calls keep being served (local
  fallback) and async submissions are refused with 503, never a 202;
- no gateway process dies.
Nothing sleeps for timing: the phases end on counts of completed calls, waits poll a deadline."""

import json
import threading
import time
import unittest
import uuid

import harness
from harness import CITIZENS, TAX

SUBJECT = f"IIN:{CITIZENS[0]}"
SERVICE = "person.byIin"
PURPOSE = "TAX_ADMINISTRATION"
THREADS = 4
CALLS_PER_PHASE = 40  # completed calls (all threads) before moving to the next phase
WAIT_S = 30.0
DELIVERY_WAIT_S = 60.0  # covers a claim after the 15 s claim idle (see GATEWAY_OVERRIDES)


def readyz(replica):
    return harness.request(replica.port("admin"), "GET", "/readyz", timeout=5).json()


class Load:
    """Client threads calling both replicas until stopped; records what was acknowledged."""

    def __init__(self, replicas):
        self.replicas = replicas
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.sync_events = []  # event ids of synchronous 200s
        self.accepted = []  # (message id, replica index) of 202s
        self.refused_async = []  # statuses of refused submissions
        self.sync_failures = []  # non-200 synchronous answers
        self.completed = 0
        self.errors = []
        self.threads = []

    def run_thread(self, n):
        i = 0
        while not self.stop_flag.is_set():
            replica = self.replicas[(n + i) % len(self.replicas)]
            i += 1
            try:
                if i % 2:
                    r = replica.call(SERVICE, TAX, SUBJECT, PURPOSE, timeout=10)
                    with self.lock:
                        if r.status == 200:
                            self.sync_events.append(r.header("Qaqpa-Event-Id"))
                        else:
                            self.sync_failures.append((r.status, r.header("Qaqpa-Status")))
                        self.completed += 1
                else:
                    mid = str(uuid.uuid4())
                    r = replica.call(SERVICE, TAX, SUBJECT, PURPOSE, timeout=10,
                                     headers={"Prefer": "respond-async",
                                              "Qaqpa-Message-Id": mid})
                    with self.lock:
                        if r.status == 202:
                            self.accepted.append((mid, replica.index))
                        else:
                            self.refused_async.append((r.status, r.header("Qaqpa-Status")))
                        self.completed += 1
            except Exception as e:  # a dropped connection is a failure of the gateway
                with self.lock:
                    self.errors.append(repr(e))
                    self.completed += 1

    def start(self):
        for n in range(THREADS):
            t = threading.Thread(target=self.run_thread, args=(n,), daemon=True)
            t.start()
            self.threads.append(t)

    def wait_completed(self, count, what):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with self.lock:
                if self.completed >= count:
                    return
            time.sleep(0.01)
        raise AssertionError(f"load stalled ({what}): {self.completed} < {count}")

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=WAIT_S)


class ReplicasUnderRedisRestartTest(harness.GatewayTestCase):
    REDIS = True
    REPLICAS = 2
    GATEWAY_OVERRIDES = {
        "workers": 1,
        "demo_trust_client_header": True,
        # claim_idle: an attempt whose begin reply was lost with the killed Redis stays pending
        # until a dispatcher claims it again — after max(claim_idle, longest service deadline +
        # 5 s) = 15 s here, not the default minute.
        "async": {"retry_initial": harness.Plain("50ms"), "retry_max": harness.Plain("500ms"),
                  "claim_idle": harness.Plain("1s")},
    }

    def login(self, replica):
        r = harness.request(replica.port("space"), "POST", "/v1/space/demo-login",
                            {"Content-Type": "application/json"},
                            json.dumps({"iin": SUBJECT}).encode())
        self.assertEqual(r.status, 200, r)
        return r.json()["token"]

    def space_event_ids(self, replica, token):
        """Every event id of the citizen listed through `replica` (all pages)."""
        ids, cursor = [], None
        while True:
            target = "/v1/space/events?limit=200" + (f"&cursor={cursor}" if cursor else "")
            r = harness.request(replica.port("space"), "GET", target,
                                {"Authorization": f"Bearer {token}"}, timeout=10)
            if r.status != 200:
                return None  # index not serving (yet)
            body = r.json()
            ids += [e["eventId"] for e in body["events"]]
            cursor = body.get("nextCursor")
            if not cursor:
                return ids

    def message_state(self, replica, mid):
        r = harness.request(replica.port("state"), "GET", f"/v1/messages/{mid}",
                            {"Qaqpa-Client": TAX}, timeout=10)
        if r.status == 200 and (r.header("Content-Type") or "").startswith("application/json"):
            try:
                body = r.json()
                if isinstance(body, dict) and "state" in body:
                    return body["state"]
            except ValueError:
                pass
        if r.status == 200:
            return "DELIVERED"  # the provider's stored answer
        if r.status == 202:
            return r.json()["state"]
        return f"HTTP {r.status}"

    def test_no_acknowledged_message_or_event_is_lost(self):
        replicas = self.dep.replicas
        load = Load(replicas)
        load.start()
        try:
            load.wait_completed(CALLS_PER_PHASE, "before the outage")
            self.dep.redis.kill()
            outage_from = load.completed
            # Readiness reflects the outage on both replicas.
            for r in replicas:
                harness._wait_for(lambda r=r: readyz(r)["checks"].get("redis") == "down",
                                  WAIT_S, f"{r.name} reports redis down", r.gateway.proc,
                                  self.dep.describe)
            for r in replicas:
                body = readyz(r)
                self.assertTrue(body["ready"], body)  # synchronous calls are still served
                self.assertEqual(sorted(body["degraded"]),
                                 ["asyncExchange", "consents", "sharedQuotaAndReplay",
                                  "spaceEvents"], body)
            load.wait_completed(outage_from + CALLS_PER_PHASE, "during the outage")
            self.dep.redis.start_again()
            for r in replicas:
                harness._wait_for(lambda r=r: readyz(r)["checks"].get("redis") == "connected",
                                  WAIT_S, f"{r.name} reconnects", r.gateway.proc,
                                  self.dep.describe)
            for r in replicas:
                self.assertEqual(readyz(r)["degraded"], [], r.name)
            after = load.completed
            load.wait_completed(after + CALLS_PER_PHASE, "after the outage")
        finally:
            load.stop()
        print(f"\n[chaos] sync 200: {len(load.sync_events)}, async 202: {len(load.accepted)}, "
              f"async refused during the outage: {len(load.refused_async)}, "
              f"sync not 200: {len(load.sync_failures)}", flush=True)
        for r in replicas:
            self.assertTrue(r.gateway.alive(), f"{r.name} died")
        self.assertEqual(load.errors, [], "connections dropped")
        self.assertEqual(load.sync_failures, [], "synchronous calls must be served throughout")
        self.assertGreater(len(load.sync_events), 0)
        self.assertGreater(len(load.accepted), 0)
        self.assertGreater(len(load.refused_async), 0, "no submission hit the outage")
        for status, code in load.refused_async:
            self.assertEqual(status, 503, (status, code))

        # Every accepted message reaches DELIVERED, seen through either replica.
        pending = {mid for mid, _ in load.accepted}
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while pending and time.monotonic() < deadline:
            for mid in sorted(pending):
                reader = replicas[hash(mid) % len(replicas)]
                if self.message_state(reader, mid) == "DELIVERED":
                    pending.discard(mid)
            time.sleep(0.05)
        self.assertEqual(pending, set(), "accepted messages not delivered")

        # Every acknowledged synchronous event, exactly once, through either replica.
        want = set(load.sync_events)
        for r in replicas:
            token = self.login(r)
            deadline = time.monotonic() + WAIT_S
            ids = None
            while time.monotonic() < deadline:
                ids = self.space_event_ids(r, token)
                if ids is not None and want <= set(ids):
                    break
                time.sleep(0.1)
            self.assertIsNotNone(ids, f"{r.name}: the space index never served")
            missing = want - set(ids)
            self.assertEqual(missing, set(), f"{r.name}: acknowledged events missing")
            dups = {i for i in ids if ids.count(i) > 1}
            self.assertEqual(dups, set(), f"{r.name}: events listed twice")


if __name__ == "__main__":
    unittest.main()
