"""Audit log, shown 1: on a 10,000-entry log, a flipped byte in any column of
an entry, a deleted, inserted or swapped entry is found by `audit verify`,
which names the entry; a log truncated or rolled back below an exported
checkpoint is found when verified against it. Every tamper is done on a
copy of the vault directory, rewriting the log's segment files as a forger
who knows their format (auditfiles.py) would, and with sqlite3 for the
checkpoints in vault.db."""
import os
import random
import shutil
import sqlite3
import subprocess
import unittest

from auditlib import INTEGRITY_EXIT, Vault, auditfiles, copy_vault, medvault_bin, named_entry, verify

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
        cls.rows = auditfiles.rows(cls.v.data)
        cls.n = cls.rows[-1]["seq"]
        assert [r["seq"] for r in cls.rows] == list(range(1, cls.n + 1))
        cls.with_patient = [r["seq"] for r in cls.rows if r["patient"] and 1 < r["seq"] < cls.n]
        assert cls.n >= 10000, cls.n
        cls.rnd = random.Random(20240610)

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def tampered_copy(self, name, fn, sql=None):
        """A copy whose log is fn(list of rows, each a dict: a copy), and on
        whose vault.db `sql` ran."""
        data = copy_vault(self.v, name)
        rows = [dict(r) for r in self.rows]
        auditfiles.write(data, fn(rows))
        if sql:
            with sqlite3.connect(os.path.join(data, "vault.db")) as conn:
                conn.execute(sql)
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
                    self.assert_caught(self.tampered_copy(f"flip-{col}", lambda rows: self.flip(rows, col, seq)), seq)

    def flip(self, rows, col, seq):
        row = rows[seq - 1]
        value = row[col]
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
        row[col] = bad
        return rows

    def test_deleted_entry(self):
        seq = self.rnd.randrange(2, self.n)
        self.assert_caught(self.tampered_copy("deleted", lambda rows: rows[:seq - 1] + rows[seq:]), seq)

    def test_inserted_entry(self):
        seq = self.rnd.randrange(2, self.n)

        def insert(rows):
            # A copy of the entry before it, at seq; the later ones renumbered.
            later = [dict(r, seq=r["seq"] + 1) for r in rows[seq - 1:]]
            return rows[:seq - 1] + [dict(rows[seq - 2], seq=seq)] + later
        self.assert_caught(self.tampered_copy("inserted", insert), seq)

    def test_appended_forged_entry(self):
        self.assert_caught(self.tampered_copy("appended", lambda rows: rows + [dict(rows[-1], seq=self.n + 1)]),
                           self.n + 1)

    def test_swapped_entries(self):
        i = self.rnd.randrange(2, self.n - 50)
        j = i + self.rnd.randrange(1, 50)

        def swap(rows):
            rows[i - 1], rows[j - 1] = dict(rows[j - 1], seq=i), dict(rows[i - 1], seq=j)
            return rows
        self.assert_caught(self.tampered_copy("swapped", swap), i)

    def test_truncation_below_exported_checkpoint(self):
        with open(self.witness) as f:
            wsize = int(f.read().splitlines()[1])

        def truncate(rows):
            return rows[:wsize - 100]
        # A careful attacker also removes the checkpoints that cover them.
        drop = f"DELETE FROM audit_checkpoint WHERE size > {wsize - 100}"
        # Consistent on its own (verified on another copy: `audit verify`
        # records itself, which appends an entry): only a witness can tell.
        rc, out, err = verify(self.v, self.tampered_copy("truncated-alone", truncate, drop))
        self.assertEqual(rc, 0, err)
        self.assert_caught(self.tampered_copy("truncated", truncate, drop), wsize - 99,
                           "--checkpoint", self.witness)

    def test_truncation_is_caught_by_stored_checkpoints(self):
        data = self.tampered_copy("truncated-only", lambda rows: rows[:self.n - 100])
        self.assert_caught(data, self.n - 99)

    def test_rollback_below_exported_checkpoint(self):
        old = copy_vault(self.v, "old")
        old_n = auditfiles.size(old)
        live = copy_vault(self.v, "live")
        for _ in range(3):
            self.v.run("audit", "prove", "--data", live, "--entry", "1")
        later = os.path.join(self.v.tmp, "later.note")
        self.v.run("audit", "checkpoint", "--data", live, "--out", later)
        rc, _, err = verify(self.v, live, "--checkpoint", later)
        self.assertEqual(rc, 0, err)
        # Restore the older copy of the database and its log over the live one.
        for name in os.listdir(live):
            if name.startswith("vault.db"):
                p = os.path.join(live, name)
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
        for name in os.listdir(old):
            if name.startswith("vault.db"):
                p = os.path.join(old, name)
                (shutil.copytree if os.path.isdir(p) else shutil.copy2)(p, os.path.join(live, name))
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
