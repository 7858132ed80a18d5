"""Vault core, shown 2: a flipped byte in a stored record, or two records'
ciphertexts swapped, makes the read fail with an integrity error that names
the record: never garbage, never a crash. (The C++ vault tests flip every
byte of one record; this test goes through the command line and the real
database file.)"""
import json
import os
import random
import sqlite3
import unittest

from vaultlib import SYNTHEA10, Vault

INTEGRITY_EXIT = 6


class Tamper(unittest.TestCase):
    def setUp(self):
        self.v = Vault()
        self.v.run("import", "--data", self.v.data, str(SYNTHEA10 / "Patient.000.ndjson"),
                   str(SYNTHEA10 / "AllergyIntolerance.000.ndjson"))
        self.db = os.path.join(self.v.data, "vault.db")

    def tearDown(self):
        self.v.close()

    def rows(self, conn):
        return conn.execute("SELECT type, id, version, body FROM resource_version "
                            "ORDER BY type, id").fetchall()

    def assert_integrity_failure(self, names):
        for cmd in ("export", "check"):
            p = self.v.run(cmd, "--data", self.v.data, check=False)
            self.assertEqual(p.returncode, INTEGRITY_EXIT, p.stderr)
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn("integrity", lines[0])
            self.assertTrue(any(n in lines[0] for n in names), lines[0])
            self.assertNotIn("Traceback", p.stderr)

    def test_flipped_bytes(self):
        rnd = random.Random(7)
        conn = sqlite3.connect(self.db)
        rows = self.rows(conn)
        for _ in range(12):
            t, i, ver, body = rows[rnd.randrange(len(rows))]
            pos = rnd.randrange(len(body))
            bad = bytearray(body)
            bad[pos] ^= 1 << rnd.randrange(8)
            conn.execute("UPDATE resource_version SET body=? WHERE type=? AND id=? AND version=?",
                         (bytes(bad), t, i, ver))
            conn.commit()
            self.assert_integrity_failure([f"{t}/{i} version {ver}"])
            conn.execute("UPDATE resource_version SET body=? WHERE type=? AND id=? AND version=?",
                         (body, t, i, ver))
            conn.commit()
        self.v.run("check", "--data", self.v.data)  # restored: healthy again
        conn.close()

    def test_truncated_and_emptied_body(self):
        conn = sqlite3.connect(self.db)
        t, i, ver, body = self.rows(conn)[0]
        for bad in (body[:-1], body[:10], b"", body + b"\0"):
            conn.execute("UPDATE resource_version SET body=? WHERE type=? AND id=?", (bad, t, i))
            conn.commit()
            self.assert_integrity_failure([f"{t}/{i}"])
        conn.close()

    def test_swapped_ciphertexts(self):
        conn = sqlite3.connect(self.db)
        rows = [r for r in self.rows(conn) if r[0] == "Patient"]
        (t1, i1, v1, b1), (t2, i2, v2, b2) = rows[0], rows[1]
        conn.execute("UPDATE resource_version SET body=? WHERE type=? AND id=?", (b2, t1, i1))
        conn.execute("UPDATE resource_version SET body=? WHERE type=? AND id=?", (b1, t2, i2))
        conn.commit()
        self.assert_integrity_failure([f"{t1}/{i1}", f"{t2}/{i2}"])
        conn.close()

    def test_version_relabelled(self):
        """A ciphertext moved to another version number does not authenticate."""
        v = self.v
        patient = json.loads((SYNTHEA10 / "Patient.000.ndjson").read_text().splitlines()[0])
        patient["gender"] = "other"
        path = os.path.join(v.tmp, "update.ndjson")
        with open(path, "w") as f:
            f.write(json.dumps(patient) + "\n")
        v.run("import", "--data", v.data, path)
        conn = sqlite3.connect(self.db)
        (b1,) = conn.execute("SELECT body FROM resource_version WHERE type='Patient' AND id=? AND version=1",
                             (patient["id"],)).fetchone()
        conn.execute("UPDATE resource_version SET body=? WHERE type='Patient' AND id=? AND version=2",
                     (b1, patient["id"]))
        conn.commit()
        conn.close()
        self.assert_integrity_failure([f"Patient/{patient['id']} version 2"])


if __name__ == "__main__":
    unittest.main()
