"""Vault core, shown 4: key rotation with 10,000 resources present: every
resource readable after, records not re-encrypted, the old key-encryption
key gone from every file (unusable)."""
import os
import sqlite3
import unittest
from pathlib import Path

from vaultlib import Vault, all_bytes_under


class Rotation(unittest.TestCase):
    def test_rotate_with_10k_resources(self):
        v = Vault()
        try:
            src = os.path.join(v.tmp, "demo.ndjson")
            with open(src, "w") as f:
                f.write(v.run("demo-data", "--patients", "110", "--seed", "5").stdout)
            v.run("import", "--data", v.data, src)
            db = os.path.join(v.data, "vault.db")
            conn = sqlite3.connect(db)
            (n,) = conn.execute("SELECT count(*) FROM resource").fetchone()
            self.assertGreaterEqual(n, 10000)
            old_keks = conn.execute("SELECT version, wrapped FROM kek").fetchall()
            old_deks = dict(conn.execute("SELECT key_id, wrapped FROM dek").fetchall())
            bodies = dict(((t, i, ver), b) for t, i, ver, b in
                          conn.execute("SELECT type, id, version, body FROM resource_version"))
            conn.close()
            self.assertEqual([k[0] for k in old_keks], [1])
            before = v.run("export", "--data", v.data).stdout

            p = v.run("key", "rotate", "--data", v.data)
            self.assertIn("version 2", p.stdout)

            after = v.run("export", "--data", v.data).stdout
            self.assertEqual(before, after)
            v.run("check", "--data", v.data)
            conn = sqlite3.connect(db)
            keks = conn.execute("SELECT version FROM kek").fetchall()
            self.assertEqual(keks, [(2,)])
            deks = conn.execute("SELECT key_id, kek_version, wrapped FROM dek").fetchall()
            self.assertEqual(len(deks), len(old_deks))
            for key_id, kv, wrapped in deks:
                self.assertEqual(kv, 2)
                self.assertNotEqual(wrapped, old_deks[key_id])
            # Records were re-wrapped, not re-encrypted.
            same = sum(1 for t, i, ver, b in conn.execute(
                "SELECT type, id, version, body FROM resource_version") if bodies.get((t, i, ver)) == b)
            self.assertEqual(same, len(bodies))
            conn.close()
            # The retired KEK and the old wrappings are in no file any more.
            old_blobs = [w for _v, w in old_keks] + list(old_deks.values())
            for path, data in all_bytes_under(v.data):
                for blob in old_blobs:
                    self.assertNotIn(blob[-32:], data, f"retired key material in {path}")
            # The rotation is in the audit log, and the log verifies.
            v.run("audit", "verify", "--data", v.data)
            # A second rotation works too.
            v.run("key", "rotate", "--data", v.data)
            self.assertEqual(v.run("export", "--data", v.data).stdout, before)
        finally:
            v.close()


if __name__ == "__main__":
    unittest.main()
