#!/usr/bin/env python3
"""Break-the-glass end to end (docs/access-policy.md): a physician without a
care relationship is refused; asking for emergency access is refused without
a reason or without step-up; with both, a grant for that patient only opens
the chart, flagged in the audit log with a security event for the privacy
officer; the grant expires on time (MEDVAULT_BREAK_GLASS_MINUTES=1 here)."""
import json
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from policy_fixture import make_vault, totp  # noqa: E402


class BreakGlassTest(unittest.TestCase):
    def test_break_glass(self):
        vault, tokens = make_vault({"MEDVAULT_BREAK_GLASS_MINUTES": "1"})
        try:
            secret = vault.run("user", "step-up-enroll", "doc", "--data", vault.data).stdout.strip()
            self.assertRegex(secret, r"^[A-Z2-7]{32}$")
            server = vault.serve()
            try:
                self.scenario(server, vault, tokens, secret)
            finally:
                self.assertEqual(server.stop(), 0)
        finally:
            vault.close()

    def scenario(self, server, vault, tokens, secret):
        doc = tokens["doc"]
        read = lambda: server.request("GET", "/fhir/Observation/obs-p-norel", token=doc)[0]
        self.assertEqual(read(), 404, "no relationship: hidden")
        status, _, body = server.json("GET", "/fhir/Observation/obs-p-norel", token=doc,
                                      headers={"X-Purpose-Of-Use": "ETREAT"})
        self.assertEqual(status, 404, "ETREAT alone is not a grant")

        def ask(body, code=None, token=doc):
            h = {"X-Step-Up": code} if code is not None else {}
            return server.request("POST", "/api/break-glass", body=json.dumps(body), headers=h, token=token,
                                  content_type="application/json")

        self.assertEqual(ask({"patient": "p-norel"}, totp(secret))[0], 400, "reason required")
        self.assertEqual(ask({"patient": "p-norel", "reason": "   "}, totp(secret))[0], 400)
        self.assertEqual(ask({"patient": "p-norel", "reason": "unconscious in ER"})[0], 401, "step-up required")
        self.assertEqual(ask({"patient": "p-norel", "reason": "unconscious in ER"}, "000000")[0], 401)
        self.assertEqual(ask({"patient": "p-norel", "reason": "x"}, totp(secret), tokens["front"])[0], 403)
        self.assertEqual(ask({"patient": "nobody", "reason": "x"}, totp(secret))[0], 404)
        self.assertEqual(read(), 404, "refused requests grant nothing")

        # The code used for the 404 above is spent: use the next step's code.
        t0 = time.time()
        status, _, body = ask({"patient": "p-norel", "reason": "unconscious in ER"}, totp(secret, time.time() + 30))
        self.assertEqual(status, 201, body)
        grant = json.loads(body)
        self.assertEqual(grant["patient"], "p-norel")
        self.assertEqual(read(), 200, "granted")
        status, _, bundle = server.json("GET", "/fhir/Patient/p-norel/$everything", token=doc)
        self.assertEqual(status, 200)
        ids = {e["resource"]["id"] for e in bundle.get("entry", [])}
        self.assertIn("psy-p-norel", ids, "break-the-glass passes sensitivity labels too")
        # That patient only.
        self.assertEqual(server.request("GET", "/fhir/Observation/obs-p-consent", token=tokens["nurse"])[0], 404)
        self.assertEqual(server.request("GET", "/fhir/Observation/psy-p-rel", token=doc)[0], 404)

        # Flagged in the audit log, with the privacy officer's event; the
        # reason is in the (encrypted) detail, never in clear in the log file.
        events = [json.loads(l) for l in vault.run("audit", "export", "--data", vault.data).stdout.splitlines() if l]
        def flagged(e):
            return any(t.get("code") == "review" for t in e.get("meta", {}).get("tag", []))
        bg = [e for e in events if "break-the-glass" in e.get("outcomeDesc", "")]
        self.assertTrue(bg, "break-the-glass entries exist")
        self.assertTrue(all(flagged(e) for e in bg), "every break-the-glass access is flagged")
        reads = [e for e in bg if "past: no care relationship" in e.get("outcomeDesc", "")]
        self.assertTrue(reads, "the reads explain the grant")
        security = [e for e in events if flagged(e) and e.get("outcomeDesc") == "break-the-glass"]
        self.assertTrue(security, "a security event for the privacy officer")
        with open(os.path.join(vault.data, "vault.db"), "rb") as f:
            self.assertNotIn(b"unconscious in ER", f.read())

        # Expiry: one minute.
        remaining = t0 + 60 - time.time()
        if remaining > 0:
            time.sleep(remaining + 6)  # + the facts cache lifetime (5 s)
        self.assertEqual(read(), 404, "grant expired")


if __name__ == "__main__":
    unittest.main()
