#!/usr/bin/env python3
"""The default access matrix through the HTTP API: roles x actions x types x
relationship (yes/no) x sensitivity (none/PSY) x consent (none/deny), with the
expected status for each cell (docs/access-policy.md). Denied reads answer
404 (no existence leak), denied type-level searches and writes 403; a search
the policy filters answers 200 with the hidden resources left out. Export is
the administrator's command line (`medvault export`); consent refusals by
purpose apply there and are covered by the unit tests."""
import json
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from policy_fixture import PSY, make_vault  # noqa: E402

# Cell coordinates: relationship yes -> p-rel, no -> p-norel; consent deny ->
# p-consent (which has a relationship); sensitivity psy -> psy-<patient>.
def patient_of(rel, consent):
    return "p-consent" if consent == "deny" else ("p-rel" if rel == "yes" else "p-norel")


OK, HIDDEN, FORBIDDEN, FILTERED = "ok", "hidden", "forbidden", "filtered"

# (role user, expected per (rel, label, consent)) for reading Observations:
# read, vread, history, search (FILTERED = 200 without it), $everything.
def clinical_read(user):
    if user in ("doc", "nurse"):
        return lambda rel, label, consent: OK if (rel == "yes" and label == "none" and consent == "none") else HIDDEN
    if user == "docpsy":
        return lambda rel, label, consent: OK if (rel == "yes" and consent == "none") else HIDDEN
    if user == "svc":
        return lambda rel, label, consent: OK if (label == "none" and consent == "none") else HIDDEN
    return lambda rel, label, consent: FORBIDDEN  # front, boss, it, aud: no clinical content


ROLES = ["doc", "docpsy", "nurse", "front", "boss", "it", "aud", "svc"]
CELLS = [(rel, label, consent) for rel in ("yes", "no") for label in ("none", "psy") for consent in ("none", "deny")
         if not (consent == "deny" and rel == "no")]  # p-consent has a relationship


class PolicyMatrixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault, cls.tokens = make_vault()
        cls.server = cls.vault.serve()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.vault.close()

    def status(self, method, path, user, body=None):
        return self.server.request(method, path, body=json.dumps(body) if body else None, token=self.tokens[user],
                                   content_type="application/fhir+json" if body else None)[0]

    def check_read_cell(self, user, rel, label, consent, expected):
        p = patient_of(rel, consent)
        oid = ("psy-" if label == "psy" else "obs-") + p
        where = f"{user} rel={rel} label={label} consent={consent}"
        read_status = {OK: 200, HIDDEN: 404, FORBIDDEN: 404}[expected]
        self.assertEqual(self.status("GET", f"/fhir/Observation/{oid}", user), read_status, "read " + where)
        self.assertEqual(self.status("GET", f"/fhir/Observation/{oid}/_history/1", user), read_status, "vread " + where)
        self.assertEqual(self.status("GET", f"/fhir/Observation/{oid}/_history", user), read_status, "history " + where)
        st, _, b = self.server.json("GET", f"/fhir/Observation?_id={oid}", token=self.tokens[user])
        if expected == FORBIDDEN:
            self.assertEqual(st, 403, "search " + where)
        else:
            self.assertEqual(st, 200, "search " + where)
            self.assertEqual(b["total"], 1 if expected == OK else 0, "search " + where)
        st, _, b = self.server.json("GET", f"/fhir/Patient/{p}/$everything", token=self.tokens[user])
        ids = {e["resource"]["id"] for e in (b or {}).get("entry", [])} if st == 200 else set()
        self.assertEqual(oid in ids, expected == OK, "$everything " + where)

    def test_read_actions(self):
        for user in ROLES:
            rule = clinical_read(user)
            for rel, label, consent in CELLS:
                with self.subTest(user=user, rel=rel, label=label, consent=consent):
                    self.check_read_cell(user, rel, label, consent, rule(rel, label, consent))

    def test_patient_and_appointment(self):
        # Demographics: clinicians, reception and services; consent refuses all but dr-z.
        expect = {"doc": 200, "docpsy": 200, "nurse": 200, "front": 200, "boss": 404, "it": 404, "aud": 404, "svc": 200}
        for user, st in expect.items():
            with self.subTest(user=user):
                self.assertEqual(self.status("GET", "/fhir/Patient/p-norel", user), st)
                self.assertEqual(self.status("GET", "/fhir/Patient/p-consent", user), 404, "consent: only dr-z")
                self.assertEqual(self.status("GET", "/fhir/Appointment/appt-1", user),
                                 200 if user in ("doc", "docpsy", "nurse", "front", "boss", "svc") else 404)

    def test_write_actions(self):
        def obs(p, label="none"):
            o = {"resourceType": "Observation", "status": "final", "code": {"text": "w"}, "subject": {"reference": f"Patient/{p}"}}
            if label == "psy":
                o["meta"] = PSY
            return o
        writers = {"doc": True, "docpsy": True, "nurse": True}
        for user in ROLES:
            for rel, label, consent in CELLS:
                p = patient_of(rel, consent)
                allowed = writers.get(user, False) and rel == "yes" and consent == "none" and (label == "none" or user == "docpsy")
                where = f"{user} rel={rel} label={label} consent={consent}"
                with self.subTest(cell=where):
                    st = self.status("POST", "/fhir/Observation", user, obs(p, label))
                    self.assertEqual(st, 201 if allowed else 403, "create " + where)
                    bundle = {"resourceType": "Bundle", "type": "transaction",
                              "entry": [{"resource": obs(p, label), "request": {"method": "POST", "url": "Observation"}}]}
                    self.assertEqual(self.status("POST", "/fhir", user, bundle), 200 if allowed else 403, "transaction " + where)
                    # update / delete an existing resource of that cell
                    oid = ("psy-" if label == "psy" else "obs-") + p
                    upd = obs(p, label) | {"id": oid}
                    self.assertEqual(self.status("PUT", f"/fhir/Observation/{oid}", user, upd),
                                     200 if allowed else 403, "update " + where)
        # delete last (it changes the cells): doc on its own patient, and a hidden one
        self.assertEqual(self.status("DELETE", "/fhir/Observation/obs-p-norel", "doc"), 404)
        self.assertEqual(self.status("DELETE", "/fhir/Observation/obs-p-rel", "front"), 404, "hidden from reception")
        self.assertEqual(self.status("DELETE", "/fhir/Observation/obs-p-rel", "doc"), 200)
        # reception writes demographics and appointments, not clinical data
        self.assertEqual(self.status("POST", "/fhir/Patient", "front", {"resourceType": "Patient", "name": [{"family": "New"}]}), 201)
        self.assertEqual(self.status("POST", "/fhir/Patient", "it", {"resourceType": "Patient", "name": [{"family": "New"}]}), 403)
        # the front desk records consent directives (the manager does not)
        consent = {"resourceType": "Consent", "status": "active",
                   "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
                   "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                   "patient": {"reference": "Patient/p-norel"},
                   "provision": {"type": "deny", "securityLabel": [{"code": "HIV"}]}}
        self.assertEqual(self.status("POST", "/fhir/Consent", "boss", consent), 403)
        self.assertEqual(self.status("POST", "/fhir/Consent", "front", consent), 201)
        self.assertEqual(self.status("GET", "/fhir/Consent?patient=p-norel", "front"), 200)
        self.assertEqual(self.status("GET", "/fhir/Consent?patient=p-norel", "boss"), 403)


if __name__ == "__main__":
    unittest.main()
