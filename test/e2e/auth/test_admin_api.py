#!/usr/bin/env python3
"""The privacy officer's audit viewer and the administrator's user endpoints
(docs/admin-api.md), end to end: only the auditor reads the audit log, by
patient, by user, by time window and flagged only, with decrypted details,
and the query is itself audited; only it-admin lists users (with their MFA
status) and disables, enables or revokes, each with a fresh step-up code;
a disabled user's session ends at once."""
import sys
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authlib import Account, AuthVault, enrol_totp  # noqa: E402


def instant(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class AdminApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault = AuthVault()
        cls.officer = Account("olga", cls.vault.add_account("olga", "auditor"))
        cls.admin = Account("ivan", cls.vault.add_account("ivan", "it-admin"))
        cls.doc = Account("dora", cls.vault.add_account("dora", "physician"))
        cls.server = cls.vault.serve()
        try:
            for a in (cls.officer, cls.admin, cls.doc):
                enrol_totp(cls.server, a).logout()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.vault.close()

    def audit(self, client, **params):
        return client.request("GET", "/api/audit?" + urllib.parse.urlencode(params))

    def test_audit_viewer(self):
        # dora's sign-ins are in her history, with their decrypted details.
        doc = self.doc.sign_in(self.server)
        officer = self.officer.sign_in(self.server)
        r = self.audit(officer, user="dora")
        self.assertEqual(r.status, 200, r)
        entries = r.json()["entries"]
        actions = [e["action"] for e in entries]
        self.assertIn("login", actions)
        self.assertTrue(all(e["user"] == "dora" for e in entries))
        seqs = [e["seq"] for e in entries]
        self.assertEqual(seqs, sorted(seqs, reverse=True), "newest first")
        login = next(e for e in entries if e["action"] == "login" and e["outcome"] == "0")
        self.assertIn("password+totp", login["detail"], "details are decrypted for the officer")

        now = datetime.now(timezone.utc)
        r = self.audit(officer, **{"from": instant(now - timedelta(minutes=10)), "to": instant(now + timedelta(minutes=1))})
        self.assertEqual(r.status, 200, r)
        self.assertGreater(len(r.json()["entries"]), 3)
        r = self.audit(officer, **{"from": instant(now - timedelta(minutes=10)), "to": instant(now + timedelta(minutes=1)),
                                   "flagged": "1"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(all(e["flagged"] for e in r.json()["entries"]))

        # The officer's own queries are audited.
        r = self.audit(officer, user="olga", limit="50")
        self.assertIn("audit-query", [e["action"] for e in r.json()["entries"]])

        # Others may not read the log; bad filters are 400.
        self.assertEqual(self.audit(doc, user="dora").status, 403)
        self.assertEqual(self.audit(officer).status, 400)
        self.assertEqual(self.audit(officer, user="dora", patient="x").status, 400)
        self.assertEqual(self.audit(officer, user="dora", limit="0").status, 400)
        self.assertEqual(self.audit(officer, user="dora", bogus="1").status, 400)
        self.assertEqual(self.audit(officer, **{"from": "yesterday", "to": "today"}).status, 400)

    def test_user_administration(self):
        admin = self.admin.sign_in(self.server)
        r = admin.request("GET", "/api/admin/users")
        self.assertEqual(r.status, 200, r)
        users = {u["username"]: u for u in r.json()["users"]}
        self.assertEqual(users["dora"]["role"], "physician")
        self.assertTrue(users["dora"]["mfa"]["totp"])
        self.assertTrue(users["dora"]["mfa"]["password"])
        self.assertFalse(users["dora"]["disabled"])

        self.assertGreaterEqual(users[self.admin.name]["sessions"], 1, "the administrator's own session")
        before = users["dora"]["sessions"]
        doc = self.doc.sign_in(self.server)
        self.assertEqual(doc.session().status, 200)
        users = {u["username"]: u for u in admin.request("GET", "/api/admin/users").json()["users"]}
        self.assertEqual(users["dora"]["sessions"], before + 1, "the physician's new session is counted")
        self.assertEqual(doc.request("GET", "/api/admin/users").status, 403, "physicians do not administer")
        # Disabling needs a fresh step-up code of the administrator.
        self.assertEqual(admin.request("POST", "/api/admin/users/dora/disable").status, 401)
        self.assertEqual(admin.request("POST", "/api/admin/users/dora/disable",
                                       headers={"X-Step-Up": "000000"}).status, 401)
        r = admin.request("POST", "/api/admin/users/dora/disable", headers={"X-Step-Up": self.admin.app.fresh()})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(doc.session().status, 401, "a disabled user's session ends at once")
        users = {u["username"]: u for u in admin.request("GET", "/api/admin/users").json()["users"]}
        self.assertTrue(users["dora"]["disabled"])
        r = admin.request("POST", "/api/admin/users/nobody/enable", headers={"X-Step-Up": self.admin.app.fresh()})
        self.assertEqual(r.status, 404, r)
        r = admin.request("POST", "/api/admin/users/dora/enable", headers={"X-Step-Up": self.admin.app.fresh()})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.doc.sign_in(self.server).session().status, 200)

        # Roles: a staff account moves to another staff role, its sessions end.
        doc = self.doc.sign_in(self.server)
        role = lambda user, body, code=None: admin.request(
            "POST", f"/api/admin/users/{user}/role", body,
            headers={"X-Step-Up": code or self.admin.app.fresh(), "Content-Type": "application/json"})
        # Refused before the step-up: no code is spent on these.
        self.assertEqual(role("dora", {"role": "wizard"}, code="000000").status, 400)
        self.assertEqual(role("dora", {"role": "patient"}, code="000000").status, 400, "only staff roles")
        self.assertEqual(role(self.admin.name, {"role": "nurse"}, code="000000").status, 409, "not one's own role")
        self.assertEqual(role("dora", {"role": "nurse"}, code="000000").status, 401)
        r = role("dora", {"role": "nurse"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(doc.session().status, 401, "the old session ends with the old role")
        users = {u["username"]: u for u in admin.request("GET", "/api/admin/users").json()["users"]}
        self.assertEqual(users["dora"]["role"], "nurse")
        self.assertEqual(self.doc.sign_in(self.server).session().json()["role"], "nurse")
        self.assertEqual(role("dora", {"role": "physician"}).status, 204)


if __name__ == "__main__":
    unittest.main()
