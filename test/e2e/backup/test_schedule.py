"""Scheduled backups: `medvault serve --backup-to TARGET --backup-every 2s`
writes a backup every interval and prunes by the retention policy while the
server keeps serving; a write made between runs is in the later backup
(restored with the kit's shares); a target that cannot be written makes runs
fail without stopping the server, each failure audited, and with
--backup-rpo 1s a flagged "backup-rpo-exceeded" entry is appended once."""
import json
import os
import time
import unittest

from backuplib import MARKERS, KitVault, Vault


def wait_for(pred, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    return None


def audit_entries(v):
    """(action, outcome, flagged) of every audit entry."""
    p = v.run("audit", "export", "--data", v.data)
    out = []
    for line in p.stdout.splitlines():
        ev = json.loads(line)
        action = [c["code"] for c in ev["subtype"] if c["system"].endswith("audit-action")][0]
        tags = [t["code"] for t in ev.get("meta", {}).get("tag", [])]
        out.append((action, ev["outcome"], "review" in tags))
    return out


def listing(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


class Schedule(unittest.TestCase):
    def test_1_runs_prune_and_capture_writes_between_runs(self):
        v = KitVault(synthea=False)
        try:
            v.add_user("dr-s", "physician")
            token, _ = v.token("dr-s")
            repo = os.path.join(v.tmp, "repo")
            srv = v.serve("--backup-to", repo, "--backup-every", "2s", "--backup-keep-daily", "1",
                          "--backup-keep-weekly", "0", "--backup-keep-monthly", "0", "--backup-rpo", "1h")
            try:
                first = wait_for(lambda: srv.events("backup"))
                self.assertTrue(first, "no scheduled backup: " + "\n".join(srv.log_lines[-10:]))
                s1 = first[-1]["seq"]
                self.assertGreater(first[0]["new_bytes"], 0)
                self.assertIn("elapsed_s", first[0])
                body = {"resourceType": "Patient", "id": "between-runs", "name": [{"family": "Betweenruns"}]}
                st, _, _ = srv.request("PUT", "/fhir/Patient/between-runs", json.dumps(body), token=token,
                                       content_type="application/fhir+json")
                self.assertEqual(st, 201)
                # Two more runs: the second surely started after the write.
                self.assertTrue(wait_for(lambda: any(e["seq"] >= s1 + 2 for e in srv.events("backup"))),
                                "\n".join(srv.log_lines[-10:]))
                st, _, _ = srv.request("GET", "/fhir/Patient/between-runs", token=token)
                self.assertEqual(st, 200)
                self.assertTrue(srv.alive())
            finally:
                self.assertEqual(srv.stop(), 0)
            runs = srv.events("backup")
            newest = max(e["seq"] for e in runs)
            self.assertGreaterEqual(newest, 3)
            self.assertEqual(srv.events("backup-failed"), [])
            self.assertTrue(all(e["prune_error"] == "" for e in runs), runs)
            # No patient data in the server's log lines.
            log = "\n".join(srv.log_lines)
            for m in MARKERS + ["Betweenruns"]:
                self.assertNotIn(m, log)
            # Keep-daily 1: only the newest manifest stays (all runs are of
            # today); the others left signed prune records; the chain verifies.
            self.assertEqual(listing(os.path.join(repo, "manifests")), [f"{newest:010d}"])
            self.assertEqual(len(listing(os.path.join(repo, "pruned"))), newest - 1)
            v.run("backup", "verify", "--from", repo, "--share", v.share(1), "--share", v.share(2))
            # The newest backup holds the write made between runs.
            restored = os.path.join(v.tmp, "restored")
            v.run("backup", "restore", "--from", repo, "--data", restored, "--share", v.share(2), "--share", v.share(3))
            exported = v.export(data=restored).decode()
            self.assertIn('"id":"between-runs"', exported.replace(" ", ""))
            self.assertIn(MARKERS[0], exported)
            # Each run audited once: the snapshot's backup-create and a prune.
            entries = audit_entries(v)
            creates = [e for e in entries if e[0] == "backup-create"]
            prunes = [e for e in entries if e[0] == "backup-prune"]
            self.assertEqual(len(creates), newest, creates)
            self.assertEqual(len(prunes), newest, prunes)
            self.assertTrue(all(e[1] == "0" and not e[2] for e in creates + prunes))
            self.assertFalse([e for e in entries if e[0] == "backup-rpo-exceeded"])
        finally:
            v.close()

    def test_2_unwritable_target_fails_without_crashing_and_alerts_once(self):
        v = KitVault(synthea=False)
        try:
            v.add_user("dr-u", "physician")
            token, _ = v.token("dr-u")
            if os.geteuid() == 0:
                # root writes through mode 0500: a target below a regular
                # file cannot be written by anyone.
                blocker = os.path.join(v.tmp, "not-a-dir")
                with open(blocker, "w") as f:
                    f.write("x")
                repo = os.path.join(blocker, "repo")
            else:
                repo = os.path.join(v.tmp, "repo")
                os.mkdir(repo)
                os.chmod(repo, 0o500)
            srv = v.serve("--backup-to", repo, "--backup-every", "2s", "--backup-rpo", "1s")
            try:
                self.assertTrue(wait_for(lambda: len(srv.events("backup-failed")) >= 3),
                                "\n".join(srv.log_lines[-10:]))
                self.assertTrue(srv.events("backup-rpo-exceeded"), "\n".join(srv.log_lines[-10:]))
                st, _, _ = srv.request("POST", "/fhir/Patient", '{"resourceType":"Patient","gender":"male"}',
                                       token=token, content_type="application/fhir+json")
                self.assertEqual(st, 201)
                self.assertTrue(srv.alive())
            finally:
                self.assertEqual(srv.stop(), 0)
            failures = srv.events("backup-failed")
            self.assertEqual(srv.events("backup"), [])
            # At most once an hour while it lasts: one alert for all failures.
            self.assertEqual(len(srv.events("backup-rpo-exceeded")), 1)
            entries = audit_entries(v)
            failed = [e for e in entries if e[0] == "backup-create"]
            self.assertEqual(len(failed), len(failures))
            self.assertTrue(all(e[1] == "4" and not e[2] for e in failed), failed)
            alerts = [e for e in entries if e[0] == "backup-rpo-exceeded"]
            self.assertEqual(alerts, [("backup-rpo-exceeded", "4", True)])
        finally:
            if os.path.isdir(os.path.join(v.tmp, "repo")):
                os.chmod(os.path.join(v.tmp, "repo"), 0o700)
            v.close()

    def test_3_bad_options_are_refused(self):
        v = KitVault(synthea=False)
        try:
            p = v.run("serve", "--data", v.data, "--backup-every", "2s", check=False, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("--backup-to", p.stderr)
            p = v.run("serve", "--data", v.data, "--backup-to", os.path.join(v.tmp, "r"), "--backup-every", "0s",
                      check=False, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("positive", p.stderr)
            for bad in ("-5s", "99999d", "2x"):
                p = v.run("serve", "--data", v.data, "--backup-to", os.path.join(v.tmp, "r"), "--backup-rpo", bad,
                          check=False, timeout=60)
                self.assertNotEqual(p.returncode, 0, bad)
                self.assertIn("--backup-rpo", p.stderr, bad)
                self.assertFalse(p.stderr.count("\n") > 1, p.stderr)  # one line, no crash
        finally:
            v.close()
        # A vault without a recovery kit cannot be backed up: said at start.
        plain = Vault()
        try:
            p = plain.run("serve", "--data", plain.data, "--backup-to", os.path.join(plain.tmp, "r"),
                          check=False, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("medvault kit create", p.stderr)
        finally:
            plain.close()


if __name__ == "__main__":
    unittest.main()
