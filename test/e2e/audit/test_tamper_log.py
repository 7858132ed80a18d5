"""Audit log, shown 1: on a 10,000-entry log, a flipped byte in any column of
an entry, a deleted, inserted or swapped entry is found by `audit verify`,
which names the entry; a log truncated or rolled back below an exported
checkpoint is found when verified against it. Every tamper is done with
sqlite3 on a copy of the vault directory."""
import os
import random
import shutil
import sqlite3
import subprocess
import unittest

from auditlib import INTEGRITY_EXIT, Vault, copy_vault, medvault_bin, named_entry, verify

COLUMNS = ("seq", "time", "patient", "user", "entry", "leaf_hash", "chain")


class TamperLog(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = Vault()
        ndjson = os.path.join(cls.v.tmp, "demo.ndjson")
        with open(ndjson, "wb") as f:
            subprocess.run([medvault_bin(), "demo-data", "--patients", "100", "--seed", "1"],
                           stdout=f, check=True, env=cls.v.env)
        cls.v.run("import", "--data", cls.v.data, ndjson)
        cls.witness = os.path.join(cls.v.tmp, "witness.note")
        cls.v.run("audit", "checkpoint", "--data", cls.v.data, "--out", cls.witness)
        with sqlite3.connect(os.path.join(cls.v.data, "vault.db")) as c:
            cls.n = c.execute("SELECT MAX(seq) FROM audit").fetchone()[0]
            cls.with_patient = [r[0] for r in c.execute(
                "SELECT seq FROM audit WHERE patient <> '' AND seq > 1 AND seq < ?", (cls.n,))]
        assert cls.n >= 10000, cls.n
        cls.rnd = random.Random(20240610)

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def tampered_copy(self, name, fn):
        data = copy_vault(self.v, name)
        conn = sqlite3.connect(os.path.join(data, "vault.db"))
        try:
            fn(conn)
            conn.commit()
        finally:
            conn.close()
        return data

    def assert_caught(self, data, seq, *extra):
        rc, out, err = verify(self.v, data, *extra)
        self.assertEqual(rc, INTEGRITY_EXIT, (out, err))
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertEqual(named_entry(err), seq, err)
        self.assertNotIn("Traceback", err)
        shutil.rmtree(data)

    def test_healthy_log_verifies(self):
        rc, out, err = verify(self.v, copy_vault(self.v, "healthy"), "--checkpoint", self.witness)
        self.assertEqual(rc, 0, err)
        self.assertIn("audit log ok", out)
        self.assertIn("extends the exported checkpoint", out)

    def test_flipped_byte_in_each_column(self):
        for col in COLUMNS:
            for _ in range(2):
                pool = self.with_patient if col == "patient" else range(2, self.n)
                seq = self.rnd.choice(list(pool))
                with self.subTest(column=col, seq=seq):
                    self.assert_caught(self.tampered_copy(f"flip-{col}", lambda c: self.flip(c, col, seq)), seq)

    def flip(self, conn, col, seq):
        value = conn.execute(f"SELECT {col} FROM audit WHERE seq=?", (seq,)).fetchone()[0]
        if isinstance(value, int):
            # A high bit, so the new value collides with no other entry.
            bad = value ^ (1 << (40 + self.rnd.randrange(8))) if col == "seq" else value ^ (1 << self.rnd.randrange(40))
        elif isinstance(value, str):
            s = bytearray(value.encode())
            s[self.rnd.randrange(len(s))] ^= 1  # stays ASCII text
            bad = s.decode()
        else:
            b = bytearray(value)
            b[self.rnd.randrange(len(b))] ^= 1 << self.rnd.randrange(8)
            bad = bytes(b)
        conn.execute(f"UPDATE audit SET {col}=? WHERE seq=?", (bad, seq))

    def test_deleted_entry(self):
        seq = self.rnd.randrange(2, self.n)
        self.assert_caught(self.tampered_copy("deleted", lambda c: c.execute("DELETE FROM audit WHERE seq=?", (seq,))), seq)

    def test_inserted_entry(self):
        seq = self.rnd.randrange(2, self.n)

        def insert(c):
            # Make room at seq (two steps: the primary key is checked per row),
            # then insert a copy of the entry before it.
            c.execute("UPDATE audit SET seq = -(seq + 1) WHERE seq >= ?", (seq,))
            c.execute("UPDATE audit SET seq = -seq WHERE seq < 0")
            c.execute("INSERT INTO audit(seq,time,patient,user,entry,leaf_hash,chain) "
                      "SELECT ?,time,patient,user,entry,leaf_hash,chain FROM audit WHERE seq=?",
                      (seq, seq - 1))
        self.assert_caught(self.tampered_copy("inserted", insert), seq)

    def test_appended_forged_entry(self):
        def append(c):
            c.execute("INSERT INTO audit(seq,time,patient,user,entry,leaf_hash,chain) "
                      "SELECT seq+1,time,patient,user,entry,leaf_hash,chain FROM audit WHERE seq=?",
                      (self.n,))
        self.assert_caught(self.tampered_copy("appended", append), self.n + 1)

    def test_swapped_entries(self):
        i = self.rnd.randrange(2, self.n - 50)
        j = i + self.rnd.randrange(1, 50)
        cols = ",".join(COLUMNS[1:])

        def swap(c):
            a = c.execute(f"SELECT {cols} FROM audit WHERE seq=?", (i,)).fetchone()
            b = c.execute(f"SELECT {cols} FROM audit WHERE seq=?", (j,)).fetchone()
            sets = ",".join(f"{k}=?" for k in COLUMNS[1:])
            c.execute(f"UPDATE audit SET {sets} WHERE seq=?", (*b, i))
            c.execute(f"UPDATE audit SET {sets} WHERE seq=?", (*a, j))
        self.assert_caught(self.tampered_copy("swapped", swap), i)

    def test_truncation_below_exported_checkpoint(self):
        with open(self.witness) as f:
            wsize = int(f.read().splitlines()[1])

        def truncate(c):
            c.execute("DELETE FROM audit WHERE seq > ?", (wsize - 100,))
            # A careful attacker also removes the checkpoints that cover them.
            c.execute("DELETE FROM audit_checkpoint WHERE size > ?", (wsize - 100,))
        # Consistent on its own (verified on another copy: `audit verify`
        # records itself, which appends an entry): only a witness can tell.
        rc, out, err = verify(self.v, self.tampered_copy("truncated-alone", truncate))
        self.assertEqual(rc, 0, err)
        self.assert_caught(self.tampered_copy("truncated", truncate), wsize - 99,
                           "--checkpoint", self.witness)

    def test_truncation_is_caught_by_stored_checkpoints(self):
        data = self.tampered_copy("truncated-only",
                                  lambda c: c.execute("DELETE FROM audit WHERE seq > ?", (self.n - 100,)))
        self.assert_caught(data, self.n - 99)

    def test_rollback_below_exported_checkpoint(self):
        old = copy_vault(self.v, "old")
        with sqlite3.connect(os.path.join(old, "vault.db")) as c:
            old_n = c.execute("SELECT MAX(seq) FROM audit").fetchone()[0]
        live = copy_vault(self.v, "live")
        for _ in range(3):
            self.v.run("audit", "prove", "--data", live, "--entry", "1")
        later = os.path.join(self.v.tmp, "later.note")
        self.v.run("audit", "checkpoint", "--data", live, "--out", later)
        rc, _, err = verify(self.v, live, "--checkpoint", later)
        self.assertEqual(rc, 0, err)
        # Restore the older copy of the database over the live one.
        for name in os.listdir(live):
            if name.startswith("vault.db"):
                os.remove(os.path.join(live, name))
        for name in os.listdir(old):
            if name.startswith("vault.db"):
                shutil.copy2(os.path.join(old, name), os.path.join(live, name))
        rc, _, err = verify(self.v, live, "--checkpoint", later)
        self.assertEqual(rc, INTEGRITY_EXIT, err)
        self.assertEqual(named_entry(err), old_n + 1, err)
        # Rolled back and grown again past the checkpoint: other entries at
        # the same positions, found by the root.
        for _ in range(6):
            self.v.run("audit", "prove", "--data", live, "--entry", "1")
        rc, _, err = verify(self.v, live, "--checkpoint", later)
        self.assertEqual(rc, INTEGRITY_EXIT, err)
        self.assertIn("does not extend the exported checkpoint", err)

    def test_forged_witness_is_refused(self):
        with open(self.witness) as f:
            lines = f.read().split("\n")
        lines[1] = str(int(lines[1]) - 1)
        forged = os.path.join(self.v.tmp, "forged.note")
        with open(forged, "w") as f:
            f.write("\n".join(lines))
        rc, _, err = verify(self.v, copy_vault(self.v, "forged"), "--checkpoint", forged)
        self.assertEqual(rc, INTEGRITY_EXIT, err)
        self.assertIn("exported checkpoint rejected", err)


if __name__ == "__main__":
    unittest.main()
