#!/usr/bin/env python3
"""Password + TOTP sign-in end to end (docs/auth-api.md): a staff account
with only a password gets a session that must enrol a second factor and
cannot reach FHIR; enrolment gives a secret, an otpauth:// URI with that
secret and a QR code; confirming with a code from a real authenticator
(oathtool) gives ten recovery codes; from then on sign-in needs the password
and a fresh code; a code works once, a code two steps old and a wrong code
are refused with the same body as a wrong password, and a recovery code
works once.

Codes: the server accepts one step of drift (now-1..now+1) but never a step
at or below the last accepted one. To sign in twice without waiting 30 s,
authlib.Authenticator.fresh() hands out the current step's code and then the
NEXT step's (now+30 s), and only waits when both are spent."""
import sys
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authlib import Account, Authenticator, AuthVault, Client, step_now  # noqa: E402


class TotpSignIn(unittest.TestCase):
    def test_totp(self):
        vault = AuthVault()
        try:
            acct = Account("alice", vault.add_account("alice", "physician"))
            server = vault.serve()
            try:
                self.scenario(server, acct)
            finally:
                self.assertEqual(server.stop(), 0)
        finally:
            vault.close()

    def scenario(self, server, acct):
        # Password only: a session that must enrol first.
        c = Client(server)
        r = c.login(acct.name, acct.password)
        self.assertEqual(r.status, 200, r)
        s = r.json()
        self.assertEqual(s["user"], "alice")
        self.assertIs(s["enrol_required"], True)
        self.assertTrue(c.cookie and c.csrf)
        self.assertEqual(c.request("GET", "/fhir/Patient").status, 403, "no FHIR before enrolment")
        self.assertEqual(c.request("POST", "/fhir/Patient", {"resourceType": "Patient"}).status, 403)

        # Enrolment: secret, URI with the same secret, an SVG QR code.
        r = c.totp_enrol()
        self.assertEqual(r.status, 200, r)
        e = r.json()
        secret = e["secret"]
        self.assertRegex(secret, r"^[A-Z2-7]{32}$", "160-bit base32 secret")
        uri = urllib.parse.urlsplit(e["uri"])
        self.assertEqual((uri.scheme, uri.netloc), ("otpauth", "totp"))
        self.assertIn("alice", urllib.parse.unquote(uri.path))
        q = urllib.parse.parse_qs(uri.query)
        self.assertEqual(q["secret"][0].upper(), secret)
        self.assertNotIn(secret, e["qr_svg"], "the QR code is drawn, not written")
        root = ET.fromstring(e["qr_svg"].encode())
        self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg")
        self.assertGreater(len(e["qr_svg"]), 1000, "a QR code has many modules")
        app = Authenticator(secret)

        # Confirmation refuses codes outside the window (nothing accepted yet,
        # so only the window can refuse them) and a wrong code.
        self.assertEqual(c.totp_confirm(app.at_step(step_now() - 2)).status, 401, "two steps old")
        self.assertEqual(c.totp_confirm(app.at_step(step_now() + 3)).status, 401, "three steps ahead")
        self.assertEqual(c.request("GET", "/fhir/Patient").status, 403, "still not enrolled")
        r = c.totp_confirm(app.fresh())
        self.assertEqual(r.status, 200, r)
        codes = r.json()["recovery_codes"]
        self.assertEqual(len(codes), 10)
        self.assertEqual(len(set(codes)), 10)
        for code in codes:
            self.assertRegex(code, r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$")
        self.assertIs(c.session().json()["enrol_required"], False)
        self.assertEqual(c.logout().status, 204)
        self.assertIsNone(c.cookie, "logout clears the cookie")

        # Password alone is no longer enough.
        wrong_pw = Client(server).login(acct.name, acct.password + "x")
        self.assertEqual(wrong_pw.status, 401)
        self.assertEqual(Client(server).login(acct.name, acct.password).status, 401, "code required")

        # Password + fresh code.
        code = app.fresh()
        c = Client(server)
        r = c.login(acct.name, acct.password, code)
        self.assertEqual(r.status, 200, r)
        s = r.json()
        self.assertIs(s["enrol_required"], False)
        self.assertTrue(s["methods"]["totp"])
        self.assertEqual(c.request("GET", "/fhir/Patient").status, 200, "enrolled: FHIR open")

        # The same code again, a code two steps old, a wrong code: 401, and
        # the body says no more than a wrong password's.
        again = Client(server).login(acct.name, acct.password, code)
        self.assertEqual(again.status, 401, "a code works once")
        old = Client(server).login(acct.name, acct.password, app.at_step(step_now() - 2))
        self.assertEqual(old.status, 401, "two steps old")
        valid = {app.at_step(step_now() + d) for d in (-1, 0, 1, 2)}
        wrong = next(f"{n:06d}" for n in range(123456, 999999, 7919) if f"{n:06d}" not in valid)
        bad = Client(server).login(acct.name, acct.password, wrong)
        self.assertEqual(bad.status, 401)
        for r in (again, old, bad):
            self.assertEqual(r.body, wrong_pw.body, "one fixed body for every sign-in failure")
            self.assertEqual(r.headers.get("content-type"), wrong_pw.headers.get("content-type"))
            self.assertEqual(r.set_cookies(), [])
        self.assertTrue(wrong_pw.body, "an OperationOutcome body")

        # A recovery code (in any case, hyphens optional) works once and only once.
        rc = codes[3]
        r = Client(server).login(acct.name, acct.password, rc)
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json()["enrol_required"], False)
        self.assertEqual(Client(server).login(acct.name, acct.password, rc).status, 401, "recovery code reused")
        r = Client(server).login(acct.name, acct.password, codes[4].lower().replace("-", ""))
        self.assertEqual(r.status, 200, "a code is normalised before comparison")
        self.assertEqual(Client(server).login(acct.name, acct.password, codes[4]).status, 401)
        self.assertEqual(Client(server).login(acct.name + "x", acct.password, codes[5]).body, wrong_pw.body,
                         "unknown user: the same body")
        self.assertTrue(server.alive())


if __name__ == "__main__":
    unittest.main()
