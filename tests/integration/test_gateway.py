"""The gateway end to end over real sockets: forwarding, access decisions, problem bodies, HTTP
limits, keep-alive reuse towards providers, header hygiene and the admin listener.

One deployment (three demo providers + the gateway with the demo bundle, workers: 1, a small
body limit) is shared by every class of this module.
"""

import json
import threading
from contextlib import closing
import unittest
import uuid

import harness
from harness import BANK, CITIZENS, SOCIAL, TAX, UUID7_RE

MAX_BODY_BYTES = 4096

SHARED = harness.SharedDeployment(
    "gateway",
    overrides={
        "workers": 1,
        "demo_trust_client_header": True,
        "limits": {"max_body_bytes": MAX_BODY_BYTES},
    },
)


def setUpModule():
    SHARED.start()


def tearDownModule():
    SHARED.stop()


class Base(harness.GatewayTestCase):
    SHARED = SHARED


class ForwardingTest(Base):
    def test_granted_call_is_forwarded_and_answered(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        self.assertEqual(r.status, 200, r)
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"), r)
        body = r.json()
        self.assertEqual(body["iin"], CITIZENS[0])
        self.assertEqual(body["birthDate"], "1990-01-01")
        self.assertEqual(r.header("Qaqpa-Status"), "OK", r)
        self.assertRegex(r.header("Qaqpa-Message-Id") or "", UUID7_RE)

    def test_assigned_message_ids_differ(self):
        ids = set()
        for _ in range(3):
            r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[1]}", "TAX_ADMINISTRATION")
            self.assertEqual(r.status, 200, r)
            ids.add(r.header("Qaqpa-Message-Id"))
        self.assertEqual(len(ids), 3)

    def test_client_message_id_is_echoed(self):
        mid = str(uuid.uuid4())
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[2]}", "TAX_ADMINISTRATION",
                          headers={"Qaqpa-Message-Id": mid})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Qaqpa-Message-Id"), mid)
        self.assertEqual(r.header("Qaqpa-Status"), "OK")

    def test_repeated_message_id_is_duplicate(self):
        mid = str(uuid.uuid4())
        first = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                              headers={"Qaqpa-Message-Id": mid})
        self.assertEqual(first.status, 200, first)
        again = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                              headers={"Qaqpa-Message-Id": mid})
        self.assertProblem(again, 409, "DUPLICATE")

    def test_provider_404_passes_through(self):
        iin = harness.unknown_valid_iin()
        r = self.dep.call("person.byIin", TAX, f"IIN:{iin}", "TAX_ADMINISTRATION")
        self.assertEqual(r.status, 404, r)
        body = r.json()
        self.assertEqual(body["type"], "urn:qaqpa-demo:not-found", r)
        self.assertIn(iin, body["detail"])
        self.assertTrue(r.header("Qaqpa-Message-Id"), r)
        self.assertEqual(r.header("Qaqpa-Status"), "OK", "the provider's 4xx is its answer")

    def test_provider_5xx_is_provider_error(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                          path="_demo/status/500")
        body = self.assertProblem(r, 502, "PROVIDER_ERROR")
        self.assertNotIn("urn:qaqpa-demo", r.body.decode("utf-8", "replace"),
                         "the provider's body is not shown")
        self.assertNotIn("demo-internal", body["detail"])

    def test_path_and_query_are_forwarded(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                          path="_demo/echo-headers", query="fields=name&x=1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/_demo/echo-headers?fields=name&x=1")

    def test_tax_debt_status_for_social_benefits(self):
        r = self.dep.call("tax.debtStatus", SOCIAL, f"IIN:{CITIZENS[1]}", "SOCIAL_BENEFITS")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["iin"], CITIZENS[1])
        self.assertTrue(body["hasDebt"])

    def test_legal_entity_for_bank_on_external_listener(self):
        r = self.dep.call("legalEntity.byBin", BANK, "BIN:240140000041", "KYC",
                          listener="external")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["bin"], "240140000041")
        self.assertEqual(r.header("Qaqpa-Status"), "OK", r)

    def test_post_body_is_forwarded_unchanged(self):
        payload = json.dumps({"q": "сәлем", "n": list(range(50))}, ensure_ascii=False).encode()
        r = self.dep.call("legalEntity.byBin", BANK, "BIN:240140000041", "KYC",
                          listener="external", method="POST", path="echo", body=payload,
                          headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, payload)


