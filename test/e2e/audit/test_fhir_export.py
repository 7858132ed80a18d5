"""Audit log: `medvault audit export` writes one FHIR R4 AuditEvent per entry
(NDJSON), with the structure FHIR requires and no patient data beyond
logical ids: none of the Synthea patients' names, birth dates or identifiers
appears. The export itself is audited."""
import json
import re
import os
import unittest

from auditlib import SYNTHEA10, Vault, auditfiles, synthea_secrets

INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-\.]{1,64}$")


class FhirExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = Vault()
        cls.v.import_files(SYNTHEA10 / "Patient.000.ndjson", SYNTHEA10 / "Condition.000.ndjson")
        cls.v.run("export", "--data", cls.v.data)  # an access of everything
        p = cls.v.run("audit", "export", "--data", cls.v.data)
        cls.text = p.stdout
        cls.events = [json.loads(line) for line in p.stdout.splitlines()]
        cls.n = auditfiles.size(cls.v.data)

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def test_one_event_per_entry_including_the_export(self):
        self.assertEqual(len(self.events), self.n)
        self.assertEqual([e["id"] for e in self.events], [f"audit-{i}" for i in range(1, self.n + 1)])
        last = self.events[-1]
        self.assertEqual(last["subtype"][-1]["code"], "audit-export")

    def test_structure(self):
        for ev in self.events:
            self.assertEqual(ev["resourceType"], "AuditEvent")
            self.assertTrue(ev["type"]["system"] and ev["type"]["code"])
            for st in ev.get("subtype", []):
                self.assertTrue(st["system"] and st["code"])
            self.assertIn(ev["action"], {"C", "R", "U", "D", "E"})
            self.assertRegex(ev["recorded"], INSTANT)
            self.assertIn(ev["outcome"], {"0", "4", "8", "12"})
            self.assertGreaterEqual(len(ev["agent"]), 1)
            agent = ev["agent"][0]
            self.assertIs(agent["requestor"], True)
            self.assertTrue(agent["who"]["identifier"]["value"])
            self.assertIn(agent["network"]["type"], {"1", "2", "3", "4", "5"})
            self.assertTrue(ev["source"]["observer"]["display"].startswith("medvault.local/"))
            for ent in ev.get("entity", []):
                what = ent.get("what")
                if what and "reference" in what:
                    self.assertRegex(what["reference"], REFERENCE)
                self.assertIn("code", ent["type"])
            for p in ev.get("purposeOfEvent", []):
                self.assertTrue(p["coding"][0]["code"])

    def test_imports_reference_patients_by_id(self):
        imports = [e for e in self.events if e["subtype"][-1]["code"] == "import"]
        self.assertGreater(len(imports), 10)
        patients = {ent["what"]["reference"] for e in imports for ent in e.get("entity", [])
                    if ent.get("role", {}).get("code") == "1"}
        self.assertGreater(len(patients), 5)
        self.assertTrue(all(p.startswith("Patient/") for p in patients))
        self.assertTrue(all(e["type"]["code"] == "110107" and e["action"] == "C" for e in imports))

    def test_no_patient_data(self):
        needles, sentences = synthea_secrets()
        self.assertGreater(len(needles), 20)
        found = [n for n in needles | sentences if n in self.text]
        self.assertEqual(found, [])

    def test_detail_is_decrypted_only_in_the_export(self):
        first = self.events[0]
        details = [d["valueString"] for ent in first.get("entity", []) for d in ent.get("detail", [])]
        self.assertTrue(any(d.startswith("vault ") for d in details), first)
        entry = auditfiles.rows(self.v.data)[0]["entry"]
        self.assertNotIn(details[0].encode(), entry)


if __name__ == "__main__":
    unittest.main()
