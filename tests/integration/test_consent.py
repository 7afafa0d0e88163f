"""Consent end to end (issue #3): the bank's grant for person.byIin requires the citizen's
consent. An operator records it through the admin API (the citizen-facing API is a later issue);
the bank presents its id in Qaqpa-Consent; revocation takes effect on the very next request."""

import datetime
import json
import unittest

import harness
from harness import BANK, CITIZENS, SOCIAL

CITIZEN = f"IIN:{CITIZENS[0]}"
OTHER = f"IIN:{CITIZENS[1]}"


def in_future(**delta):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**delta)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ConsentTest(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {"workers": 2, "demo_trust_client_header": True}

    def admin(self, method, target, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        return harness.request(self.dep.port("admin"), method, target, headers, data)

    def grant(self, subject=CITIZEN, services=("person.byIin",), purpose="CREDIT_SCORING",
              expires=None, client=BANK):
        r = self.admin("POST", "/admin/consents", {
            "subject": subject, "client": client, "services": list(services),
            "purpose": purpose, "expires": expires or in_future(days=30), "operator": "test-op"})
        self.assertEqual(r.status, 201, r)
        return r.json()

    def bank(self, consent=None, subject=CITIZEN, language=None):
        headers = {"Qaqpa-Consent": consent} if consent else {}
        return self.dep.call("person.byIin", BANK, subject, "CREDIT_SCORING", listener="external",
                             headers=headers, language=language)

    def assertConsentDenied(self, r, reason):
        body = self.assertProblem(r, 403, "CONSENT_REQUIRED")
        self.assertEqual(body["reason"], reason, r)

    def test_granted_consent_lets_the_bank_read_and_revocation_stops_it_at_once(self):
        c = self.grant()
        self.assertEqual(c["state"], "ACTIVE")
        self.assertEqual(c["grantedBy"], "admin:test-op")
        r = self.bank(c["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["iin"], CITIZENS[0])
        revoked = self.admin("DELETE", f"/admin/consents/{c['id']}?subject={CITIZEN}")
        self.assertEqual(revoked.status, 200, revoked)
        # the revocation's CONSENT_REVOKED event is named, like every journaled answer
        self.assertRegex(revoked.header("Qaqpa-Event-Id") or "", r"^[0-9a-f-]{36}$", revoked)
        self.assertEqual(revoked.json()["state"], "REVOKED")
        # the very next request, on any worker
        for _ in range(4):
            self.assertConsentDenied(self.bank(c["id"]), "CONSENT_REVOKED")

    def test_missing_unknown_and_someone_elses_consent(self):
        self.assertConsentDenied(self.bank(), "CONSENT_MISSING")
        self.assertConsentDenied(self.bank("01234567-89ab-7cde-8f01-23456789abcd"),
                                 "CONSENT_NOT_FOUND")
        mine = self.grant(subject=OTHER)
        # the other citizen's consent id, used for this citizen: reads as not found
        self.assertConsentDenied(self.bank(mine["id"], subject=CITIZEN), "CONSENT_NOT_FOUND")

    def test_consent_for_another_purpose_or_service_does_not_cover(self):
        c = self.grant(services=("tax.debtStatus",))
        self.assertConsentDenied(self.bank(c["id"]), "CONSENT_MISMATCH")

    def test_consent_expires(self):
        c = self.grant(expires=in_future(seconds=1.5))
        self.assertEqual(self.bank(c["id"]).status, 200)
        harness._wait_for(lambda: self.bank(c["id"]).status == 403, 10, "the consent to expire")
        self.assertConsentDenied(self.bank(c["id"]), "CONSENT_EXPIRED")

    def test_denial_is_localized(self):
        r = self.bank(language="ru")
        self.assertEqual(r.header("Content-Language"), "ru")
        self.assertIn("согласие", r.json()["detail"])

    def test_state_callers_need_no_consent(self):
        r = self.dep.call("person.byIin", SOCIAL, CITIZEN, "SOCIAL_BENEFITS")
        self.assertEqual(r.status, 200, r)

    def test_admin_lists_and_validates(self):
        c = self.grant(subject=OTHER)
        subject = OTHER.replace(':', '%3A')
        # Reading a citizen's consents names the operator (it is journaled as OPERATOR_ACCESS).
        anonymous = self.admin("GET", f"/admin/consents?subject={subject}")
        self.assertProblem(anonymous, 400, "VALIDATION_FAILED")
        self.assertEqual(anonymous.json()["reason"], "INVALID_BODY")
        listed = self.admin("GET", f"/admin/consents?subject={subject}&operator=aigerim"
                                   "&reason=citizen%20call%20118")
        self.assertEqual(listed.status, 200, listed)
        self.assertRegex(listed.header("Qaqpa-Event-Id") or "", r"^[0-9a-f-]{36}$",
                         "the OPERATOR_ACCESS event of this read")
        self.assertIn(c["id"], [x["id"] for x in listed.json()["consents"]])
        bad = self.admin("POST", "/admin/consents", {"subject": "IIN:900101300018"})
        self.assertProblem(bad, 400, "VALIDATION_FAILED")
        self.assertEqual(bad.json()["reason"], "INVALID_BODY")
        past = self.admin("POST", "/admin/consents", {
            "subject": CITIZEN, "client": BANK, "services": ["person.byIin"],
            "purpose": "CREDIT_SCORING", "expires": "2020-01-01T00:00:00Z", "operator": "op"})
        self.assertProblem(past, 400, "VALIDATION_FAILED")
        wrong = self.admin("DELETE", f"/admin/consents/{c['id']}?subject={CITIZEN}")
        self.assertEqual(wrong.status, 404, "a consent is revoked only by naming its own subject")
        self.assertEqual(wrong.json()["reason"], "CONSENT_ID_UNKNOWN")
        self.assertProblem(self.admin("POST", "/admin/consents", None), 400, "VALIDATION_FAILED")


if __name__ == "__main__":
    unittest.main()