class AccessDecisionTest(Base):
    def test_unknown_client_is_auth_failed(self):
        r = self.dep.call("person.byIin", "KZ/GOV/240140000011/ghost-system",
                          f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        self.assertProblem(r, 401, "AUTH_FAILED")

    def test_missing_client_is_rejected(self):
        r = self.dep.call("person.byIin", None, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        self.assertIn(r.status, (400, 401), r)
        self.assertProblem(r, r.status)

    def test_state_client_on_external_listener_is_auth_failed(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                          listener="external")
        self.assertProblem(r, 401, "AUTH_FAILED")

    def test_external_client_on_state_listener_is_auth_failed(self):
        r = self.dep.call("legalEntity.byBin", BANK, "BIN:240140000041", "KYC",
                          listener="state")
        self.assertProblem(r, 401, "AUTH_FAILED")

    def test_unknown_service(self):
        r = self.dep.call("no.suchService", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        self.assertProblem(r, 404, "SERVICE_NOT_FOUND")

    def test_bad_iin_checksum(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{harness.bad_checksum(CITIZENS[0])}",
                          "TAX_ADMINISTRATION")
        self.assertProblem(r, 400, "VALIDATION_FAILED")

    def test_missing_purpose_for_personal_service(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", None)
        self.assertProblem(r, 400, "VALIDATION_FAILED")

    def test_missing_subject_for_personal_service(self):
        r = self.dep.call("person.byIin", TAX, None, "TAX_ADMINISTRATION")
        self.assertProblem(r, 400, "VALIDATION_FAILED")

    def test_service_not_exposed_to_external_zone(self):
        r = self.dep.call("tax.debtStatus", BANK, f"IIN:{CITIZENS[0]}", "CREDIT_SCORING",
                          listener="external")
        self.assertProblem(r, 403, "ACCESS_DENIED")

    def test_no_grant(self):
        r = self.dep.call("legalEntity.byBin", SOCIAL, "BIN:240140000041", "SOCIAL_BENEFITS")
        self.assertProblem(r, 403, "ACCESS_DENIED")

    def test_purpose_not_allowed(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "SOCIAL_BENEFITS")
        self.assertProblem(r, 403, "ACCESS_DENIED")

    def test_bank_needs_citizen_consent(self):
        r = self.dep.call("person.byIin", BANK, f"IIN:{CITIZENS[0]}", "CREDIT_SCORING",
                          listener="external")
        body = self.assertProblem(r, 403, "CONSENT_REQUIRED")
        self.assertEqual(body["reason"], "CONSENT_MISSING")

    def test_denied_call_does_not_reach_provider(self):
        population = self.dep.providers["population"]
        with closing(population.connection()) as conn:
            before = population.stats(conn)["requests"]
            r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "SOCIAL_BENEFITS")
            self.assertEqual(r.status, 403, r)
            after = population.stats(conn)["requests"]
        self.assertEqual(after - before, 1, "only the second stats call")


class RoutesTest(Base):
    def test_unknown_route_is_404_problem(self):
        r = harness.request(self.dep.port("state"), "GET", "/no/such/route",
                            {"Qaqpa-Client": TAX})
        self.assertProblem(r, 404, "SERVICE_NOT_FOUND")

    def test_unsupported_method_is_405(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                          method="TRACE")
        self.assertEqual(r.status, 405, r)
        self.assertTrue(r.header("Allow"), r)


class ProblemBodyTest(Base):
    def unknown_service(self, language):
        return self.dep.call("no.suchService", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                             language=language)

    def test_problem_fields(self):
        mid = str(uuid.uuid4())
        r = self.dep.call("no.suchService", TAX, headers={"Qaqpa-Message-Id": mid})
        body = self.assertProblem(r, 404, "SERVICE_NOT_FOUND")
        self.assertEqual(body["messageId"], mid)
        self.assertTrue(body["title"].strip())
        self.assertTrue(body["detail"].strip())

    def test_title_is_localized(self):
        default = self.assertProblem(self.unknown_service(None), 404)["title"]
        kk = self.assertProblem(self.unknown_service("kk"), 404)["title"]
        ru = self.assertProblem(self.unknown_service("ru"), 404)["title"]
        en = self.assertProblem(self.unknown_service("en"), 404)["title"]
        self.assertEqual(default, kk, "kk is the default language")
        self.assertEqual(len({kk, ru, en}), 3, (kk, ru, en))

    def test_language_negotiation_with_quality_values(self):
        ru = self.assertProblem(self.unknown_service("ru"), 404)["title"]
        negotiated = self.assertProblem(self.unknown_service("ru-RU,ru;q=0.9,en;q=0.5"),
                                        404)["title"]
        self.assertEqual(negotiated, ru)

    def test_no_internals_leak(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "SOCIAL_BENEFITS",
                          language="en")
        body = self.assertProblem(r, 403, "ACCESS_DENIED")
        text = body["title"] + " " + body["detail"]
        for port in (p.port for p in self.dep.providers.values()):
            self.assertNotIn(str(port), text)
        self.assertNotIn("127.0.0.1", text)


class HttpLimitsTest(Base):
    def test_body_over_limit_is_413(self):
        r = self.dep.call("legalEntity.byBin", BANK, "BIN:240140000041", "KYC",
                          listener="external", method="POST", path="echo",
                          body=b"x" * (MAX_BODY_BYTES + 1000),
                          headers={"Content-Type": "application/octet-stream"})
        body = self.assertProblem(r, 413, "VALIDATION_FAILED")
        self.assertEqual(body.get("reason"), "BODY_TOO_LARGE", body)

    def test_declared_length_over_limit_is_rejected_before_the_body(self):
        req = (b"POST /v1/services/legalEntity.byBin/echo HTTP/1.1\r\n"
               b"Host: qaqpa\r\nQaqpa-Client: " + BANK.encode() + b"\r\n"
               b"Content-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n")
        data, _ = harness.raw_exchange(self.dep.port("external"), req, timeout=5.0)
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])

    def test_body_at_limit_is_forwarded(self):
        payload = b"y" * MAX_BODY_BYTES
        r = self.dep.call("legalEntity.byBin", BANK, "BIN:240140000041", "KYC",
                          listener="external", method="POST", path="echo", body=payload,
                          headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, payload)

    def test_header_section_over_limit_is_431(self):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                          headers={"X-Big": "h" * (20 * 1024)})
        body = self.assertProblem(r, 431, "VALIDATION_FAILED")
        self.assertEqual(body.get("reason"), "HEADER_TOO_LARGE", body)

    def test_malformed_request_line_is_400_and_closed(self):
        data, closed = harness.raw_exchange(self.dep.port("state"),
                                            b"GARBAGE\x01 NOT HTTP\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])
        self.assertTrue(closed, "the gateway must close the connection after a parse error")
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        self.assertEqual(r.status, 200, r)

    def test_malformed_header_is_400_and_closed(self):
        data, closed = harness.raw_exchange(
            self.dep.port("state"),
            b"GET /v1/services/person.byIin HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])
        self.assertTrue(closed)

    def test_many_requests_pipelined_on_one_connection(self):
        one = (b"GET /v1/services/person.byIin HTTP/1.1\r\nHost: x\r\n"
               b"Qaqpa-Client: " + TAX.encode() + b"\r\nQaqpa-Subject: IIN:" +
               CITIZENS[0].encode() + b"\r\nQaqpa-Purpose: TAX_ADMINISTRATION\r\n\r\n")
        last = one.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        data, closed = harness.raw_exchange(self.dep.port("state"), one * 4 + last)
        self.assertTrue(closed)
        self.assertEqual(data.count(b"HTTP/1.1 200"), 5, data[:500])


class KeepAliveTest(Base):
    CALLS = 50

    def call(self, conn=None):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                          conn=conn)
        self.assertEqual(r.status, 200, r)

    def test_provider_connections_are_reused(self):
        population = self.dep.providers["population"]
        with closing(population.connection()) as stats_conn:
            before = population.stats(stats_conn)
            client = self.dep.connection("state")
            try:
                for _ in range(self.CALLS):
                    self.call(conn=client)  # one client connection
            finally:
                client.close()
            for _ in range(self.CALLS):
                self.call()  # a fresh client connection each time
            after = population.stats(stats_conn)
        new_connections = after["connections_accepted"] - before["connections_accepted"]
        requests = after["requests"] - before["requests"]
        self.assertGreaterEqual(requests, 2 * self.CALLS)
        self.assertLessEqual(new_connections, 2, (before, after))

    def test_client_keep_alive(self):
        client = self.dep.connection("state")
        try:
            for _ in range(5):
                self.call(conn=client)
                self.assertIsNotNone(client.sock, "the gateway closed a keep-alive connection")
        finally:
            client.close()

    def test_concurrent_clients(self):
        errors = []

        def worker():
            try:
                conn = self.dep.connection("state")
                for _ in range(10):
                    r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[2]}",
                                      "TAX_ADMINISTRATION", conn=conn)
                    if r.status != 200:
                        errors.append(r)
                conn.close()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(errors, [])


