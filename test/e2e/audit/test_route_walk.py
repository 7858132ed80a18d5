"""Audit log, route by route: every route of the server (the list comes from
src/http/router.cc, so a route added there without a row here fails the
test) is called, allowed and refused, and the audit entries appended by
exactly that call are compared to the expected ones: action, type, id,
patient, outcome, user, role, purpose and client address.

What is audited (the decisions this test pins down):
  * every access to a record, allowed or refused by policy (outcome 4), and
    refused writes that reached a record (stale If-Match 412, delete of an
    unknown id 404, outcome 4);
  * searches and type/system histories: one entry per patient compartment
    whose data is in the answer, or one without patient when none is;
  * every failed authentication (no credential, non-Bearer, unknown, expired
    or revoked token): action `authenticate`, outcome 4, the client address,
    the account when the token named one; exported as DICOM 110114 User
    Authentication with the agent's network address;
  * not audited: /healthz, /metrics, /fhir/metadata, the web app's files
    (/ and /static/*) (no patient data), and
    requests refused before any record is consulted (400 malformed JSON or
    parameters, 413 oversized, 422 invalid resource, unknown type, 405).

The entries are read from the `audit` table (canonical JSON, documented in
docs/formats/audit.md) through a read-only SQLite connection while the server
runs; `medvault audit export` runs once at the end, beside the server, for
the FHIR AuditEvent form of the security events.
"""
import collections
import json
import os
import re
import sys
import time
import unittest
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "http"))
from medvault_e2e import REPO, Vault  # noqa: E402
from auditlib import auditfiles, compartment  # noqa: E402

ROUTER = REPO / "src" / "http" / "router.cc"
API = REPO / "src" / "http" / "api.cc"
ADDR = "127.0.0.1"


def router_routes():
    """(method, template) of every route router.cc matches; "*" for a
    catch-all that takes any method (/api/*)."""
    src = ROUTER.read_text()
    routes = set()
    for tmpl, methods in re.findall(r'allow\(\s*"([^"]+)"\s*,\s*"([^"]+)"', src):
        for m in methods.split(","):
            routes.add((m.strip(), tmpl))
    for tmpl in re.findall(r'r\.tmpl\s*=\s*"([^"]+)"', src):
        routes.add(("*", tmpl))
    # Endpoints under the /api/* catch-all, dispatched by api.cc.
    for name in re.findall(r'segments\[1\]\s*==\s*"([^"]+)"', API.read_text()):
        routes.add(("*", "/api/" + name))
    return routes


def E(action, type="", id="", patient="", outcome="0", user="doc", role="physician", purpose="TREAT"):
    """An expected entry; "{name}" placeholders are filled from the test's
    state after the call, "*" matches anything."""
    return {"action": action, "type": type, "id": id, "patient": patient, "outcome": outcome,
            "user": user, "role": role, "purpose": purpose, "address": ADDR}


def AUTH_FAIL(user=""):
    return E("authenticate", outcome="4", user=user, role="", purpose="")


def patient_body(id=None, family="Walker"):
    # dr1 (the physician's practitioner) is the GP: the care relationship
    # that lets the physician see and write this patient's clinical data.
    r = {"resourceType": "Patient", "name": [{"family": family, "given": ["Ada"]}], "gender": "female",
         "birthDate": "1970-01-01", "generalPractitioner": [{"reference": "Practitioner/dr1"}]}
    if id:
        r["id"] = id
    return r


def obs_body(subject_ref):
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": subject_ref}, "valueQuantity": {"value": 72, "unit": "/min"}}


def location_id(headers):
    """The logical id in a Location header .../Type/id/_history/n."""
    return urllib.parse.urlsplit(headers["location"]).path.split("/")[-3]


# The walk. Each row: a label; the router route it exercises ((method,
# template), or None for an unmatched/405 path); the request; the expected
# status; the expected entries. Rows run in order (later rows use ids
# captured by earlier ones). "tok" names a token of setUpClass; None sends no
# Authorization header.
def P(path, **kw):
    return dict(path=path, **kw)


