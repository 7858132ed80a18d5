"""Vault core, shown 1: after importing Synthea-10 and a patient made of
unique markers, no marker, patient name, birth date, identifier, address or
note sentence appears in any byte of any file under the data directory:
database, WAL, shared memory, temporary files, logs."""
import json
import os
import sqlite3
import tempfile
import unittest

from vaultlib import SYNTHEA10, Vault, find_clear_text, synthea_secrets

MARKERS = {
    "family": "Qwxzorbellian",
    "given": "Zyphranelle",
    "birth": "1911-11-19",
    "mrn": "MRK-7731-9942-QX",
    "note": "The marker sentence says the patient hums Vltava backwards",
    "phone": "+33 6 99 88 77 66",
    "city": "Xanthorpe-sur-Mer",
}


def marker_resources():
    pid = "marker-patient-1"
    patient = {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"system": "https://medvault.example/mrn", "value": MARKERS["mrn"]}],
        "name": [{"family": MARKERS["family"], "given": [MARKERS["given"]]}],
        "birthDate": MARKERS["birth"],
        "telecom": [{"system": "phone", "value": MARKERS["phone"]}],
        "address": [{"city": MARKERS["city"], "postalCode": "99999"}],
    }
    condition = {
        "resourceType": "Condition", "id": "marker-condition-1",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"text": "Marker condition"},
        "note": [{"text": MARKERS["note"]}],
    }
    return [patient, condition]


class NoPlaintextAtRest(unittest.TestCase):
    def test_no_clear_text_in_any_file(self):
        v = Vault()
        try:
            extra = os.path.join(v.tmp, "markers.ndjson")
            with open(extra, "w") as f:
                for r in marker_resources():
                    f.write(json.dumps(r) + "\n")
            # A second connection keeps the WAL and shared-memory files on
            # disk after medvault exits, so they are scanned too.
            keep = sqlite3.connect(os.path.join(v.data, "vault.db"))
            keep.execute("SELECT count(*) FROM meta").fetchall()
            files = sorted(str(p) for p in SYNTHEA10.glob("*.ndjson") if p.name != "log.ndjson")
            p = v.run("import", "--data", v.data, *files, extra)
            self.assertIn("rejected", p.stderr)
            v.run("export", "--data", v.data)
            v.run("check", "--data", v.data)
            self.assertTrue(os.path.exists(os.path.join(v.data, "vault.db-wal")))
            self.assertGreater(os.path.getsize(os.path.join(v.data, "vault.db-wal")), 0)

            names, sentences = synthea_secrets()
            self.assertGreater(len(names), 30)
            self.assertGreater(len(sentences), 20)
            needles = set(MARKERS.values()) | names | sentences
            found = find_clear_text(v.data, needles)
            self.assertEqual(found, [], f"clear text at rest: {found[:10]}")
            # No stray file: only the seal, the database and its WAL/shm, the
            # audit log's segment, TLS.
            names_on_disk = sorted(os.path.relpath(os.path.join(r, f), v.data)
                                   for r, _d, fs in os.walk(v.data) for f in fs)
            self.assertEqual(names_on_disk, ["master.seal", "tls/cert.pem", "tls/key.pem",
                                             "vault.db", "vault.db-audit/0000000000.log", "vault.db-shm",
                                             "vault.db-wal"])
            # Nothing was left in the temporary directory either.
            leftovers = [f for f in os.listdir(tempfile.gettempdir()) if f.startswith("etilqs_")]
            self.assertEqual(leftovers, [])
            # And the markers really were stored: the export has them.
            out = v.run("export", "--data", v.data).stdout
            self.assertIn(MARKERS["family"], out)
            self.assertIn(MARKERS["note"], out)
            keep.close()
        finally:
            v.close()

    def test_files_are_private(self):
        v = Vault()
        try:
            v.run("import", "--data", v.data, str(SYNTHEA10 / "Patient.000.ndjson"))
            for root, dirs, files in os.walk(v.data):
                for name in files + dirs:
                    mode = os.stat(os.path.join(root, name)).st_mode & 0o077
                    self.assertEqual(mode, 0, f"{name} is readable by others")
        finally:
            v.close()


if __name__ == "__main__":
    unittest.main()
