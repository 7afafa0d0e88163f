"""docs/openapi.yaml is in step with the code (PROTOCOL.md §11).

Static checks (no gateway): the document parses, is OpenAPI 3.1, every local $ref resolves, every
operation has responses including a problem (or default) response, every path names its
listeners; every route literal of gateway/server/server.cc and gateway/server/space_routes.cc is
a documented path (so a new route without documentation fails here); the Problem's `code` and
`reason` enums equal the canonical codes of gateway/common/status.h and the reason names of
gateway/common/i18n.cc; the event enums equal journal.proto's; every key event_json.cc writes is
a documented property.

Live checks (the real gateway through harness.py, demo mode): every documented operation is sent
to every listener that is said to serve it — with a token from POST /v1/space/demo-login for the
space API and the demo trust headers on zones — and must not be answered 404 ROUTE_UNKNOWN or 405
METHOD_NOT_ALLOWED; every problem answer and every JSON success body matches its documented
schema.

Uses python3-yaml (Debian) to read the document.
"""

import datetime
import json
import os
import re
import unittest

import yaml

import harness
from harness import BANK, CITIZENS, PEER, TAX

LISTENERS = ("state", "external", "international", "space", "admin")
ZONES = ("state", "external", "international")
METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")

# The demo trust headers of each zone listener (demo_trust_client_header: true).
ZONE_HEADERS = {
    "state": {"Qaqpa-Client": TAX, "Qaqpa-Subject": f"IIN:{CITIZENS[0]}",
              "Qaqpa-Purpose": "TAX_ADMINISTRATION"},
    "external": {"Qaqpa-Client": BANK, "Qaqpa-Subject": f"IIN:{CITIZENS[0]}",
                 "Qaqpa-Purpose": "CREDIT_SCORING"},
    "international": {"Qaqpa-Client": PEER, "Qaqpa-Subject": f"IIN:{CITIZENS[0]}",
                      "Qaqpa-Purpose": "KYC"},
}

# Route literals: string literals that start with these (the brief of PROTOCOL.md §11) plus any
# literal a request path is compared with (`path_ == "/"`).
ROUTE_PREFIXES = ("/v1/", "/admin/", "/space", "/healthz", "/readyz", "/metrics")
# A prefix literal that only guards a namespace (`if (!path_.starts_with("/v1/space/")) 404`):
# covered when some documented path lies under it.
NAMESPACE_GUARDS = {"/v1/space/"}


def source_path(*parts):
    return os.path.join(harness.source_dir(), *parts)


def read_source(*parts):
    with open(source_path(*parts), encoding="utf-8") as f:
        return f.read()