class HeaderHygieneTest(Base):
    def echo_headers(self, headers):
        r = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION",
                          path="_demo/echo-headers", headers=headers)
        self.assertEqual(r.status, 200, r)
        return r, r.json()["headers"]

    def test_spoofed_qaqpa_headers_do_not_reach_provider(self):
        r, seen = self.echo_headers({
            "Qaqpa-Gateway": "evil-node",
            "Qaqpa-Event-Id": "0190e2a4-0000-7000-8000-000000000000",
            "Qaqpa-Status": "OK",
            "Qaqpa-Something-Else": "x",
        })
        self.assertIn("qaqpa-gateway", seen)
        self.assertNotIn("evil-node", seen["qaqpa-gateway"])
        self.assertNotIn(",", seen["qaqpa-gateway"], "exactly one Qaqpa-Gateway")
        self.assertNotIn("qaqpa-event-id", seen)
        self.assertNotIn("qaqpa-status", seen)
        self.assertNotIn("qaqpa-something-else", seen)

    def test_verified_qaqpa_headers_are_added(self):
        r, seen = self.echo_headers({})
        self.assertEqual(seen.get("qaqpa-client"), TAX)
        self.assertEqual(seen.get("qaqpa-subject"), f"IIN:{CITIZENS[0]}")
        self.assertEqual(seen.get("qaqpa-purpose"), "TAX_ADMINISTRATION")
        self.assertEqual(seen.get("qaqpa-message-id"), r.header("Qaqpa-Message-Id"))
        self.assertEqual(seen.get("qaqpa-correlation-id"), r.header("Qaqpa-Message-Id"),
                         "the correlation id defaults to the message id")
        self.assertTrue(seen.get("qaqpa-gateway"))

    def test_hop_by_hop_headers_are_dropped(self):
        _, seen = self.echo_headers({
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "secret",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        })
        self.assertNotIn("x-hop", seen)
        self.assertNotIn("keep-alive", seen)
        self.assertNotIn("proxy-authorization", seen)
        self.assertNotIn("x-hop", seen.get("connection", "").lower())

    def test_end_to_end_headers_are_forwarded(self):
        _, seen = self.echo_headers({"X-Request-Tag": "abc-123", "Accept": "application/json"})
        self.assertEqual(seen.get("x-request-tag"), "abc-123")
        self.assertEqual(seen.get("accept"), "application/json")


class AdminTest(Base):
    def test_healthz(self):
        r = harness.request(self.dep.port("admin"), "GET", "/healthz")
        self.assertEqual(r.status, 200, r)

    def test_readyz(self):
        r = harness.request(self.dep.port("admin"), "GET", "/readyz")
        self.assertEqual(r.status, 200, r)

    def test_services_are_not_served_on_admin(self):
        r = harness.request(self.dep.port("admin"), "GET", "/v1/services/person.byIin",
                            {"Qaqpa-Client": TAX, "Qaqpa-Subject": f"IIN:{CITIZENS[0]}",
                             "Qaqpa-Purpose": "TAX_ADMINISTRATION"})
        self.assertNotEqual(r.status, 200, r)

    def test_ports_file_names_configured_listeners(self):
        for name in ("state", "external", "admin"):
            self.assertIn(name, self.dep.ports)
            self.assertGreater(self.dep.ports[name], 0)


if __name__ == "__main__":
    unittest.main()
