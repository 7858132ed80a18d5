"""Backups, shown 1 and 4: a backup restores to a working vault whose audit
log verifies and whose export equals the state at the snapshot (quiet vault,
and a backup taken while the server runs under write load); no patient name
or marker appears in any byte of the target; list, drill, prune."""
import json
import os
import re
import threading
import unittest

from backuplib import MARKERS, KitVault, find_clear_text, synthea_secrets


class BackupRestore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = KitVault()
        cls.repo = os.path.join(cls.v.tmp, "repo")

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def test_1_quiet_backup_restores_identical_export(self):
        v = self.v
        before = v.export()
        p = v.run("backup", "create", "--data", v.data, "--to", self.repo)
        self.assertIn("new data", p.stdout)
        self.assertIn("elapsed", p.stdout)
        # Nothing changed but the audit entries and the backup record the
        # first backup wrote: a few pages, so a few chunks (the header page's
        # and the one or two holding the new rows, each up to 4 MiB); the rest
        # is reused.
        p = v.run("backup", "create", "--data", v.data, "--to", self.repo)
        m = re.search(r"backup 2 .*: ([\d.]+) MiB, new data ([\d.]+) MiB.* (\d+) of (\d+) chunks new", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        total, new_data = float(m.group(1)), float(m.group(2))
        new_chunks, chunks = int(m.group(3)), int(m.group(4))
        self.assertLessEqual(new_chunks, 3, p.stdout)
        self.assertGreater(chunks, 10, p.stdout)
        self.assertLess(new_data, 0.3 * total, p.stdout)
        v.run("backup", "verify", "--from", self.repo)
        v.run("backup", "verify", "--from", self.repo, "--share", v.share(1), "--share", v.share(3))
        new = os.path.join(v.tmp, "restored")
        v.run("backup", "restore", "--from", self.repo, "--data", new, "--share", v.share(2), "--share", v.share(3))
        v.run("audit", "verify", "--data", new)
        self.assertEqual(v.export(data=new), before)
        # The same passphrase unseals the restored vault.
        st = v.run("status", "--data", new).stdout
        self.assertIn("recovery 2-of-3", st)
        # One share is not enough.
        p = v.run("backup", "restore", "--from", self.repo, "--data", os.path.join(v.tmp, "r2"),
                  "--share", v.share(1), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("need 2 shares", p.stderr)

    def test_2_no_clear_text_in_the_target(self):
        names, sentences = synthea_secrets()
        found = find_clear_text(self.repo, set(MARKERS) | names | sentences)
        self.assertEqual(found, [], found[:5])

    def test_3_backup_under_write_load(self):
        v = self.v
        v.add_user("writer", "physician")
        token, _ = v.token("writer")
        server = v.serve()
        written, errors = [], []
        stop = threading.Event()

        def load():
            i = 0
            while not stop.is_set():
                body = {"resourceType": "Patient", "id": f"load-{i}", "name": [{"family": f"Loadfamily{i}"}]}
                st, _h, _b = server.request("PUT", f"/fhir/Patient/load-{i}", json.dumps(body).encode(),
                                            token=token, content_type="application/fhir+json")
                if st not in (200, 201):
                    errors.append(st)
                    return
                written.append(i)
                i += 1

        t = threading.Thread(target=load)
        t.start()
        try:
            for _ in range(1200):
                if len(written) >= 20 or errors:
                    break
                stop.wait(0.05)
            self.assertFalse(errors, "writes refused")
            self.assertGreaterEqual(len(written), 20)
            repo = os.path.join(v.tmp, "repo-load")
            v.run("backup", "create", "--data", v.data, "--to", repo)
            during = len(written)
            stop.wait(0.5)
        finally:
            stop.set()
            t.join()
            server.stop()
        self.assertGreater(len(written), during - 1)
        new = os.path.join(v.tmp, "restored-load")
        v.run("backup", "restore", "--from", repo, "--data", new, "--share", v.share(1), "--share", v.share(2))
        v.run("audit", "verify", "--data", new)
        ids = set()
        for line in v.export(data=new).splitlines():
            r = json.loads(line)
            if r["id"].startswith("load-"):
                ids.add(int(r["id"][5:]))
        # One writer, in order: the snapshot holds exactly a prefix of its writes.
        self.assertTrue(ids, "some writes happened before the snapshot")
        self.assertEqual(ids, set(range(len(ids))))
        self.assertLess(len(ids), len(written) + 1)
        # The base data is intact too.
        self.assertIn(b"marker-patient-1", v.export(data=new))

    def test_4_list_drill_prune(self):
        v = self.v
        out = v.run("backup", "list", "--from", self.repo).stdout.splitlines()
        self.assertEqual(len(out), 2)
        p = v.run("backup", "drill", "--from", self.repo, "--share", v.share(1), "--share", v.share(2))
        self.assertIn("recovery time", p.stdout)
        p = v.run("backup", "prune", "--data", v.data, "--from", self.repo, "--keep-daily", "7")
        self.assertIn("pruned 1 backups", p.stdout)  # two backups today: the newest is kept
        v.run("backup", "verify", "--from", self.repo, "--data", v.data)
        self.assertEqual(len(v.run("backup", "list", "--from", self.repo).stdout.splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
