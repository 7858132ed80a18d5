#!/usr/bin/env python3
"""Step-up with a passkey (docs/auth-api.md, POST /api/auth/step-up/begin and
/finish) against a software authenticator (authlib.SoftAuthenticator).

A physician who signs in with a passkey only (no TOTP) asks for a step-up
ceremony: it allows only her own credential and requires user verification.
Her assertion gives a one-time `mvu_` token that breaks the glass once (the
second use is 401). Another user's valid passkey cannot answer her ceremony,
another user's token is not hers, a replayed ceremony and malformed tokens
are refused; every refusal answers 401 with one fixed message and is
audited. (The 2-minute expiry is tested with a fake clock in
src/vault/sessions_test.cc.)"""
import json
import os
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authlib import ES256, AuthVault, Client, SoftAuthenticator, action, b64u, failed, seq, text_of  # noqa: E402

RP_ID = "localhost"
REFUSED = "step-up authentication failed"


class PasskeyStepUp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault = AuthVault()
        path = os.path.join(cls.vault.tmp, "patient.ndjson")
        with open(path, "w") as f:
            f.write(json.dumps({"resourceType": "Patient", "id": "p-er", "name": [{"family": "Emergency"}]}) + "\n")
            f.write(json.dumps({"resourceType": "Observation", "id": "obs-er", "status": "final", "code": {"text": "bp"},
                                "subject": {"reference": "Patient/p-er"}}) + "\n")
        cls.vault.import_files(path)
        cls.pia_password = cls.vault.add_account("pia", "physician")
        cls.quinn_password = cls.vault.add_account("quinn", "physician")
        cls.rita_password = cls.vault.add_account("rita", "physician")
        cls.server = cls.vault.serve("--purge-interval", "1")
        cls.origin = f"https://localhost:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.server.stop() == 0
        finally:
            cls.vault.close()

    # --- helpers
    def passkey_only_session(self, name, password, source):
        """Registers a passkey after a password sign-in, signs out, then signs
        in with the passkey alone: (client, key)."""
        key = SoftAuthenticator(ES256)
        c = Client(self.server, source=source)
        self.assertEqual(c.login(name, password).status, 200)
        r = c.request("POST", "/api/auth/passkey/register/begin", {})
        self.assertEqual(r.status, 200, r)
        o = r.json()
        cdj, att, _ = key.registration(o["publicKey"]["challenge"], RP_ID, self.origin)
        r = c.request("POST", "/api/auth/passkey/register/finish",
                      {"ceremony": o["ceremony"], "clientDataJSON": b64u(cdj), "attestationObject": b64u(att)})
        self.assertEqual(r.status, 201, r)
        key.user_handle = o["publicKey"]["user"]["id"]
        self.assertEqual(c.logout().status, 204)

        c = Client(self.server, source=source)
        r = c.request("POST", "/api/auth/passkey/login/begin", {}, cookie=False)
        o = r.json()
        cdj, ad, sig = key.assertion(o["publicKey"]["challenge"], RP_ID, self.origin)
        r = c.request("POST", "/api/auth/passkey/login/finish",
                      {"ceremony": o["ceremony"], "id": b64u(key.cred_id), "clientDataJSON": b64u(cdj),
                       "authenticatorData": b64u(ad), "signature": b64u(sig), "userHandle": key.user_handle},
                      cookie=False)
        self.assertEqual(r.status, 200, r)
        c.csrf = r.json()["csrf"]
        s = c.session().json()
        self.assertEqual(s["user"], name)
        self.assertEqual(s["methods"]["passkeys"], 1)
        self.assertIs(s["methods"]["totp"], False)
        return c, key

    def begin(self, c):
        r = c.request("POST", "/api/auth/step-up/begin", {})
        self.assertEqual(r.status, 200, r)
        o = r.json()
        return o["ceremony"], o["publicKey"]

    def finish(self, c, ceremony, key, challenge, **kw):
        cdj, ad, sig = key.assertion(challenge, RP_ID, self.origin, **kw)
        return c.request("POST", "/api/auth/step-up/finish",
                         {"ceremony": ceremony, "id": b64u(key.cred_id), "clientDataJSON": b64u(cdj),
                          "authenticatorData": b64u(ad), "signature": b64u(sig), "userHandle": key.user_handle})

    def step_up_token(self, c, key):
        ceremony, pk = self.begin(c)
        r = self.finish(c, ceremony, key, pk["challenge"])
        self.assertEqual(r.status, 200, r)
        return r.json()["step_up"]

    def break_glass(self, c, token):
        return c.request("POST", "/api/break-glass", {"patient": "p-er", "reason": "unconscious in the ER"},
                         headers={"X-Step-Up": token} if token is not None else None)

    def assert_refused(self, what, r):
        self.assertEqual(r.status, 401, f"{what}: {r}")
        self.assertIn(REFUSED, r.body.decode(), what)
        self.assertNotIn("mvu_", r.body.decode(), what)

    def new_step_up_failures(self, since):
        return [e for e in self.vault.audit_events(since + 1) if action(e) == "step-up" and failed(e)]

    # --- the test
    def test_passkey_step_up(self):
        pia, pia_key = self.passkey_only_session("pia", self.pia_password, "127.0.3.1")
        quinn, quinn_key = self.passkey_only_session("quinn", self.quinn_password, "127.0.3.2")

        # No relationship: hidden; break-the-glass without step-up refused.
        self.assertEqual(pia.request("GET", "/fhir/Observation/obs-er").status, 404)
        self.assertEqual(self.break_glass(pia, None).status, 401)

        # The ceremony: her own credential only, user verification required.
        ceremony, pk = self.begin(pia)
        self.assertEqual(pk["rpId"], RP_ID)
        self.assertEqual(pk["userVerification"], "required")
        self.assertEqual([a["id"] for a in pk["allowCredentials"]], [b64u(pia_key.cred_id)])
        r = self.finish(pia, ceremony, pia_key, pk["challenge"])
        self.assertEqual(r.status, 200, r)
        answer = r.json()
        token = answer["step_up"]
        self.assertRegex(token, r"^mvu_[A-Za-z0-9_-]{43}$")
        self.assertTrue(answer["expires"].endswith("Z") or "+" in answer["expires"], answer)

        # The token breaks the glass once.
        r = self.break_glass(pia, token)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(pia.request("GET", "/fhir/Observation/obs-er").status, 200, "granted")
        self.assert_refused("the same token again", self.break_glass(pia, token))
        # And the ceremony it came from is spent.
        self.assert_refused("replayed ceremony", self.finish(pia, ceremony, pia_key, pk["challenge"]))

        before = self.vault.audit_size()
        # Quinn's valid passkey cannot answer Pia's ceremony.
        ceremony, pk = self.begin(pia)
        self.assert_refused("another user's passkey", self.finish(pia, ceremony, quinn_key, pk["challenge"]))
        # No user verification: refused.
        ceremony, pk = self.begin(pia)
        self.assert_refused("no UV", self.finish(pia, ceremony, pia_key, pk["challenge"], flags=0x01))
        # Quinn's token is not Pia's (and the attempt spends it).
        quinn_token = self.step_up_token(quinn, quinn_key)
        self.assert_refused("another user's token", self.break_glass(pia, quinn_token))
        self.assert_refused("spent by the refused attempt", self.break_glass(quinn, quinn_token))
        # Malformed and made-up tokens.
        for bad in ("mvu_", "mvu_" + "A" * 43, "mvu_" + "A" * 500, "mvs_" + "A" * 43):
            self.assert_refused(repr(bad[:10]), self.break_glass(pia, bad))
        failures = self.new_step_up_failures(before)
        texts = " ".join(text_of(e) for e in failures)
        for reason in ("not a passkey of this account", "token of another user", "unknown or used"):
            self.assertIn(reason, texts, "refusals are audited with their reason")
        self.assertNotIn(quinn_token, texts, "the token itself is never logged")

        # Malformed finish bodies: 400, not 5xx.
        r = pia.request("POST", "/api/auth/step-up/finish", {"ceremony": "x", "id": "%%%"})
        self.assertEqual(r.status, 400, r)
        r = pia.request("POST", "/api/auth/step-up/finish", "not json")
        self.assertEqual(r.status, 400, r)
        # Signed-in only, CSRF as usual, POST only.
        self.assertEqual(Client(self.server).request("POST", "/api/auth/step-up/begin", {}).status, 401)
        r = pia.request("POST", "/api/auth/step-up/begin", {}, csrf="wrong")
        self.assertIn(r.status, (401, 403), r)
        self.assertEqual(pia.request("GET", "/api/auth/step-up/begin").status, 405)
        # A password-only account has no passkey to step up with.
        c = Client(self.server, source="127.0.3.3")
        self.assertEqual(c.login("rita", self.rita_password).status, 200)
        r = c.request("POST", "/api/auth/step-up/begin", {})
        self.assertEqual(r.status, 400, r)

        # Housekeeping (every second here): the sessions ended by the two
        # sign-outs above are deleted.
        deadline = time.monotonic() + 30
        while sum(e.get("sessions", 0) for e in self.server.events("purged")) < 2:
            self.assertLess(time.monotonic(), deadline, "no purge of the two ended sessions")
            time.sleep(0.1)
        self.assertEqual(pia.session().status, 200, "live sessions are kept")

        # Success is audited too; the log still verifies.
        ok = [e for e in self.vault.audit_events(1) if action(e) == "step-up" and not failed(e)]
        self.assertGreaterEqual(len(ok), 2, "token issued and token used")
        p = self.vault.run("audit", "verify", "--data", self.vault.data, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(self.server.alive())


if __name__ == "__main__":
    unittest.main()
