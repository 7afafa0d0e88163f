"""The citizen's digital space over real sockets (issue #5, PROTOCOL.md §7, docs/space.md): the
real gateway, real demo providers, tokens from the built-in demo identity provider and tokens
this test signs itself with the demo provider's key (expired, wrong audience, unknown kid, ...).

Security: citizen A never reads B's events or consents — by id, by filter, by cursor tampering;
token tampering; oversized and malformed queries; CSV injection neutralised."""

import base64
import csv
import datetime
import io
import json
import os
import time
import unittest
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import harness
from harness import BANK, CITIZENS, TAX

A = f"IIN:{CITIZENS[0]}"
B = f"IIN:{CITIZENS[1]}"
AUD = "qaqpa-space"
ISSUER = "urn:qaqpa:demo-idp"
KID = "demo-idp-1"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def in_future(**delta):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**delta)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class SpaceTest(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": 2, "demo_trust_client_header": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(os.path.join(cls.dep.tmp, "keys", "demo-idp.key"), "rb") as f:
            cls.idp_key = serialization.load_pem_private_key(f.read(), password=None)
        # Some history for A and B: the tax service reads both, the bank is refused for A.
        cls.tax_a = cls.dep.call("person.byIin", TAX, A, "TAX_ADMINISTRATION")
        cls.tax_b = cls.dep.call("person.byIin", TAX, B, "TAX_ADMINISTRATION")
        cls.bank_a = cls.dep.call("person.byIin", BANK, A, "CREDIT_SCORING", listener="external")
        assert cls.tax_a.status == 200 and cls.tax_b.status == 200, (cls.tax_a, cls.tax_b)
        assert cls.bank_a.status == 403, cls.bank_a
        cls.token_a = cls.login(CITIZENS[0])
        cls.token_b = cls.login(CITIZENS[1])

    # -- helpers ---------------------------------------------------------------------------

    @classmethod
    def login(cls, iin):
        r = harness.request(cls.dep.port("space"), "POST", "/v1/space/demo-login",
                            {"Content-Type": "application/json"},
                            json.dumps({"iin": iin}).encode())
        assert r.status == 200, r
        return r.json()["token"]

    def space(self, method, target, token=None, body=None, headers=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        return harness.request(self.dep.port("space"), method, target, h, data)

    def events(self, token, query=""):
        r = self.space("GET", "/v1/space/events" + (f"?{query}" if query else ""), token)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def all_event_ids(self, token, query=""):
        ids, cursor = [], None
        for _ in range(100):
            q = query + ("&" if query else "") + "limit=2"
            if cursor:
                q += "&cursor=" + urllib.parse.quote(cursor)
            page = self.events(token, q)
            ids += [e["eventId"] for e in page["events"]]
            cursor = page.get("nextCursor")
            if not cursor:
                return ids
        self.fail("pagination did not end")

    def mint(self, claims=None, header=None, key=None, drop=()):
        now = int(time.time())
        h = {"alg": "ES256", "kid": KID, "typ": "JWT"}
        h.update(header or {})
        c = {"iss": ISSUER, "sub": A, "aud": AUD, "iat": now, "exp": now + 600}
        c.update(claims or {})
        for k in drop:
            c.pop(k, None)
        signing_input = (b64url(json.dumps(h).encode()) + "." +
                         b64url(json.dumps(c).encode())).encode()
        key = key or self.idp_key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            sig = key.sign(signing_input)
        else:
            r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input.decode() + "." + b64url(sig)

    def assertRefused(self, reply, reason, with_error=True):
        body = self.assertProblem(reply, 401, "AUTH_FAILED")
        self.assertEqual(body["reason"], reason, reply)
        www = reply.header("WWW-Authenticate") or ""
        self.assertTrue(www.startswith('Bearer realm="qaqpa-space"'), reply)
        self.assertEqual('error="invalid_token"' in www, with_error, reply)

    # -- authentication --------------------------------------------------------------------

    def test_every_route_needs_a_valid_token(self):
        for method, target in [("GET", "/v1/space/events"), ("GET", "/v1/space/events.csv"),
                               ("GET", f"/v1/space/events/{self.tax_a.header('Qaqpa-Event-Id')}"),
                               ("GET", "/v1/space/consents"), ("POST", "/v1/space/consents"),
                               ("DELETE", "/v1/space/consents/x"),
                               ("GET", "/v1/space/consent-options"), ("GET", "/v1/space/nope")]:
            with self.subTest(target=target):
                self.assertRefused(self.space(method, target), "TOKEN_MISSING", with_error=False)

    def test_refused_tokens_each_with_its_reason(self):
        good = self.mint()
        self.assertEqual(self.space("GET", "/v1/space/events", good).status, 200)
        head, payload, sig = good.split(".")
        other_key = ec.generate_private_key(ec.SECP256R1())
        forged_b = json.loads(base64.urlsafe_b64decode(payload + "=="))
        forged_b["sub"] = B
        cases = {
            "TOKEN_MALFORMED": ["garbage", good + ".x", head + "." + payload],
            "TOKEN_ALG_REFUSED": [
                self.mint(header={"alg": "none"}),
                self.mint(header={"alg": "HS256"}),
                self.mint(header={"alg": "EdDSA"})],
            "TOKEN_HEADER_REFUSED": [self.mint(header={"jku": "https://evil.example/k"}),
                                     self.mint(header={"crit": ["exp"]})],
            "TOKEN_ISSUER_UNKNOWN": [self.mint({"iss": "https://evil.example"})],
            "TOKEN_KEY_UNKNOWN": [self.mint(header={"kid": "nope"})],
            "TOKEN_SIGNATURE_INVALID": [
                self.mint(key=other_key),
                # A's token with the subject swapped to B: the signature no longer matches.
                head + "." + b64url(json.dumps(forged_b).encode()) + "." + sig,
                head + "." + payload + "." + sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")],
            "TOKEN_AUDIENCE_MISMATCH": [self.mint({"aud": "someone-else"})],
            "TOKEN_EXPIRED": [self.mint({"iat": int(time.time()) - 1200,
                                         "exp": int(time.time()) - 600})],
            "TOKEN_NOT_YET_VALID": [self.mint({"iat": int(time.time()) + 900,
                                               "exp": int(time.time()) + 1200})],
            "TOKEN_LIFETIME_TOO_LONG": [self.mint({"exp": int(time.time()) + 86400 * 3})],
            "TOKEN_CLAIMS_INVALID": [self.mint(drop=("exp",))],
            "TOKEN_SUBJECT_INVALID": [self.mint({"sub": "IIN:900101300018"}),
                                      self.mint({"sub": "BIN:240140000011"})],
        }
        for reason, tokens in cases.items():
            for token in tokens:
                with self.subTest(reason=reason, token=token[:40]):
                    self.assertRefused(self.space("GET", "/v1/space/events", token), reason)
        too_big = "a" * 9000 + "." + "b" * 10 + "." + "c" * 10
        self.assertRefused(self.space("GET", "/v1/space/events", too_big), "TOKEN_TOO_LARGE")

    def test_two_authorization_headers_are_refused(self):
        conn = self.dep.connection("space")
        conn.putrequest("GET", "/v1/space/events")
        conn.putheader("Authorization", f"Bearer {self.token_a}")
        conn.putheader("Authorization", f"Bearer {self.token_b}")
        conn.endheaders()
        resp = conn.getresponse()
        reply = harness.Reply(resp.status, resp.reason, resp.getheaders(), resp.read())
        conn.close()
        self.assertRefused(reply, "TOKEN_MALFORMED")

    def test_refusals_are_counted_by_their_code(self):
        def count():
            text = harness.request(self.dep.port("admin"), "GET", "/metrics").body.decode()
            for line in text.splitlines():
                if line.startswith('qaqpa_http_requests_total{code="AUTH_FAILED",listener="space"}'):
                    return float(line.rsplit(" ", 1)[1])
            return 0.0
        before = count()
        for _ in range(3):
            self.space("GET", "/v1/space/events", "not-a-token")
        self.assertEqual(count(), before + 3)

    def test_refusals_are_localized(self):
        kk = self.space("GET", "/v1/space/events").json()
        ru = self.space("GET", "/v1/space/events", headers={"Accept-Language": "ru"}).json()
        en = self.space("GET", "/v1/space/events", headers={"Accept-Language": "en"}).json()
        self.assertEqual({kk["reason"], ru["reason"], en["reason"]}, {"TOKEN_MISSING"})
        self.assertEqual(len({kk["detail"], ru["detail"], en["detail"]}), 3)
        self.assertIn("Sign in", en["detail"])

    # -- demo login --------------------------------------------------------------------------

    def test_demo_login_only_for_demo_citizens(self):
        r = self.space("GET", "/v1/space/demo-login")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["citizens"], [f"IIN:{c}" for c in CITIZENS])
        r = self.space("POST", "/v1/space/demo-login", body={"iin": f"IIN:{CITIZENS[2]}"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["subject"], f"IIN:{CITIZENS[2]}")
        self.assertEqual(r.json()["tokenType"], "Bearer")
        body = self.assertProblem(
            self.space("POST", "/v1/space/demo-login", body={"iin": harness.unknown_valid_iin()}),
            403, "ACCESS_DENIED")
        self.assertEqual(body["reason"], "DEMO_CITIZEN_UNKNOWN")
        for bad in [{"iin": harness.bad_checksum(CITIZENS[0])}, {"iin": 900101300017},
                    {"iin": "BIN:240140000011"}, {"iin": CITIZENS[0], "admin": True}, [], b"{"]:
            with self.subTest(body=bad):
                self.assertProblem(self.space("POST", "/v1/space/demo-login", body=bad), 400,
                                   "VALIDATION_FAILED")

    # -- events --------------------------------------------------------------------------------

    def test_a_sees_exactly_her_events_newest_first(self):
        page = self.events(self.token_a)
        subjects = {e["subject"] for e in page["events"]}
        self.assertEqual(subjects, {A}, page)
        ids = [e["eventId"] for e in page["events"]]
        self.assertIn(self.tax_a.header("Qaqpa-Event-Id"), ids)
        self.assertIn(self.bank_a.header("Qaqpa-Event-Id"), ids)
        self.assertNotIn(self.tax_b.header("Qaqpa-Event-Id"), ids)
        seqs = [e["seq"] for e in page["events"]]
        self.assertEqual(seqs, sorted(seqs, reverse=True))
        denied = next(e for e in page["events"] if e["eventId"] == self.bank_a.header(
            "Qaqpa-Event-Id"))
        self.assertEqual((denied["kind"], denied["status"], denied["client"]["id"]),
                         ("ACCESS_DENIED", "CONSENT_REQUIRED", BANK))
        self.assertEqual(denied["zone"], "EXTERNAL")
        # the refusal quotes its event (PROTOCOL.md §5), and the event names the purpose in words
        self.assertEqual(self.bank_a.json()["eventId"], self.bank_a.header("Qaqpa-Event-Id"))
        self.assertEqual(set(denied["purpose"]["text"]), {"kk", "ru", "en"})
        self.assertEqual(set(denied["client"]["name"]), {"kk", "ru", "en"})
        r = self.space("GET", "/v1/space/events", self.token_a)
        self.assertEqual(r.header("Qaqpa-Status"), "OK")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertTrue(r.header("Signature"), r)

    def test_b_cannot_reach_a_by_id_filter_or_cursor(self):
        a_event = self.tax_a.header("Qaqpa-Event-Id")
        body = self.assertProblem(self.space("GET", f"/v1/space/events/{a_event}", self.token_b),
                                  404, "SERVICE_NOT_FOUND")
        self.assertEqual(body["reason"], "EVENT_NOT_FOUND")
        unknown = self.assertProblem(
            self.space("GET", "/v1/space/events/01a00000-0000-7000-8000-000000000000",
                       self.token_b), 404)
        self.assertEqual(unknown["detail"], body["detail"])  # indistinguishable
        # filters that match A's events only give B nothing
        for q in [f"client={urllib.parse.quote(BANK, safe='')}", "kind=ACCESS_DENIED"]:
            self.assertEqual(self.events(self.token_b, q)["events"], [], q)
        # A's cursor in B's hands, and tampered cursors
        cursor = self.events(self.token_a, "limit=1")["nextCursor"]
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tampered = [cursor]
        for i in range(0, len(raw)):
            flipped = bytearray(raw)
            flipped[i] ^= 1
            tampered.append(b64url(bytes(flipped)))
        for c in tampered:
            r = self.space("GET", "/v1/space/events?cursor=" + urllib.parse.quote(c),
                           self.token_b)
            body = self.assertProblem(r, 400, "VALIDATION_FAILED")
            self.assertIn("cursor", body["detail"])
        for c in tampered[1:]:
            r = self.space("GET", "/v1/space/events?cursor=" + urllib.parse.quote(c),
                           self.token_a)
            self.assertProblem(r, 400, "VALIDATION_FAILED")

    def test_pagination_is_stable_while_events_are_appended(self):
        before = self.all_event_ids(self.token_a)
        first = self.events(self.token_a, "limit=2")
        for _ in range(3):
            self.assertEqual(
                self.dep.call("person.byIin", TAX, A, "TAX_ADMINISTRATION").status, 200)
        rest, cursor = [], first.get("nextCursor")
        while cursor:
            page = self.events(self.token_a, "limit=2&cursor=" + urllib.parse.quote(cursor))
            rest += [e["eventId"] for e in page["events"]]
            cursor = page.get("nextCursor")
        self.assertEqual([e["eventId"] for e in first["events"]] + rest, before)
        self.assertEqual(len(self.all_event_ids(self.token_a)), len(before) + 3)

    def test_filters(self):
        tax_only = self.events(self.token_a, f"client={urllib.parse.quote(TAX, safe='')}")
        self.assertTrue(tax_only["events"])
        self.assertEqual({e["client"]["id"] for e in tax_only["events"]}, {TAX})
        denied = self.events(self.token_a, "kind=ACCESS_DENIED")["events"]
        self.assertTrue(denied)
        self.assertEqual({e["kind"] for e in denied}, {"ACCESS_DENIED"})
        self.assertEqual(self.events(self.token_a, "since=2199-01-01T00:00:00Z")["events"], [])
        self.assertEqual(self.events(self.token_a, "until=2000-01-01T00:00:00%2B05:00")["events"],
                         [])
        self.assertTrue(self.events(self.token_a, "service=person.byIin")["events"])

    def test_malformed_and_oversized_queries(self):
        bad = {
            "limit=0": "limit", "limit=201": "limit", "limit=-1": "limit", "limit=ten": "limit",
            "since=yesterday": "since", "until=2026-13-01T00:00:00Z": "until",
            "since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z": None,
            "kind=EVERYTHING": "kind", "client=bank": "client", "service=%00": "service",
            "limit=5&limit=6": "limit", "admin=true": "admin", "kind=": "kind",
            "cursor=!!!": "cursor", "service=%zz": None, "service=%C3%28": None,
            "q=" + "x" * 3000: None,
        }
        for query, param in bad.items():
            with self.subTest(query=query[:60]):
                r = self.space("GET", "/v1/space/events?" + query, self.token_a)
                body = self.assertProblem(r, 400, "VALIDATION_FAILED")
                self.assertEqual(body["reason"], "INVALID_QUERY", r)
                if param:
                    self.assertIn(param, body["detail"], r)
        self.assertProblem(self.space("GET", "/v1/space/events/not-an-id!", self.token_a), 400,
                           "VALIDATION_FAILED")
        self.assertProblem(self.space("GET", "/v1/space/events.csv?limit=5", self.token_a), 400,
                           "VALIDATION_FAILED")
        self.assertProblem(self.space("POST", "/v1/space/events", self.token_a, body={}), 405,
                           "VALIDATION_FAILED")
        # a query over the header limit is the transport's 431, still a signed problem
        r = self.space("GET", "/v1/space/events?since=" + "x" * 20000, self.token_a)
        self.assertIn(r.status, (414, 431), r)

    # -- one event and its proof ---------------------------------------------------------------

    def test_single_event_with_an_integrity_proof_that_checks_out(self):
        event_id = self.tax_a.header("Qaqpa-Event-Id")
        r = self.space("GET", f"/v1/space/events/{event_id}", self.token_a)
        self.assertEqual(r.status, 200, r)
        event, proof = r.json()["event"], r.json()["proof"]
        self.assertEqual(event["eventId"], event_id)
        canonical = base64.b64decode(proof["canonical"])
        prev = base64.b64decode(proof["prevHash"])
        digest = hashes.Hash(hashes.SHA256())
        digest.update(prev + canonical)
        self.assertEqual(base64.b64encode(digest.finalize()).decode(), proof["hash"])
        self.assertEqual(proof["hash"], event["hash"])
        self.assertIn(event_id.encode(), canonical)
        self.assertTrue(proof["covered"], proof)
        cp = proof["checkpoint"]
        self.assertLessEqual(cp["firstSeq"], event["seq"])
        self.assertLessEqual(event["seq"], cp["lastSeq"])
        jwks = harness.request(self.dep.port("space"), "GET", "/v1/keys").json()
        harness.verify_checkpoint_signature(jwks, cp, proof["checkpointCanonical"])
        if event["seq"] == cp["lastSeq"]:
            self.assertEqual(cp["chainHead"], proof["hash"])

    # -- CSV -------------------------------------------------------------------------------

    def test_csv_export_is_utf8_with_bom_and_only_her_events(self):
        r = self.space("GET", "/v1/space/events.csv", self.token_a,
                       headers={"Accept-Language": "ru"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/csv; charset=utf-8"), r)
        self.assertIn("attachment", r.header("Content-Disposition"))
        self.assertTrue(r.body.startswith(b"\xef\xbb\xbf"))
        text = r.body[3:].decode("utf-8")
        self.assertIn("\r\n", text)
        rows = list(csv.reader(io.StringIO(text, newline="")))
        self.assertGreater(len(rows), 2)
        self.assertTrue(any("\u0410" <= ch <= "\u044f" for ch in rows[0][0]), rows[0])  # Cyrillic
        body = "\n".join(",".join(row) for row in rows)
        self.assertIn(self.tax_a.header("Qaqpa-Event-Id"), body)
        self.assertNotIn(self.tax_b.header("Qaqpa-Event-Id"), body)
        self.assertEqual(r.header("Qaqpa-Export-Complete"), "true")
        for row in rows[1:]:
            for cell in row:
                self.assertFalse(cell[:1] in ("=", "+", "-", "@", "\t", "\r"), row)

    # -- consents --------------------------------------------------------------------------

    def test_consent_lifecycle_through_the_space_api_with_its_events(self):
        options = self.space("GET", "/v1/space/consent-options", self.token_a)
        self.assertEqual(options.status, 200, options)
        bank = next(o for o in options.json()["options"] if o["client"]["id"] == BANK)
        self.assertIn("person.byIin", [s["id"] for s in bank["services"]])
        self.assertIn("CREDIT_SCORING", [p["code"] for p in bank["purposes"]])
        r = self.space("POST", "/v1/space/consents", self.token_a, body={
            "client": BANK, "services": ["person.byIin"], "purpose": "CREDIT_SCORING",
            "expires": in_future(days=30)})
        self.assertEqual(r.status, 201, r)
        consent = r.json()
        self.assertEqual((consent["state"], consent["subject"], consent["grantedBy"]),
                         ("ACTIVE", A, "citizen"))
        self.assertEqual(r.header("Location"), f"/v1/space/consents/{consent['id']}")
        granted_event = r.header("Qaqpa-Event-Id")
        self.assertTrue(granted_event)
        self.assertEqual(self.dep.call("person.byIin", BANK, A, "CREDIT_SCORING",
                                       listener="external",
                                       headers={"Qaqpa-Consent": consent["id"]}).status, 200)
        # B sees none of it and cannot revoke it
        self.assertNotIn(consent["id"], [c["id"] for c in self.space(
            "GET", "/v1/space/consents", self.token_b).json()["consents"]])
        body = self.assertProblem(
            self.space("DELETE", f"/v1/space/consents/{consent['id']}", self.token_b), 404)
        self.assertEqual(body["reason"], "CONSENT_ID_UNKNOWN")
        listed = self.space("GET", "/v1/space/consents", self.token_a).json()["consents"]
        mine = next(c for c in listed if c["id"] == consent["id"])
        self.assertEqual(mine["clientName"]["en"], "Core banking system (demo)")
        # A revokes: the bank's very next call is refused
        r = self.space("DELETE", f"/v1/space/consents/{consent['id']}", self.token_a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "REVOKED")
        revoked_event = r.header("Qaqpa-Event-Id")
        denied = self.dep.call("person.byIin", BANK, A, "CREDIT_SCORING", listener="external",
                               headers={"Qaqpa-Consent": consent["id"]})
        self.assertEqual(self.assertProblem(denied, 403, "CONSENT_REQUIRED")["reason"],
                         "CONSENT_REVOKED")
        again = self.space("DELETE", f"/v1/space/consents/{consent['id']}", self.token_a)
        self.assertEqual(again.status, 200, again)
        self.assertIsNone(again.header("Qaqpa-Event-Id"))
        kinds = {e["eventId"]: e for e in self.events(self.token_a, "limit=200")["events"]}
        self.assertEqual(kinds[granted_event]["kind"], "CONSENT_GRANTED")
        self.assertEqual(kinds[revoked_event]["kind"], "CONSENT_REVOKED")
        self.assertEqual(kinds[revoked_event]["zone"], "SPACE")
        self.assertEqual(kinds[revoked_event]["actor"], A)
        self.assertIn(denied.header("Qaqpa-Event-Id"), kinds)

    def test_consent_requests_are_validated(self):
        good = {"client": BANK, "services": ["person.byIin"], "purpose": "CREDIT_SCORING",
                "expires": in_future(days=30)}
        bad = {
            "client": [dict(good, client="KZ/COM/990340000014/nobody"), dict(good, client=7)],
            "services": [dict(good, services=[]), dict(good, services=["tax.debtStatus"]),
                         dict(good, services="person.byIin"), dict(good, services=[1])],
            "purpose": [dict(good, purpose="KYC"), dict(good, purpose="NOPE")],
            "expires": [dict(good, expires="tomorrow"), dict(good, expires=in_future(days=-1)),
                        dict(good, expires=in_future(days=366 * 6))],
            "/": [dict(good, subject=B), dict(good, grantedBy="admin:x")],
        }
        before = len(self.space("GET", "/v1/space/consents", self.token_a).json()["consents"])
        for field, bodies in bad.items():
            for body in bodies:
                with self.subTest(field=field, body=body):
                    r = self.space("POST", "/v1/space/consents", self.token_a, body=body)
                    problem = self.assertProblem(r, 400, "VALIDATION_FAILED")
                    self.assertIn(field, problem["detail"], r)
        self.assertProblem(self.space("POST", "/v1/space/consents", self.token_a,
                                      body=b"x" * 20000), 413)
        after = len(self.space("GET", "/v1/space/consents", self.token_a).json()["consents"])
        self.assertEqual(before, after)

    # -- the page ------------------------------------------------------------------------------

    def test_page_is_served_with_a_strict_policy(self):
        r = self.space("GET", "/space/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/html"), r)
        csp = r.header("Content-Security-Policy")
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertEqual(r.header("X-Frame-Options"), "DENY")
        again = self.space("GET", "/space/", headers={"If-None-Match": r.header("ETag")})
        self.assertEqual(again.status, 304, again)
        redirect = self.space("GET", "/space")
        self.assertEqual((redirect.status, redirect.header("Location")), (308, "/space/"))
        for target in ["/space/../qaqpa-test.yaml", "/space/%2e%2e/x", "/space/README.md",
                       "/space/nope.js"]:
            with self.subTest(target=target):
                self.assertProblem(self.space("GET", target), 404)


class SpaceWithoutDemoModeTest(harness.GatewayTestCase):
    """Outside demo mode the demo login does not exist; the page and the API still do."""
    GATEWAY_OVERRIDES = {"workers": 1, "demo_trust_client_header": False,
                         "listeners": {"external": None, "international": None}}

    def test_demo_login_is_absent(self):
        port = self.dep.port("space")
        for method in ["GET", "POST"]:
            r = harness.request(port, method, "/v1/space/demo-login",
                                {"Content-Type": "application/json"},
                                b'{"iin":"900101300017"}' if method == "POST" else None)
            self.assertProblem(r, 404, "SERVICE_NOT_FOUND")
        self.assertEqual(harness.request(port, "GET", "/space/").status, 200)
        r = harness.request(port, "GET", "/v1/space/events")
        self.assertEqual(r.status, 401, r)


if __name__ == "__main__":
    unittest.main()