ROWS = [
    # -- no patient data, no subject --------------------------------------
    ("healthz", ("GET", "/healthz"), P("/healthz", method="GET", tok=None), 200, []),
    ("metadata", ("GET", "/fhir/metadata"), P("/fhir/metadata", method="GET", tok=None), 200, []),
    ("metrics from loopback", ("GET", "/metrics"), P("/metrics", method="GET", tok=None), 200, []),
    ("metrics as it-admin", ("GET", "/metrics"), P("/metrics", method="GET", tok="ops"), 200, []),
    # /metrics from loopback needs no credential (a given one is not checked).
    ("metrics from loopback with a physician's token", ("GET", "/metrics"), P("/metrics", method="GET", tok="doc"),
     200, []),
    # The staff web app's files: public, no subject, not audited.
    ("web app page", ("GET", "/"), P("/", method="GET", tok=None), 200, []),
    ("web app page HEAD", ("HEAD", "/"), P("/", method="HEAD", tok=None), 200, []),
    ("web app script", ("GET", "/static/{file}"), P("/static/app.js", method="GET", tok=None), 200, []),
    ("web app HEAD", ("HEAD", "/static/{file}"), P("/static/app.css", method="HEAD", tok=None), 200, []),
    ("web app unknown file", ("GET", "/static/{file}"), P("/static/nothing.js", method="GET", tok=None), 404, []),
    ("web app by POST", None, P("/static/app.js", method="POST", tok="doc"), 405, []),
    ("unknown path", None, P("/nowhere", method="GET", tok="doc"), 404, []),
    ("method not allowed", None, P("/fhir", method="GET", tok="doc"), 405, []),
    ("/api as physician", ("*", "/api/*"), P("/api/anything", method="GET", tok="doc"), 404, []),
    ("/api without token", ("*", "/api/*"), P("/api/anything", method="GET", tok=None), 401, [AUTH_FAIL()]),

    # -- writes ------------------------------------------------------------
    ("create Patient", ("POST", "/fhir/{type}"),
     P("/fhir/Patient", method="POST", body=lambda s: patient_body(), capture="p1"), 201,
     [E("create", "Patient", "{p1}", "{p1}")]),
    ("update-as-create Patient", ("PUT", "/fhir/{type}/{id}"),
     P("/fhir/Patient/p2", method="PUT", body=lambda s: patient_body("p2", "Second")), 201,
     [E("create", "Patient", "p2", "p2")]),
    ("create Observation of p1", ("POST", "/fhir/{type}"),
     P("/fhir/Observation", method="POST", body=lambda s: obs_body(f"Patient/{s['p1']}"), capture="o1"), 201,
     [E("create", "Observation", "{o1}", "{p1}")]),
    ("create Observation of p2", ("POST", "/fhir/{type}"),
     P("/fhir/Observation", method="POST", body=lambda s: obs_body("Patient/p2"), capture="o2"), 201,
     [E("create", "Observation", "{o2}", "p2")]),
    ("update with If-Match", ("PUT", "/fhir/{type}/{id}"),
     P("/fhir/Patient/{p1}", method="PUT", body=lambda s: patient_body(s["p1"], "Renamed"),
       headers={"If-Match": 'W/"1"'}), 200,
     [E("update", "Patient", "{p1}", "{p1}")]),
    ("update with stale If-Match", ("PUT", "/fhir/{type}/{id}"),
     P("/fhir/Patient/{p1}", method="PUT", body=lambda s: patient_body(s["p1"], "Stale"),
       headers={"If-Match": 'W/"1"'}), 412,
     [E("update", "Patient", "{p1}", "{p1}", outcome="4")]),
    ("update without If-Match", ("PUT", "/fhir/{type}/{id}"),
     P("/fhir/Patient/{p1}", method="PUT", body=lambda s: patient_body(s["p1"], "Third")), 200,
     [E("update", "Patient", "{p1}", "{p1}")]),
    ("invalid resource", ("PUT", "/fhir/{type}/{id}"),
     P("/fhir/Patient/{p1}", method="PUT",
       body=lambda s: dict(patient_body(s["p1"]), birthDate="the seventh of May")), 422, []),
    ("malformed JSON", ("POST", "/fhir/{type}"),
     P("/fhir/Patient", method="POST", body=lambda s: '{"resourceType": "Patient",',
       content_type="application/fhir+json"), 400, []),
    ("oversized body", ("POST", "/fhir/{type}"), P("/fhir/Patient", method="POST", raw="oversized"), 413, []),

    # -- reads -------------------------------------------------------------
    ("read", ("GET", "/fhir/{type}/{id}"), P("/fhir/Patient/{p1}", method="GET"), 200,
     [E("read", "Patient", "{p1}", "{p1}")]),
    ("read Observation", ("GET", "/fhir/{type}/{id}"), P("/fhir/Observation/{o1}", method="GET"), 200,
     [E("read", "Observation", "{o1}", "{p1}")]),
    ("HEAD read", ("GET", "/fhir/{type}/{id}"), P("/fhir/Patient/p2", method="HEAD"), 200,
     [E("read", "Patient", "p2", "p2")]),
    ("read with purpose of use", ("GET", "/fhir/{type}/{id}"),
     P("/fhir/Patient/p2", method="GET", headers={"X-Purpose-Of-Use": "HOPERAT"}), 200,
     [E("read", "Patient", "p2", "p2", purpose="HOPERAT")]),
    ("read unknown id", ("GET", "/fhir/{type}/{id}"), P("/fhir/Patient/nobody", method="GET"), 404,
     [E("read", "Patient", "nobody", outcome="4")]),
    ("read unknown type", ("GET", "/fhir/{type}/{id}"), P("/fhir/Spaceship/1", method="GET"), 404, []),
    ("vread", ("GET", "/fhir/{type}/{id}/_history/{vid}"), P("/fhir/Patient/{p1}/_history/1", method="GET"), 200,
     [E("vread", "Patient", "{p1}", "{p1}")]),
    ("vread unknown version", ("GET", "/fhir/{type}/{id}/_history/{vid}"),
     P("/fhir/Patient/{p1}/_history/99", method="GET"), 404,
     [E("vread", "Patient", "{p1}", outcome="4")]),
    ("instance history", ("GET", "/fhir/{type}/{id}/_history"), P("/fhir/Patient/{p1}/_history", method="GET"),
     200, [E("history", "Patient", "{p1}", "{p1}")]),
    ("type history", ("GET", "/fhir/{type}/_history"), P("/fhir/Observation/_history", method="GET"), 200,
     [E("history", "Observation", "", "{p1}"), E("history", "Observation", "", "p2")]),
    ("system history", ("GET", "/fhir/_history"), P("/fhir/_history", method="GET"), 200,
     [E("history", "", "", "{p1}"), E("history", "", "", "p2")]),
    ("search Observation by subject", ("GET", "/fhir/{type}"),
     P("/fhir/Observation?subject=Patient/{p1}", method="GET"), 200,
     [E("search", "Observation", "", "{p1}")]),
    ("search every Patient", ("GET", "/fhir/{type}"), P("/fhir/Patient", method="GET"), 200,
     [E("search", "Patient", "", "{p1}"), E("search", "Patient", "", "p2")]),
    ("search one page of Patients", ("GET", "/fhir/{type}"), P("/fhir/Patient?_count=1", method="GET"), 200,
     [E("search", "Patient", "", "*")]),
    ("search with a date filter", ("GET", "/fhir/{type}"),
     P("/fhir/Patient?birthdate=ge1969-01-01&_id=p2", method="GET"), 200,
     [E("search", "Patient", "", "p2")]),
    ("search by POST _search", ("POST", "/fhir/{type}/_search"),
     P("/fhir/Patient/_search", method="POST", body=lambda s: "_id=p2",
       content_type="application/x-www-form-urlencoded"), 200,
     [E("search", "Patient", "", "p2")]),
    ("search without match", ("GET", "/fhir/{type}"), P("/fhir/Patient?name=zzyzx", method="GET"), 200,
     [E("search", "Patient")]),
    ("search total only", ("GET", "/fhir/{type}"), P("/fhir/Patient?_summary=count", method="GET"), 200,
     [E("search", "Patient")]),
    ("search with malformed parameter", ("GET", "/fhir/{type}"),
     P("/fhir/Patient?_count=many", method="GET"), 400, []),
    ("$everything", ("GET", "/fhir/Patient/{id}/$everything"), P("/fhir/Patient/{p1}/$everything", method="GET"),
     200, [E("everything", "Patient", "{p1}", "{p1}")]),
    ("$everything by POST", ("POST", "/fhir/Patient/{id}/$everything"),
     P("/fhir/Patient/p2/$everything", method="POST", body=lambda s: "", content_type="application/fhir+json"),
     200, [E("everything", "Patient", "p2", "p2")]),

    # -- deletes -----------------------------------------------------------
    ("delete", ("DELETE", "/fhir/{type}/{id}"), P("/fhir/Observation/{o2}", method="DELETE"), 200,
     [E("delete", "Observation", "{o2}", "p2")]),
    ("delete again", ("DELETE", "/fhir/{type}/{id}"), P("/fhir/Observation/{o2}", method="DELETE"), 200,
     [E("delete", "Observation", "{o2}", "p2")]),
    ("delete with stale If-Match", ("DELETE", "/fhir/{type}/{id}"),
     P("/fhir/Observation/{o1}", method="DELETE", headers={"If-Match": 'W/"7"'}), 412,
     [E("delete", "Observation", "{o1}", "{p1}", outcome="4")]),
    ("delete unknown id", ("DELETE", "/fhir/{type}/{id}"), P("/fhir/Observation/nothing", method="DELETE"), 404,
     [E("delete", "Observation", "nothing", outcome="4")]),
    ("read deleted", ("GET", "/fhir/{type}/{id}"), P("/fhir/Observation/{o2}", method="GET"), 410,
     [E("read", "Observation", "{o2}", "p2", outcome="4")]),
    ("vread of the deletion", ("GET", "/fhir/{type}/{id}/_history/{vid}"),
     P("/fhir/Observation/{o2}/_history/2", method="GET"), 410,
     [E("vread", "Observation", "{o2}", "p2", outcome="4")]),

    # -- Bundles -----------------------------------------------------------
    ("transaction", ("POST", "/fhir"), P("/fhir", method="POST", body=lambda s: {
        "resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:0b7e3c1a-2f4d-4e8a-9c1b-5d6e7f8a9b0c", "resource": patient_body(family="Tx"),
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:uuid:1c8f4d2b-3a5e-4f9b-8d2c-6e7f8a9b0c1d",
             "resource": obs_body(f"Patient/{s['p1']}"),
             "request": {"method": "POST", "url": "Observation"}},
            {"request": {"method": "GET", "url": f"Patient/{s['p1']}"}}]}, capture="tx"), 200,
     [E("create", "Patient", "{tp}", "{tp}"), E("create", "Observation", "{to}", "{p1}"),
      E("read", "Patient", "{p1}", "{p1}")]),
    ("transaction with a stale If-Match", ("POST", "/fhir"), P("/fhir", method="POST", body=lambda s: {
        "resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": patient_body(family="Lost"), "request": {"method": "POST", "url": "Patient"}},
            {"resource": patient_body("p2", "Late"), "request": {"method": "PUT", "url": "Patient/p2", "ifMatch": 'W/"9"'}}]}),
     412, [E("update", "Patient", "p2", "p2", outcome="4")]),
    ("batch", ("POST", "/fhir"), P("/fhir", method="POST", body=lambda s: {
        "resourceType": "Bundle", "type": "batch", "entry": [
            {"request": {"method": "GET", "url": f"Patient/{s['p1']}"}},
            {"request": {"method": "GET", "url": "Patient/nobody"}},
            {"request": {"method": "GET", "url": "Observation?subject=Patient/p2"}},
            {"resource": patient_body("p2", "Batched"), "request": {"method": "PUT", "url": "Patient/p2"}}]}), 200,
     [E("read", "Patient", "{p1}", "{p1}"), E("read", "Patient", "nobody", outcome="4"),
      E("search", "Observation"),  # o2 is deleted: an empty page
      E("update", "Patient", "p2", "p2")]),

    # -- refused by role ---------------------------------------------------
    ("reception reads a Patient", ("GET", "/fhir/{type}/{id}"), P("/fhir/Patient/{p1}", method="GET", tok="desk"),
     200, [E("read", "Patient", "{p1}", "{p1}", user="desk", role="reception")]),
    ("reception reads an Observation", ("GET", "/fhir/{type}/{id}"),
     P("/fhir/Observation/{o1}", method="GET", tok="desk"), 404,
     [E("read", "Observation", "{o1}", "{p1}", outcome="4", user="desk", role="reception")]),
    ("reception searches Observations", ("GET", "/fhir/{type}"), P("/fhir/Observation", method="GET", tok="desk"),
     403, [E("search", "Observation", outcome="4", user="desk", role="reception")]),
    ("reception creates an Observation", ("POST", "/fhir/{type}"),
     P("/fhir/Observation", method="POST", tok="desk", body=lambda s: obs_body(f"Patient/{s['p1']}")), 403,
     [E("create", "Observation", "*", "{p1}", outcome="4", user="desk", role="reception")]),
    ("manager reads a Patient", ("GET", "/fhir/{type}/{id}"), P("/fhir/Patient/{p1}", method="GET", tok="boss"),
     404, [E("read", "Patient", "{p1}", "{p1}", outcome="4", user="boss", role="manager", purpose="HOPERAT")]),
    ("manager's $everything", ("GET", "/fhir/Patient/{id}/$everything"),
     P("/fhir/Patient/{p1}/$everything", method="GET", tok="boss"), 404,
     [E("everything", "Patient", "{p1}", "{p1}", outcome="4", user="boss", role="manager", purpose="HOPERAT")]),
    ("manager's Observation history", ("GET", "/fhir/{type}/_history"),
     P("/fhir/Observation/_history", method="GET", tok="boss"), 200,
     [E("history", "Observation", user="boss", role="manager", purpose="HOPERAT")]),
    ("manager's instance history", ("GET", "/fhir/{type}/{id}/_history"),
     P("/fhir/Patient/{p1}/_history", method="GET", tok="boss"), 404,
     [E("history", "Patient", "{p1}", "{p1}", outcome="4", user="boss", role="manager", purpose="HOPERAT")]),
    ("it-admin deletes a Patient", ("DELETE", "/fhir/{type}/{id}"),
     P("/fhir/Patient/p2", method="DELETE", tok="ops"), 404,
     [E("delete", "Patient", "p2", "p2", outcome="4", user="ops", role="it-admin")]),

    # -- /api -------------------------------------------------------------
    ("break-the-glass refused to reception", ("*", "/api/break-glass"),
     P("/api/break-glass", method="POST", tok="desk", body=lambda s: {"patient": s["p1"], "reason": "emergency"}),
     403, [E("break-glass", "Patient", "{p1}", "{p1}", outcome="4", user="desk", role="reception")]),
    ("break-the-glass without step-up", ("*", "/api/break-glass"),
     P("/api/break-glass", method="POST", body=lambda s: {"patient": s["p1"], "reason": "emergency"}), 401,
     [E("break-glass", "Patient", "{p1}", "{p1}", outcome="4")]),
    ("break-the-glass by GET", ("*", "/api/break-glass"), P("/api/break-glass", method="GET"), 405, []),
    # Sign-in (docs/auth-api.md): a refusal is one `login` entry whatever the reason.
    ("sign-in refused", ("*", "/api/auth"),
     P("/api/auth/login", method="POST", tok=None,
       body=lambda s: {"username": "nobody", "password": "not the password", "code": ""}),
     401, [E("login", outcome="4", user="", role="", purpose="")]),
    ("session endpoint with a bearer token", ("*", "/api/auth"), P("/api/auth/session", method="GET"), 400, []),
    # The audit viewer is the privacy officer's; a refused look is itself audited.
    ("audit viewer refused to a physician", ("*", "/api/audit"), P("/api/audit?user=doc", method="GET"), 403,
     [E("audit-query", outcome="4")]),

    # -- refused authentication ---------------------------------------------
    ("no token", ("GET", "/fhir/{type}/{id}"), P("/fhir/Patient/{p1}", method="GET", tok=None), 401, [AUTH_FAIL()]),
    ("not a Bearer credential", ("GET", "/fhir/{type}"),
     P("/fhir/Patient", method="GET", tok=None, headers={"Authorization": "Basic ZG9jOmRvYw=="}), 401,
     [AUTH_FAIL()]),
    ("unknown token", ("GET", "/fhir/{type}/{id}"), P("/fhir/Patient/{p1}", method="GET", tok="forged"), 401,
     [AUTH_FAIL()]),
    ("expired token", ("GET", "/fhir/{type}/{id}"), P("/fhir/Patient/{p1}", method="GET", tok="expired"), 401,
     [AUTH_FAIL("doc")]),
    ("revoked token", ("POST", "/fhir"),
     P("/fhir", method="POST", tok="revoked", body=lambda s: {"resourceType": "Bundle", "type": "batch"}), 401,
     [AUTH_FAIL("doc")]),
    # /metrics from loopback needs no credential, so a bad one is not even checked.
    ("metrics from loopback with a bad token", ("GET", "/metrics"), P("/metrics", method="GET", tok="forged"),
     200, []),
]


