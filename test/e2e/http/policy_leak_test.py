#!/usr/bin/env python3
"""Enumeration and leak attempts against the access policy: guessed ids,
_count/_summary=count, _include, history of a now-restricted version, a
transaction touching one forbidden resource. Nothing hidden is revealed, not
even its existence (docs/access-policy.md)."""
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from policy_fixture import PSY, make_vault  # noqa: E402

HIDDEN_FROM_DOC = {"obs-p-norel", "psy-p-norel", "psy-p-rel", "obs-p-consent", "psy-p-consent"}


class PolicyLeakTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault, cls.tokens = make_vault()
        cls.server = cls.vault.serve()
        cls.doc = cls.tokens["doc"]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.vault.close()

    def get(self, path, token=None):
        return self.server.json("GET", path, token=token or self.doc)

    def ids(self, bundle):
        return {e["resource"].get("id") for e in bundle.get("entry", [])
                if e.get("resource", {}).get("resourceType") != "OperationOutcome"}

    def test_guessed_ids_look_like_absent_ids(self):
        for hidden in HIDDEN_FROM_DOC:
            s1, _, hid = self.get(f"/fhir/Observation/{hidden}")
            s2, _, absent = self.get("/fhir/Observation/no-such-id")
            self.assertEqual((s1, s2), (404, 404), hidden)
            self.assertEqual(hid["issue"][0]["code"], absent["issue"][0]["code"])
            self.assertEqual(self.get(f"/fhir/Observation/{hidden}/_history/1")[0], 404)
            self.assertEqual(self.get(f"/fhir/Observation/{hidden}/_history")[0], 404)
            self.assertEqual(self.server.request("DELETE", f"/fhir/Observation/{hidden}", token=self.doc)[0], 404)
        self.assertEqual(self.get("/fhir/Patient/p-consent/$everything")[0], 404, "consent refuses everything")
        self.assertEqual(self.get("/fhir/Patient/p-rel")[0], 200)

    def test_totals_count_and_paging_count_only_visible(self):
        status, _, b = self.get("/fhir/Observation?_count=1")
        self.assertEqual(status, 200)
        self.assertEqual(b["total"], 1, "only obs-p-rel is visible to doc")
        self.assertEqual(self.ids(b), {"obs-p-rel"})
        self.assertFalse([l for l in b.get("link", []) if l["relation"] == "next"], "no page for hidden ones")
        for q in ["patient=p-norel", "patient=p-consent", "patient=p-norel&_summary=count", "_id=psy-p-rel"]:
            status, _, b = self.get("/fhir/Observation?" + q)
            self.assertEqual((status, b["total"]), (200, 0), q)
        status, _, b = self.get("/fhir/Observation?_summary=count")
        self.assertEqual(b["total"], 1)
        everything = self.ids(self.get("/fhir/Observation?_count=100", self.tokens["docpsy"])[2])
        self.assertLessEqual({"obs-p-rel", "psy-p-rel"}, everything, "the PSY grant opens labelled data")
        self.assertFalse(everything & (HIDDEN_FROM_DOC - {"psy-p-rel"}))

    def test_total_modes_count_only_visible(self):
        # Early stop (no _total), _total=accurate/estimate/none: the same
        # visible entries, a total that never counts hidden resources, and
        # no next link that only hidden ones would justify.
        for mode in ("", "&_total=accurate", "&_total=estimate", "&_total=none"):
            for q, visible in [("_count=1", {"obs-p-rel"}), ("patient=p-norel&_count=1", set()),
                               ("patient=p-consent&_count=1", set()), ("_id=psy-p-rel,obs-p-norel", set())]:
                status, _, b = self.get(f"/fhir/Observation?{q}{mode}")
                self.assertEqual(status, 200, q + mode)
                self.assertEqual(self.ids(b) & HIDDEN_FROM_DOC, set(), q + mode)
                self.assertLessEqual(self.ids(b), visible | {"obs-p-rel"}, q + mode)
                self.assertFalse([l for l in b.get("link", []) if l["relation"] == "next"], q + mode)
                if mode == "&_total=none":
                    self.assertNotIn("total", b, q + mode)
                else:  # the candidates ran out within the page: exact, visible only
                    self.assertEqual(b["total"], len(self.ids(b)), q + mode)

    def test_include_reveals_nothing_hidden(self):
        status, _, b = self.get("/fhir/Encounter?_include=Encounter:subject&_revinclude=Observation:subject")
        if status == 200:
            self.assertFalse(self.ids(b) & HIDDEN_FROM_DOC)
        else:
            self.assertEqual(status, 400, "unsupported _include is refused, not silently widened")

    def test_history_of_a_now_restricted_resource(self):
        docpsy = self.tokens["docpsy"]
        obs = {"resourceType": "Observation", "status": "final", "code": {"text": "note"},
               "subject": {"reference": "Patient/p-rel"}}
        status, _, created = self.server.json("POST", "/fhir/Observation", obs, token=self.doc)
        self.assertEqual(status, 201, created)
        oid = created["id"]
        self.assertEqual(self.get(f"/fhir/Observation/{oid}/_history/1")[0], 200)
        created["meta"] = PSY
        status, _, _ = self.server.json("PUT", f"/fhir/Observation/{oid}", created, token=docpsy)
        self.assertEqual(status, 200)
        # v1 carried no label, but the resource is now restricted.
        self.assertEqual(self.get(f"/fhir/Observation/{oid}/_history/1")[0], 404)
        self.assertEqual(self.get(f"/fhir/Observation/{oid}/_history")[0], 404)
        self.assertEqual(self.get(f"/fhir/Observation/{oid}")[0], 404)
        status, _, b = self.get("/fhir/Observation/_history")
        self.assertEqual(status, 200)
        self.assertNotIn(oid, self.ids(b))
        self.assertFalse(self.ids(b) & HIDDEN_FROM_DOC)
        status, _, b = self.get(f"/fhir/Observation/{oid}/_history", docpsy)
        self.assertEqual(len(b["entry"]), 2)
        # Updating it without the grant is refused.
        self.assertEqual(self.server.json("PUT", f"/fhir/Observation/{oid}", obs | {"id": oid}, token=self.doc)[0], 403)

    def test_transaction_with_one_forbidden_entry_writes_nothing(self):
        before = self.get("/fhir/Observation?patient=p-rel&_summary=count")[2]["total"]
        entries = [
            {"resourceType": "Observation", "status": "final", "code": {"text": "ok"}, "subject": {"reference": "Patient/p-rel"}},
            {"resourceType": "Observation", "status": "final", "code": {"text": "no"}, "subject": {"reference": "Patient/p-norel"}},
        ]
        bundle = {"resourceType": "Bundle", "type": "transaction",
                  "entry": [{"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in entries]}
        status, _, out = self.server.json("POST", "/fhir", bundle, token=self.doc)
        self.assertEqual(status, 403, out)
        after = self.get("/fhir/Observation?patient=p-rel&_summary=count")[2]["total"]
        self.assertEqual(before, after, "nothing written")
        # The same transaction without the forbidden entry goes through.
        bundle["entry"] = bundle["entry"][:1]
        self.assertEqual(self.server.json("POST", "/fhir", bundle, token=self.doc)[0], 200)

    def test_reception_sees_patient_without_clinical_extensions(self):
        status, _, p = self.get("/fhir/Patient/p-norel", self.tokens["front"])
        self.assertEqual(status, 200)
        self.assertNotIn("extension", p)
        self.assertIn("name", p)
        status, _, p = self.get("/fhir/Patient/p-norel", self.doc)
        self.assertIn("extension", p)
        status, _, a = self.get("/fhir/Appointment/appt-1", self.tokens["front"])
        self.assertEqual(status, 200)
        self.assertNotIn("reasonCode", a)
        # Writing back the redacted Patient keeps the extension reception never saw.
        status, _, p = self.get("/fhir/Patient/p-norel", self.tokens["front"])
        p["telecom"] = [{"system": "phone", "value": "0102030405"}]
        self.assertEqual(self.server.json("PUT", "/fhir/Patient/p-norel", p, token=self.tokens["front"])[0], 200)
        status, _, full = self.get("/fhir/Patient/p-norel", self.doc)
        self.assertIn("extension", full)
        self.assertEqual(full["telecom"][0]["value"], "0102030405")


if __name__ == "__main__":
    unittest.main()