def load_document():
    with open(source_path("docs", "openapi.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def strip_comments(cc):
    """C++ source without // and /* */ comments (string literals kept)."""
    out, i, n = [], 0, len(cc)
    while i < n:
        c = cc[i]
        if c == '"':
            j = i + 1
            while j < n and cc[j] != '"':
                j += 2 if cc[j] == "\\" else 1
            out.append(cc[i:j + 1])
            i = j + 1
        elif cc.startswith("//", i):
            while i < n and cc[i] != "\n":
                i += 1
        elif cc.startswith("/*", i):
            end = cc.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def route_literals(sources):
    """Every route literal in the given C++ sources."""
    routes = set()
    for text in sources:
        code = strip_comments(text)
        # Raw strings (R"(...)") are JSON bodies and headers, never routes.
        code = re.sub(r'R"\((.*?)\)"', '""', code, flags=re.S)
        for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', code):
            if lit.startswith(ROUTE_PREFIXES):
                routes.add(lit)
        for lit in re.findall(r'(?:==|starts_with\()\s*"(/[^"]*)"', code):
            routes.add(lit)
    return routes


def undocumented_routes(routes, paths):
    """The route literals that no documented path covers. A literal ending in "/" is a prefix
    route: covered by the path itself or by `<literal>{param}`."""
    missing = []
    for r in sorted(routes):
        if r in paths:
            continue
        if r.endswith("/"):
            if any(re.fullmatch(re.escape(r) + r"\{[^/{}]+\}", p) for p in paths):
                continue
            if r in NAMESPACE_GUARDS and any(p.startswith(r) for p in paths):
                continue
        missing.append(r)
    return missing


def resolve(doc, ref):
    if not ref.startswith("#/"):
        raise KeyError(f"not a local reference: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node[part]
    return node


def deref(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"])
        seen += 1
        if seen > 20:
            raise AssertionError("reference loop")
    return node


def walk(node, path="#"):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}/{i}")


def operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item, item[method]


def reason_names(i18n_cc):
    body = i18n_cc[i18n_cc.index("ReasonRow reasonRow("):]
    body = body[:body.index("\n}\n")]
    return re.findall(r'return\s*\{\s*"([A-Z][A-Z0-9_]*)"', body)


def code_names(status_h):
    body = status_h[status_h.index("codeName(StatusCode"):]
    body = body[:body.index("\n}\n")]
    # The switch, then a fallback return that repeats one of them.
    return sorted(set(re.findall(r'return\s+"([A-Z][A-Z0-9_]*)";', body)))


def proto_enum(proto, name):
    body = re.search(r"enum\s+" + name + r"\s*\{(.*?)\}", proto, re.S).group(1)
    return [n for n in re.findall(r"^\s*([A-Z][A-Z0-9_]*)\s*=", body, re.M)
            if not n.endswith("_UNSPECIFIED")]


# ---------------------------------------------------------------------------------------------
# A small JSON Schema checker: the keywords docs/openapi.yaml uses.


def schema_errors(doc, schema, value, where="$"):
    schema = deref(doc, schema)
    if schema in ({}, None, True):
        return []
    errors = []
    if "allOf" in schema:
        for s in schema["allOf"]:
            errors += schema_errors(doc, s, value, where)
    if "oneOf" in schema:
        ok = [s for s in schema["oneOf"] if not schema_errors(doc, s, value, where)]
        if len(ok) != 1:
            errors.append(f"{where}: {value!r} matches {len(ok)} of oneOf")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} != const {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in enum")
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return errors + [f"{where}: {value!r} is not an integer"]
    elif t in types:
        if not isinstance(value, types[t]):
            return errors + [f"{where}: {type(value).__name__} is not {t}"]
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                errors.append(f"{where}: required {k!r} missing")
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                errors += schema_errors(doc, props[k], v, f"{where}.{k}")
            elif schema.get("additionalProperties") is False or props:
                # Documented objects are closed: an undocumented key is a gap in the document.
                errors.append(f"{where}: key {k!r} is not documented")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errors += schema_errors(doc, schema["items"], v, f"{where}[{i}]")
    return errors


# ---------------------------------------------------------------------------------------------


class DocumentTest(unittest.TestCase):
    """The document itself, and the code's lists it must agree with."""

    @classmethod
    def setUpClass(cls):
        cls.doc = load_document()

    def test_is_openapi_3_1(self):
        self.assertRegex(str(self.doc.get("openapi")), r"^3\.1\.\d+$")
        self.assertIn("title", self.doc["info"])
        self.assertIn("version", self.doc["info"])
        self.assertTrue(self.doc["paths"])
        names = [s.get("x-qaqpa-listener") for s in self.doc["servers"]]
        self.assertEqual(sorted(names), sorted(LISTENERS))

    def test_every_ref_resolves(self):
        refs = [(where, node["$ref"]) for where, node in walk(self.doc)
                if isinstance(node, dict) and "$ref" in node]
        self.assertGreater(len(refs), 50)
        for where, ref in refs:
            with self.subTest(where=where):
                self.assertIsInstance(ref, str)
                try:
                    resolve(self.doc, ref)
                except (KeyError, IndexError, ValueError, TypeError) as e:
                    self.fail(f"{where}: $ref {ref} does not resolve ({e})")

    def test_every_path_names_its_listeners(self):
        for path, item in self.doc["paths"].items():
            with self.subTest(path=path):
                listeners = item.get("x-qaqpa-listener")
                self.assertIsInstance(listeners, list)
                self.assertTrue(listeners)
                self.assertTrue(set(listeners) <= set(LISTENERS), listeners)
                served = {s.get("description") for s in item.get("servers", [])}
                self.assertEqual(served, set(listeners), "servers and x-qaqpa-listener differ")

    def test_every_operation_has_responses_and_a_problem_response(self):
        count = 0
        for path, method, _, op in operations(self.doc):
            count += 1
            with self.subTest(op=f"{method.upper()} {path}"):
                self.assertIn("operationId", op)
                responses = op.get("responses")
                self.assertTrue(responses, "no responses")
                self.assertIn("default", responses)
                problems = [code for code, r in responses.items()
                            if "application/problem+json" in deref(self.doc, r).get("content", {})]
                self.assertTrue(problems, "no problem response")
                for code in responses:
                    self.assertRegex(str(code), r"^([1-5][0-9][0-9]|default)$")
        self.assertGreaterEqual(count, 25)

    def test_path_parameters_are_declared_with_examples(self):
        for path, method, item, op in operations(self.doc):
            params = [deref(self.doc, p) for p in item.get("parameters", []) +
                      op.get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            with self.subTest(op=f"{method.upper()} {path}"):
                self.assertEqual(declared, set(re.findall(r"\{([^}]+)\}", path)))
                for p in params:
                    if p["in"] == "path" or p.get("required"):
                        self.assertIsNotNone(example_of(self.doc, p), p["name"])

    def test_every_route_of_the_server_is_documented(self):
        routes = route_literals([read_source("gateway", "server", "server.cc"),
                                 read_source("gateway", "server", "space_routes.cc")])
        # The extraction itself works: it finds the routes everyone knows about.
        for known in ("/v1/keys", "/v1/services/", "/healthz", "/admin/reload",
                      "/v1/space/events/", "/v1/space/consent-options", "/space/", "/"):
            self.assertIn(known, routes)
        self.assertEqual(undocumented_routes(routes, set(self.doc["paths"])), [],
                         "routes served by the gateway but not in docs/openapi.yaml")

    def test_the_route_check_catches_an_undocumented_route(self):
        # A new route in the source that the document lacks must be reported.
        fake = read_source("gateway", "server", "server.cc") + \
            '\nvoid f(std::string_view path) { if (path == "/admin/status") {} ' \
            'if (path.starts_with("/v1/space/receipts/")) {} }\n'
        routes = route_literals([fake])
        self.assertEqual(undocumented_routes(routes, set(self.doc["paths"])),
                         ["/admin/status", "/v1/space/receipts/"])
        # Comments and raw strings are not routes.
        self.assertEqual(route_literals(['// "/admin/x"\nauto b = R"({"/v1/y": 1})";']), set())

    def test_problem_code_enum_is_the_canonical_codes(self):
        codes = code_names(read_source("gateway", "common", "status.h"))
        self.assertEqual(len(codes), 14, codes)
        problem = deref(self.doc, self.doc["components"]["schemas"]["Problem"])
        documented = deref(self.doc, problem["properties"]["code"])["enum"]
        self.assertEqual(sorted(documented), sorted(codes))
        for field in ("type", "title", "status", "code", "reason", "detail", "messageId",
                      "eventId"):
            self.assertIn(field, problem["properties"])

    def test_problem_reason_enum_is_every_reason_name(self):
        names = reason_names(read_source("gateway", "common", "i18n.cc"))
        failure_h = read_source("gateway", "common", "failure.h")
        enum_body = re.search(r"enum class Reason[^{]*\{(.*?)\};", failure_h, re.S).group(1)
        enumerators = re.findall(r"^\s*([A-Z][A-Za-z0-9]*),", strip_comments(enum_body), re.M)
        self.assertEqual(len(set(names)), len(enumerators), (names, enumerators))
        problem = deref(self.doc, self.doc["components"]["schemas"]["Problem"])
        documented = deref(self.doc, problem["properties"]["reason"])["enum"]
        missing = sorted(set(names) - set(documented))
        stale = sorted(set(documented) - set(names))
        self.assertEqual(missing, [], "reasons of i18n.cc missing from Problem.reason")
        self.assertEqual(stale, [], "Problem.reason names no reason of i18n.cc")

    def test_event_enums_and_fields_follow_the_code(self):
        proto = read_source("schemas", "qaqpa", "journal", "v1", "journal.proto")
        schemas = self.doc["components"]["schemas"]
        self.assertEqual(schemas["EventKind"]["enum"], proto_enum(proto, "Kind"))
        self.assertEqual(schemas["EventZone"]["enum"], proto_enum(proto, "Zone"))
        cc = read_source("gateway", "audit", "event_json.cc")
        split = cc.index("json::object checkpointToJson(")
        event_body = cc[cc.index("json::object eventToJson("):split]
        checkpoint_body = cc[split:]
        key_re = r'(?:put\w+\(o,|o\.emplace\()\s*"(\w+)"'
        event_keys = re.findall(key_re, event_body)
        self.assertGreater(len(event_keys), 25)
        self.assertEqual(sorted(set(event_keys) - set(schemas["DigitalEvent"]["properties"])), [])
        cp_keys = re.findall(key_re, checkpoint_body)
        self.assertEqual(sorted(set(cp_keys) - set(schemas["Checkpoint"]["properties"])), [])
        self.assertEqual(len(cp_keys), 8)


def body_example(doc, path, method):
    """The JSON example of an operation's request body; a consent's `expires` (at most 5 years
    ahead, after now) is moved to 30 days from now so the example never goes stale."""
    op = doc["paths"][path][method]
    content = deref(doc, op.get("requestBody", {})).get("content", {})
    if "application/json" not in content:
        return None
    example = dict(content["application/json"].get("example", {}))
    if "expires" in example:
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
        example["expires"] = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    return example


def example_of(doc, param):
    if "example" in param:
        return param["example"]
    if param.get("examples"):
        return next(iter(param["examples"].values())).get("value")
    schema = deref(doc, param.get("schema", {}))
    if schema.get("examples"):
        return schema["examples"][0]
    return None


class LiveTest(harness.GatewayTestCase):
    """Every documented operation exists on the listeners said to serve it."""

    GATEWAY_OVERRIDES = {"workers": 1, "demo_trust_client_header": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.doc = load_document()
        r = harness.request(cls.dep.port("space"), "POST", "/v1/space/demo-login",
                            {"Content-Type": "application/json"},
                            json.dumps({"iin": CITIZENS[0]}).encode())
        assert r.status == 200, r
        cls.token = r.json()["token"]
        # An operator consent, so that DELETE /admin/consents/{consentId} has one to revoke
        # (an id that is not the subject's is answered like an unknown route).
        body = body_example(cls.doc, "/admin/consents", "post")
        r = harness.request(cls.dep.port("admin"), "POST", "/admin/consents",
                            {"Content-Type": "application/json"}, json.dumps(body).encode())
        assert r.status == 201, r
        cls.fixtures = {("/admin/consents/{consentId}", "consentId"): r.json()["id"]}

    def build(self, path, method, listener, item, op):
        params = [deref(self.doc, p) for p in item.get("parameters", []) +
                  op.get("parameters", [])]
        target = path
        query = []
        headers = {}
        for p in params:
            value = self.fixtures.get((path, p["name"]), example_of(self.doc, p))
            if p["in"] == "path":
                target = target.replace("{" + p["name"] + "}", str(value))
            elif p["in"] == "query" and p.get("required"):
                query.append(f"{p['name']}={value}")
        if query:
            target += "?" + "&".join(query)
        if path.startswith("/v1/services/"):
            headers.update(ZONE_HEADERS[listener])
        if any("citizenBearer" in s for s in op.get("security", [])):
            headers["Authorization"] = f"Bearer {self.token}"
        body = None
        content = deref(self.doc, op.get("requestBody", {})).get("content", {})
        if "application/json" in content:
            body = json.dumps(body_example(self.doc, path, method)).encode()
            headers["Content-Type"] = "application/json"
        elif content:
            body = b"{}"
            headers["Content-Type"] = "application/json"
        return target, headers, body

    def check_answer(self, what, op, reply, method, path=""):
        status = str(reply.status)
        responses = op["responses"]
        self.assertTrue(status in responses or "default" in responses, f"{what}: {reply}")
        gateway_code = reply.header("Qaqpa-Status")
        if method == "head":
            # No body to read the reason from: the gateway's own 404/405 have these codes.
            self.assertFalse(reply.status == 404 and gateway_code == "SERVICE_NOT_FOUND",
                             f"{what}: route unknown: {reply}")
            self.assertFalse(reply.status == 405 and gateway_code == "VALIDATION_FAILED",
                             f"{what}: method not allowed: {reply}")
            return
        ctype = (reply.header("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/problem+json" and gateway_code != "OK":
            problem = reply.json()
            self.assertNotIn(problem.get("reason"), ("ROUTE_UNKNOWN", "METHOD_NOT_ALLOWED"),
                             f"{what}: {reply}")
            schema = deref(self.doc, responses.get(status, responses["default"]))
            schema = schema.get("content", {}).get("application/problem+json", {}).get("schema")
            if schema is None:
                schema = self.doc["components"]["schemas"]["Problem"]
            self.assertEqual(schema_errors(self.doc, schema, problem), [], f"{what}: {reply}")
            return
        # A provider's own 404/405 passes through with Qaqpa-Status OK: the route exists.
        self.assertFalse(reply.status == 405 and gateway_code not in (None, "OK"),
                         f"{what}: {reply}")
        if gateway_code == "OK" and path.startswith("/v1/services/"):
            return  # the provider's answer, passed through (ServiceAnswer): its own format
        content = deref(self.doc, responses.get(status, responses["default"])).get("content", {})
        if ctype.endswith("json") and "*/*" not in content:
            # A JSON answer of the gateway's own: its media type and body are as documented.
            media = next((m for t, m in content.items() if t.split(";")[0].strip() == ctype),
                         None)
            self.assertIsNotNone(media, f"{what}: {ctype} answer not documented: {reply}")
            if ctype == "application/x-ndjson":
                # JSON lines: each line is the documented line schema.
                lines = reply.body.decode("utf-8").splitlines()
                self.assertTrue(lines, f"{what}: {reply}")
                for line in lines:
                    self.assertEqual(schema_errors(self.doc, media["x-qaqpa-line-schema"],
                                                   json.loads(line)), [], f"{what}: {line}")
            else:
                self.assertEqual(schema_errors(self.doc, media["schema"], reply.json()), [],
                                 f"{what}: {reply}")
            self.checked_bodies += 1

    def test_every_documented_operation_exists_on_its_listeners(self):
        sent = 0
        self.checked_bodies = 0
        for path, method, item, op in operations(self.doc):
            for listener in item["x-qaqpa-listener"]:
                target, headers, body = self.build(path, method, listener, item, op)
                what = f"{method.upper()} {target} on {listener}"
                with self.subTest(op=what):
                    reply = harness.request(self.dep.port(listener), method.upper(), target,
                                            headers, body)
                    self.check_answer(what, op, reply, method, path)
                    sent += 1
        self.assertGreaterEqual(sent, 40)
        self.assertGreaterEqual(self.checked_bodies, 15)

    def test_undocumented_paths_are_route_unknown(self):
        # The negative of the check above: the harness really sees ROUTE_UNKNOWN for a path the
        # document does not have, on every listener.
        for listener in LISTENERS:
            headers = dict(ZONE_HEADERS.get(listener, {}))
            if listener == "space":
                headers["Authorization"] = f"Bearer {self.token}"
            target = "/v1/space/nope" if listener == "space" else "/v1/nope"
            with self.subTest(listener=listener):
                reply = harness.request(self.dep.port(listener), "GET", target, headers)
                body = self.assertProblem(reply, 404, "SERVICE_NOT_FOUND")
                self.assertEqual(body["reason"], "ROUTE_UNKNOWN")

    def test_events_and_proofs_match_their_schemas(self):
        # A real event with a proof: the documented DigitalEvent, Checkpoint and proof shapes.
        call = self.dep.call("person.byIin", TAX, f"IIN:{CITIZENS[0]}", "TAX_ADMINISTRATION")
        self.assertEqual(call.status, 200, call)
        event_id = call.header("Qaqpa-Event-Id")
        auth = {"Authorization": f"Bearer {self.token}"}
        page = harness.request(self.dep.port("space"), "GET", "/v1/space/events?limit=5", auth)
        self.assertEqual(page.status, 200, page)
        self.assertTrue(page.json()["events"], page)
        schemas = self.doc["components"]["schemas"]
        self.assertEqual(schema_errors(self.doc, schemas["EventsPage"], page.json()), [])
        one = harness.request(self.dep.port("space"), "GET", f"/v1/space/events/{event_id}", auth)
        self.assertEqual(one.status, 200, one)
        self.assertEqual(schema_errors(self.doc, schemas["EventWithProof"], one.json()), [])
        # Consent options and the citizen's consents, non-empty in the demo bundle.
        opts = harness.request(self.dep.port("space"), "GET", "/v1/space/consent-options", auth)
        self.assertTrue(opts.json()["options"], opts)
        self.assertEqual(schema_errors(self.doc, schemas["ConsentOptions"], opts.json()), [])
        consent = harness.request(
            self.dep.port("space"), "POST", "/v1/space/consents",
            dict(auth, **{"Content-Type": "application/json"}),
            json.dumps(body_example(self.doc, "/v1/space/consents", "post")).encode())
        self.assertEqual(consent.status, 201, consent)
        self.assertEqual(schema_errors(self.doc, schemas["Consent"], consent.json()), [])


if __name__ == "__main__":
    unittest.main()