class RouteWalk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = v = Vault()
        for user, role in (("doc", "physician"), ("desk", "reception"), ("boss", "manager"), ("ops", "it-admin")):
            link = ("--practitioner", "dr1") if user == "doc" else ()
            v.run("user", "add", user, "--role", role, *link, "--data", v.data)
        cls.tokens = {u: v.token(u)[0] for u in ("doc", "desk", "boss", "ops")}
        cls.tokens["expired"] = v.token("doc", ttl="1s")[0]
        revoked, revoked_id = v.token("doc")
        v.run("token", "revoke", "--data", v.data, "--id", revoked_id)
        cls.tokens["revoked"] = revoked
        cls.tokens["forged"] = "mvt_" + "A" * 43
        cls.srv = v.serve()
        time.sleep(1.1)  # the 1 s token has expired
        cls.state = collections.defaultdict(lambda: "missing")  # an earlier row failed
        cls.results = []  # (label, status, body, seq range, actual entries, expected entries)
        cls.seq_start = cls.max_seq()
        for row in ROWS:
            cls.results.append(cls.run_row(row))
        cls.seq_end = cls.max_seq()
        cls.export = v.run("audit", "export", "--data", v.data, "--since", str(cls.seq_start + 1), timeout=120)
        cls.server_alive = cls.srv.alive()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.v.close()

    @classmethod
    def max_seq(cls):
        return auditfiles.size(cls.v.data)

    @classmethod
    def entries(cls, first, last):
        return [json.loads(r["entry"]) for r in auditfiles.rows(cls.v.data) if first < r["seq"] <= last]

    @classmethod
    def run_row(cls, row):
        label, _route, req, want_status, want = row
        path = req["path"].format_map(cls.state)
        tok = req.get("tok", "doc")
        before = cls.max_seq()
        if req.get("raw") == "oversized":
            # Content-Length over the 16 MiB limit: refused on the header.
            head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {cls.tokens[tok]}\r\n"
                    "Content-Type: application/fhir+json\r\nContent-Length: 17000000\r\n\r\n{")
            out = cls.srv.raw(head.encode())
            m = re.match(rb"HTTP/1\.1 (\d{3}) ", out)
            status, headers, body = (int(m.group(1)) if m else 0), {}, b""
        else:
            body = req["body"](cls.state) if "body" in req else None
            status, headers, body = cls.srv.request(
                req["method"], path, body=body, headers=req.get("headers"),
                token=cls.tokens[tok] if tok else None, content_type=req.get("content_type"))
        after = cls.max_seq()
        doc = None
        if body and headers.get("content-type", "").startswith("application/fhir+json"):
            doc = json.loads(body)
        cap = req.get("capture")
        if cap == "tx" and status == 200:
            locs = [e["response"]["location"] for e in doc["entry"][:2]]
            cls.state["tp"], cls.state["to"] = (loc.split("/")[1] for loc in locs)
        elif cap == "tx":
            pass
        elif cap and status == 201:
            cls.state[cap] = location_id(headers)
        return dict(label=label, status=status, want_status=want_status, doc=doc, first=before, last=after,
                    actual=cls.entries(before, after), want=want)

    def fill(self, entry):
        return {k: (v.format_map(self.state) if isinstance(v, str) else v) for k, v in entry.items()}

    def matches(self, want, got):
        return all(w == "*" or got.get(k) == w for k, w in want.items())

    def test_every_router_route_is_walked(self):
        routes = router_routes()
        self.assertGreaterEqual(len(routes), 15, "router.cc parse found too few routes")
        walked = {row[1] for row in ROWS if row[1]}
        self.assertEqual(routes - walked, set(), "routes of router.cc with no row in this test's table")
        self.assertEqual(walked - routes, set(), "rows for routes router.cc no longer has")

    def test_each_call_appends_exactly_its_entries(self):
        self.assertTrue(self.server_alive, "the server died during the walk")
        for r in self.results:
            with self.subTest(r["label"]):
                self.assertEqual(r["status"], r["want_status"], r["doc"])
                want = [self.fill(e) for e in r["want"]]
                got = [{k: e.get(k) for k in ("action", "type", "id", "patient", "outcome", "user", "role",
                                              "purpose", "address")} for e in r["actual"]]
                # A multiset match: each expected entry takes one distinct actual entry.
                left = list(got)
                missing = []
                for w in want:
                    hit = next((g for g in left if self.matches(w, g)), None)
                    if hit is None:
                        missing.append(w)
                    else:
                        left.remove(hit)
                self.assertEqual((missing, left), ([], []),
                                 f"{r['label']}: (expected entries not written, unexpected entries written)")

    def test_search_and_history_entries_name_every_patient_in_the_page(self):
        checked = 0
        for r in self.results:
            doc = r["doc"]
            if r["status"] != 200 or not doc or doc.get("resourceType") != "Bundle" \
                    or doc.get("type") not in ("searchset", "history"):
                continue
            with self.subTest(r["label"]):
                page = {compartment(e["resource"]) for e in doc.get("entry", [])
                        if "resource" in e and e["resource"].get("resourceType") != "OperationOutcome"}
                page.discard("")
                named = {e["patient"] for e in r["actual"] if e["action"] in ("search", "history", "everything")}
                named.discard("")
                self.assertEqual(page, named)
                checked += 1
        self.assertGreaterEqual(checked, 10)

    def test_entries_are_contiguous_and_only_from_the_walk(self):
        covered = [(r["first"], r["last"]) for r in self.results]
        for (a1, b1), (a2, b2) in zip(covered, covered[1:]):
            self.assertEqual(b1, a2, "an entry was appended between two calls")
        self.assertEqual((covered[0][0], covered[-1][1]), (self.seq_start, self.seq_end))

    def test_security_events_as_fhir_audit_events(self):
        events = {int(e["id"].split("-")[1]): e for e in map(json.loads, self.export.stdout.splitlines())}
        # Every entry of the walk is exported, plus the export's own entry.
        self.assertEqual(set(range(self.seq_start + 1, self.seq_end + 2)), set(events))
        auth = [r for r in self.results if r["want"] and r["want"][0]["action"] == "authenticate"]
        self.assertGreaterEqual(len(auth), 6)
        for r in auth:
            with self.subTest(r["label"]):
                self.assertEqual(r["last"] - r["first"], 1)
                ev = events[r["last"]]
                self.assertEqual(ev["type"]["code"], "110114")  # DCM User Authentication
                self.assertEqual(ev["subtype"][-1]["code"], "authenticate")
                self.assertEqual((ev["action"], ev["outcome"]), ("E", "4"))
                agent = ev["agent"][0]
                self.assertEqual(agent["network"], {"address": ADDR, "type": "2"})
                self.assertIs(agent["requestor"], True)
                user = r["want"][0]["user"]
                if user:
                    self.assertEqual(agent["who"]["identifier"]["value"], user)
                else:
                    self.assertNotIn("identifier", agent["who"])  # FHIR strings are never empty
                    self.assertTrue(agent["who"]["display"])
                self.assertEqual([x for x in ev.get("entity", []) if "what" in x], [])  # no resource, no patient
                details = [d["valueString"] for x in ev.get("entity", []) for d in x.get("detail", [])]
                self.assertEqual(len(details), 1, ev)  # the reason, for the security officer
        for ev in events.values():
            who = ev["agent"][0]["who"]
            self.assertTrue(who.get("identifier", {"value": "x"})["value"], ev)


if __name__ == "__main__":
    unittest.main()
