"""Fail closed when the audit log cannot be written: the vault lives on a
small tmpfs that the test fills up while the server answers reads. Reads
wait for their audit entry off the I/O threads (group commit), so this
checks the asynchronous path end to end: once the disk is full the server
answers 503 with no patient datum in the body, never a 200 whose entry was
not written; every 200 it did send is matched to an audit entry; after
space is freed reads succeed again and `audit verify` passes."""
import json
import os
import subprocess
import tempfile
import unittest

from auditlib import SYNTHEA10, Vault, verify
from vaultlib import ndjson


def statvfs_free(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class DiskFull(unittest.TestCase):
    def setUp(self):
        # Mounting needs root; the suite runs as root (.ci/run, README). A
        # test that cannot run must fail, not skip.
        self.assertEqual(os.geteuid(), 0, "this test mounts a tmpfs and needs root")
        self.mnt = tempfile.mkdtemp(prefix="mv-e2e-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m,mode=0700", "tmpfs", self.mnt], check=True)
        self.addCleanup(os.rmdir, self.mnt)
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt])
        self.v = Vault(root=self.mnt)
        self.addCleanup(self.v.close)
        self.patients = list(ndjson(SYNTHEA10 / "Patient.000.ndjson"))
        self.v.import_files(SYNTHEA10 / "Patient.000.ndjson")
        self.v.run("user", "add", "feed", "--role", "service", "--scope", "system/*.rs", "--data", self.v.data)
        self.token = self.v.token("feed")[0]
        self.filler = os.path.join(self.mnt, "filler")

    def fill(self):
        """Fills the file system to its last byte."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 20, 4096, 512):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        self.assertLess(statvfs_free(self.mnt), 8192)

    def test_full_disk_refuses_reads_and_recovers(self):
        srv = self.v.serve()
        names = {p["id"]: p["name"][0]["family"] for p in self.patients}
        sent = {}  # patient id -> 200 answers received

        def read(pid):
            status, _, body = srv.request("GET", f"/fhir/Patient/{pid}", token=self.token)
            return status, body

        for p in self.patients:  # warm: every read works with space left
            status, _ = read(p["id"])
            self.assertEqual(status, 200)
            sent[p["id"]] = sent.get(p["id"], 0) + 1

        self.fill()
        refused = 0
        for i in range(3000):
            pid = self.patients[i % len(self.patients)]["id"]
            status, body = read(pid)
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
            if status == 200:
                sent[pid] = sent.get(pid, 0) + 1
                continue
            self.assertEqual(status, 503, text[:300])
            self.assertNotIn(names[pid], text)
            self.assertIn("unavailable", text)
            refused += 1
            if refused >= 20:
                break
        self.assertGreaterEqual(refused, 20, "a full disk never stopped the reads")
        self.assertTrue(srv.alive())

        os.remove(self.filler)
        ok = 0
        for p in self.patients:
            status, _ = read(p["id"])
            if status == 200:
                ok += 1
                sent[p["id"]] += 1
        # The store may need one failed transaction to notice the space.
        self.assertGreaterEqual(ok, len(self.patients) - 1)
        self.assertEqual(srv.stop(), 0)

        rc, _out, err = verify(self.v, self.v.data)
        self.assertEqual(rc, 0, err)
        # Every 200 that left the server has its read entry (the FHIR audit
        # export lists AuditEvents with their entity references).
        p = self.v.run("audit", "export", "--data", self.v.data)
        logged = {}
        for line in p.stdout.splitlines():
            ev = json.loads(line)
            if ev["subtype"][-1]["code"] != "read" or ev["outcome"] != "0":
                continue
            for ent in ev.get("entity", []):
                if ent.get("role", {}).get("code") == "1":  # the patient
                    pid = ent["what"]["reference"].split("/", 1)[1]
                    logged[pid] = logged.get(pid, 0) + 1
        for pid, n in sent.items():
            self.assertGreaterEqual(logged.get(pid, 0), n, f"Patient/{pid}: {n} answers sent, "
                                    f"{logged.get(pid, 0)} read entries")


if __name__ == "__main__":
    unittest.main()
