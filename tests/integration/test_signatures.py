"""Request signatures end to end (issue #3): RFC 9421 signatures made INDEPENDENTLY of the gateway's
code — the signature base, Content-Digest (RFC 9530, sha-256) and the ECDSA r||s encoding are
implemented here with Python's `cryptography` — checked by the real gateway with demo trust OFF on
a plain-HTTP state listener, where a signature is the only proof of identity.

Keys are generated at test time: the public PEMs go into the deployment's copy of the bundle
(keys/*.pem, registered in systems.yaml), the private keys stay in memory. Nothing is committed."""

import base64
import hashlib
import os
import time
import unittest
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import harness
from harness import CITIZENS, SOCIAL, TAX

KEYS = {}  # keyid -> (owner system id, alg, private key)
PERSON = f"IIN:{CITIZENS[0]}"
PURPOSE = "TAX_ADMINISTRATION"
COMPONENTS = ("@method", "@path", "@query", "content-digest", "qaqpa-client", "qaqpa-message-id",
              "qaqpa-subject", "qaqpa-purpose")


def new_key(alg):
    if alg == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def content_digest(body):
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def raw_signature(key, alg, base):
    """RFC 9421 §3.3.4 / §3.3.6: Ed25519 as is; ECDSA P-256 as r||s, 32 bytes each."""
    if alg == "ed25519":
        return key.sign(base)
    r, s = decode_dss_signature(key.sign(base, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sign(method, target, headers, keyid, key=None, alg=None, created=None,
         components=COMPONENTS, label="sig1"):
    """Adds Signature-Input and Signature for `components` to `headers` (a dict that already
    holds every covered header, Content-Digest included). The signature base of RFC 9421 §2.5."""
    owner_alg = KEYS.get(keyid, (None, "ed25519", None))[1]
    key = key if key is not None else KEYS[keyid][2]
    alg = alg or owner_alg
    created = int(time.time()) if created is None else created
    lower = {k.lower(): v for k, v in headers.items()}
    path, _, query = target.partition("?")
    lines = []
    for name in components:
        if name == "@method":
            value = method.upper()
        elif name == "@path":
            value = path
        elif name == "@query":
            value = "?" + query
        else:
            value = lower[name].strip()
        lines.append(f'"{name}": {value}')
    params = ("(" + " ".join(f'"{c}"' for c in components) + ")" +
              f';created={created};keyid="{keyid}";alg="{alg}"')
    lines.append(f'"@signature-params": {params}')
    base = "\n".join(lines).encode("ascii")
    # A deliberately wrong alg still signs with the key's own algorithm.
    key_alg = "ed25519" if isinstance(key, ed25519.Ed25519PrivateKey) else "ecdsa-p256-sha256"
    sig = raw_signature(key, key_alg, base)
    headers["Signature-Input"] = f"{label}={params}"
    headers["Signature"] = f"{label}=:" + base64.b64encode(sig).decode() + ":"
    return headers


def prepare(dep):
    keys_dir = os.path.join(dep.bundle.dir, "keys")
    os.makedirs(keys_dir)
    systems = dep.bundle._doc("systems.yaml")["systems"]
    by_id = {str(s["id"]): s for s in systems}
    for keyid, owner, alg in (("tax-ed25519", TAX, "ed25519"),
                              ("tax-p256", TAX, "ecdsa-p256-sha256"),
                              ("social-ed25519", SOCIAL, "ed25519")):
        key = new_key("ed25519" if alg == "ed25519" else "p256")
        KEYS[keyid] = (owner, alg, key)
        with open(os.path.join(keys_dir, keyid + ".pem"), "wb") as f:
            f.write(public_pem(key))
        by_id[owner].setdefault("signature_keys", []).append(
            {"keyid": keyid, "alg": alg, "public_key_file": f"keys/{keyid}.pem"})
    by_id[SOCIAL]["require_signature"] = True
    dep.bundle.save("systems.yaml")


class SignedRequests(harness.GatewayTestCase):
    GATEWAY_OVERRIDES = {
        "workers": 1,
        "demo_trust_client_header": False,
        # Plain HTTP is allowed only on state without demo trust; the others are not needed.
        "listeners": {"external": None, "international": None, "space": None},
    }

    @classmethod
    def prepare(cls, dep):
        prepare(dep)

    def headers(self, client=TAX, subject=PERSON, purpose=PURPOSE, body=b""):
        h = {"Qaqpa-Client": client, "Qaqpa-Message-Id": str(uuid.uuid4()),
             "Content-Digest": content_digest(body)}
        if subject:
            h["Qaqpa-Subject"] = subject
        if purpose:
            h["Qaqpa-Purpose"] = purpose
        return h

    def send(self, headers, target=f"/v1/services/person.byIin/{CITIZENS[0]}", method="GET",
             body=None):
        return harness.request(self.dep.port("state"), method, target, headers, body)

    def signed(self, keyid, client=TAX, target=f"/v1/services/person.byIin/{CITIZENS[0]}",
               **kw):
        h = self.headers(client=client)
        return self.send(sign("GET", target, h, keyid, **kw), target=target)

    def assertRefused(self, reply, reason, status=401, code="SIGNATURE_INVALID"):
        body = self.assertProblem(reply, status, code)
        self.assertEqual(body["reason"], reason, reply)
        return body

    # -- accepted -------------------------------------------------------------------------------

    def test_ed25519_signature_proves_the_client(self):
        r = self.signed("tax-ed25519")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Qaqpa-Status"), "OK")

    def test_ecdsa_p256_signature_proves_the_client(self):
        r = self.signed("tax-p256")
        self.assertEqual(r.status, 200, r)

    def test_query_and_a_body_are_covered(self):
        body = b'{"note":"signed body"}'
        target = f"/v1/services/person.byIin/{CITIZENS[0]}?fields=name"
        h = sign("GET", target, self.headers(body=body), "tax-p256")
        r = self.send(h, target=target, body=body)
        self.assertEqual(r.status, 200, r)

    def test_client_that_must_sign_passes_when_it_signs(self):
        h = self.headers(client=SOCIAL, purpose="SOCIAL_BENEFITS")
        target = f"/v1/services/person.byIin/{CITIZENS[1]}"
        r = self.send(sign("GET", target, h, "social-ed25519"), target=target)
        self.assertEqual(r.status, 200, r)

    # -- refused --------------------------------------------------------------------------------

    def test_unsigned_request_is_not_proven(self):
        r = self.send(self.headers())
        self.assertRefused(r, "CLIENT_NOT_PROVEN", code="AUTH_FAILED")

    def test_tampered_body_is_a_digest_mismatch(self):
        target = f"/v1/services/person.byIin/{CITIZENS[0]}"
        h = sign("GET", target, self.headers(body=b'{"a":1}'), "tax-ed25519")
        r = self.send(h, target=target, body=b'{"a":2}')
        self.assertRefused(r, "SIGNATURE_DIGEST_MISMATCH")

    def test_tampered_covered_header_does_not_verify(self):
        target = f"/v1/services/person.byIin/{CITIZENS[0]}"
        h = sign("GET", target, self.headers(), "tax-ed25519")
        h["Qaqpa-Subject"] = f"IIN:{CITIZENS[1]}"
        r = self.send(h, target=target)
        self.assertRefused(r, "SIGNATURE_NOT_VERIFIED")

    def test_tampered_path_does_not_verify(self):
        h = sign("GET", f"/v1/services/person.byIin/{CITIZENS[0]}", self.headers(), "tax-p256")
        r = self.send(h, target=f"/v1/services/person.byIin/{CITIZENS[1]}")
        self.assertRefused(r, "SIGNATURE_NOT_VERIFIED")

    def test_stale_created_is_refused(self):
        r = self.signed("tax-ed25519", created=int(time.time()) - 600)
        self.assertRefused(r, "SIGNATURE_STALE")

    def test_created_in_the_future_is_refused(self):
        r = self.signed("tax-ed25519", created=int(time.time()) + 600)
        self.assertRefused(r, "SIGNATURE_FROM_FUTURE")

    def test_unknown_keyid_is_refused(self):
        r = self.signed("nobody-knows", key=new_key("ed25519"), alg="ed25519")
        self.assertRefused(r, "SIGNATURE_KEY_UNKNOWN")

    def test_alg_other_than_the_keys_is_refused(self):
        r = self.signed("tax-ed25519", alg="ecdsa-p256-sha256")
        self.assertRefused(r, "SIGNATURE_ALG_MISMATCH")

    def test_unsupported_alg_is_refused(self):
        r = self.signed("tax-ed25519", alg="rsa-pss-sha512")
        self.assertRefused(r, "SIGNATURE_ALG_UNSUPPORTED")

    def test_forged_signature_under_the_clients_keyid_is_refused(self):
        r = self.signed("tax-ed25519", key=new_key("ed25519"))
        self.assertRefused(r, "SIGNATURE_NOT_VERIFIED")

    def test_key_of_another_system_is_auth_failed(self):
        # tax-service claims the call but signs with social-benefits' registered key
        r = self.signed("social-ed25519", client=TAX)
        body = self.assertRefused(r, "SIGNATURE_KEY_MISMATCH", code="AUTH_FAILED")
        self.assertIn(TAX, body["detail"])

    def test_uncovered_required_component_is_named(self):
        r = self.signed("tax-ed25519",
                        components=tuple(c for c in COMPONENTS if c != "qaqpa-message-id"))
        body = self.assertRefused(r, "SIGNATURE_COMPONENT_MISSING")
        self.assertIn("qaqpa-message-id", body["detail"])

    def test_detail_is_localized(self):
        h = sign("GET", f"/v1/services/person.byIin/{CITIZENS[0]}", self.headers(), "tax-ed25519",
                 created=int(time.time()) - 600)
        h["Accept-Language"] = "ru"
        body = self.assertRefused(self.send(h), "SIGNATURE_STALE")
        self.assertIn("300", body["detail"])
        self.assertIn("Подпись", body["detail"])

    def test_replayed_signed_request_is_a_duplicate(self):
        target = f"/v1/services/person.byIin/{CITIZENS[0]}"
        h = sign("GET", target, self.headers(), "tax-ed25519")
        self.assertEqual(self.send(dict(h), target=target).status, 200)
        r = self.send(dict(h), target=target)
        self.assertProblem(r, 409, "DUPLICATE")

    def test_refused_signature_does_not_burn_the_message_id(self):
        target = f"/v1/services/person.byIin/{CITIZENS[0]}"
        h = self.headers()
        bad = sign("GET", target, dict(h), "tax-ed25519", key=new_key("ed25519"))
        self.assertRefused(self.send(bad, target=target), "SIGNATURE_NOT_VERIFIED")
        good = sign("GET", target, dict(h), "tax-ed25519")
        self.assertEqual(self.send(good, target=target).status, 200)


class KeyConfiguration(harness.GatewayTestCase):
    """A reload with a key file that is not a public key is refused, naming the file, and the
    running keys keep working."""

    GATEWAY_OVERRIDES = SignedRequests.GATEWAY_OVERRIDES

    @classmethod
    def prepare(cls, dep):
        prepare(dep)

    def reload(self):
        return harness.request(self.dep.port("admin"), "POST", "/admin/reload")

    def test_bad_key_file_fails_the_reload_and_names_the_file(self):
        path = os.path.join(self.dep.bundle.dir, "systems.yaml")
        with open(path, encoding="utf-8") as f:
            original = f.read()
        bad = os.path.join(self.dep.bundle.dir, "keys", "garbage.pem")
        with open(bad, "w") as f:
            f.write("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n")
        systems = self.dep.bundle._doc("systems.yaml")["systems"]
        tax = next(s for s in systems if str(s["id"]) == TAX)
        tax["signature_keys"].append({"keyid": "tax-garbage", "alg": "ed25519",
                                      "public_key_file": "keys/garbage.pem"})
        self.dep.bundle.save("systems.yaml")
        try:
            r = self.reload()
            self.assertEqual(r.status, 422, r)
            errors = " | ".join(e["where"] + ": " + e["message"] for e in r.json()["errors"])
            self.assertIn("keys/garbage.pem", errors)
            # the running snapshot keeps its keys
            h = sign("GET", f"/v1/services/person.byIin/{CITIZENS[0]}",
                     {"Qaqpa-Client": TAX, "Qaqpa-Message-Id": str(uuid.uuid4()),
                      "Qaqpa-Subject": PERSON, "Qaqpa-Purpose": PURPOSE,
                      "Content-Digest": content_digest(b"")}, "tax-p256")
            r = harness.request(self.dep.port("state"), "GET",
                                f"/v1/services/person.byIin/{CITIZENS[0]}", h)
            self.assertEqual(r.status, 200, r)
        finally:
            tax["signature_keys"].pop()
            with open(path, "w", encoding="utf-8") as f:
                f.write(original)
            os.remove(bad)
        self.assertEqual(self.reload().status, 200)


if __name__ == "__main__":
    unittest.main()
