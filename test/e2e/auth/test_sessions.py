#!/usr/bin/env python3
"""Sessions and tokens end to end (docs/auth-api.md), on a server with
--session-idle 3s (the other cases use a second one with 10 min): a session in use stays alive past the idle timeout and
ends after 4 s of idleness; logout, "sign out everywhere" and the
administrator's `token revoke --user` end sessions (the cookie is then
refused with 401), the last one also bearer tokens; a bearer token with a
2 s lifetime expires; the cookie carries Secure, HttpOnly, SameSite=Strict,
Path=/ and no Domain; a cookie-authenticated write needs the right
X-CSRF-Token; a foreign Origin is refused whatever the method.

Sign-ins use a fresh TOTP code when one is free, else a recovery code
(authlib.Account.second_factor), so the test never waits for a TOTP step."""
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authlib import COOKIE, Account, AuthVault, Client, enrol_totp, parse_set_cookie  # noqa: E402

PATIENT = {"resourceType": "Patient", "name": [{"family": "Session", "given": ["Test"]}], "gender": "female"}


class Sessions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault = AuthVault()
        cls.acct = Account("carol", cls.vault.add_account("carol", "physician"))
        cls.other = Account("dan", cls.vault.add_account("dan", "physician"))
        # The idle-timeout test has a 3 s server of its own; the others use a
        # long idle time, because on a loaded machine two sign-ins in a row
        # (a TOTP step may have to be waited for) can take longer than 3 s.
        cls.server = cls.vault.serve("--session-idle", "10m", "--session-max", "1h")
        cls.idle_server = cls.vault.serve("--session-idle", "3s", "--session-max", "1h")
        try:
            enrol_totp(cls.server, cls.acct).logout()
            enrol_totp(cls.server, cls.other).logout()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.server.stop() == 0
            assert cls.idle_server.stop() == 0
        finally:
            cls.vault.close()

    def test_cookie_attributes(self):
        c = self.acct.sign_in(self.server)
        name, value, attrs = parse_set_cookie(c.last_set_cookie)
        self.assertEqual(name, COOKIE)
        self.assertRegex(value, r"^mvs_[A-Za-z0-9_-]{43}$")
        self.assertIs(attrs.get("secure"), True)
        self.assertIs(attrs.get("httponly"), True)
        self.assertEqual(attrs.get("samesite", "").lower(), "strict")
        self.assertEqual(attrs.get("path"), "/")
        self.assertNotIn("domain", attrs, "__Host- cookies have no Domain")
        s = c.session()
        self.assertEqual(s.status, 200)
        self.assertEqual(s.set_cookies(), [], "GET /api/auth/session sets no cookie")
        self.assertEqual(s.json()["idle_timeout_s"], 600)
        self.assertEqual(c.logout().status, 204)

    def test_idle_timeout(self):
        c = self.acct.sign_in(self.idle_server)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 6:
            r = c.session()
            self.assertEqual(r.status, 200, f"in use at {time.monotonic() - t0:.1f}s: {r}")
            time.sleep(1)
        self.assertEqual(c.request("GET", "/fhir/Patient").status, 200, "alive after 6 s of use")
        time.sleep(4)
        self.assertEqual(c.session().status, 401, "idle for 4 s > 3 s")
        self.assertEqual(c.request("GET", "/fhir/Patient").status, 401)

    def test_logout(self):
        c = self.acct.sign_in(self.server)
        cookie, csrf = c.cookie, c.csrf
        self.assertEqual(c.request("POST", "/api/auth/logout", csrf=False).status, 403, "logout needs CSRF")
        self.assertEqual(c.session().status, 200, "refused logout kept the session")
        r = c.logout()
        self.assertEqual(r.status, 204)
        _, value, attrs = parse_set_cookie(c.last_set_cookie)
        self.assertTrue(value == "" or attrs.get("max-age") == "0", "cookie cleared")
        replay = Client(self.server)
        replay.cookie, replay.csrf = cookie, csrf
        self.assertEqual(replay.session().status, 401, "the same cookie after logout")
        self.assertEqual(replay.request("GET", "/fhir/Patient").status, 401)

    def test_logout_all(self):
        a = self.acct.sign_in(self.server)
        b = self.acct.sign_in(self.server, source="127.0.0.5")
        d = self.other.sign_in(self.server)
        r = a.request("GET", "/api/auth/sessions")
        self.assertEqual(r.status, 200, r)
        listed = r.json()["sessions"]
        self.assertGreaterEqual(len(listed), 2)
        self.assertEqual(sum(1 for s in listed if s["current"]), 1)
        self.assertEqual(b.session().status, 200)
        self.assertEqual(a.request("POST", "/api/auth/logout-all").status, 204)
        self.assertEqual(b.session().status, 401, "the second session ended")
        self.assertEqual(a.session().status, 401, "and the one that asked")
        self.assertEqual(d.session().status, 200, "another user's session lives on")
        d.logout()

    def test_delete_one_session(self):
        a = self.acct.sign_in(self.server)
        b = self.acct.sign_in(self.server)
        other = [s for s in a.request("GET", "/api/auth/sessions").json()["sessions"] if not s["current"]]
        b_id = next(s["id"] for s in b.request("GET", "/api/auth/sessions").json()["sessions"] if s["current"])
        self.assertIn(b_id, [s["id"] for s in other])
        self.assertEqual(a.request("DELETE", f"/api/auth/sessions/{b_id}").status, 204)
        self.assertEqual(b.session().status, 401)
        self.assertEqual(a.request("DELETE", f"/api/auth/sessions/{b_id}").status, 404)
        d = self.other.sign_in(self.server)
        d_id = next(s["id"] for s in d.request("GET", "/api/auth/sessions").json()["sessions"] if s["current"])
        self.assertEqual(a.request("DELETE", f"/api/auth/sessions/{d_id}").status, 404,
                         "another user's session is not yours to end")
        self.assertEqual(d.session().status, 200)
        a.logout()
        d.logout()

    def test_admin_revoke(self):
        c = self.other.sign_in(self.server)
        token, _ = self.vault.token("dan", ttl="1h")
        self.assertEqual(Client(self.server).request("GET", "/fhir/Patient", token=token).status, 200)
        self.assertEqual(c.session().status, 200)
        self.vault.run("token", "revoke", "--user", "dan", "--data", self.vault.data)
        self.assertEqual(c.session().status, 401, "revoked session")
        self.assertEqual(c.request("GET", "/fhir/Patient").status, 401)
        self.assertEqual(Client(self.server).request("GET", "/fhir/Patient", token=token).status, 401,
                         "revoked bearer token")
        self.assertEqual(self.other.sign_in(self.server).session().status, 200, "a new sign-in works")

    def test_bearer_ttl(self):
        token, _ = self.vault.token("carol", ttl="2s")
        t0 = time.monotonic()
        c = Client(self.server)
        self.assertEqual(c.request("GET", "/fhir/Patient", token=token).status, 200)
        self.assertLess(time.monotonic() - t0, 2)
        time.sleep(3)
        self.assertEqual(c.request("GET", "/fhir/Patient", token=token).status, 401, "expired")
        self.assertEqual(c.request("POST", "/fhir/Patient", PATIENT, token=token).status, 401)

    def test_csrf_and_origin(self):
        c = self.acct.sign_in(self.server)
        own = f"https://localhost:{self.server.port}"
        post = lambda **kw: c.request("POST", "/fhir/Patient", PATIENT,
                                      headers={"Content-Type": "application/fhir+json", **kw.pop("headers", {})}, **kw)
        self.assertEqual(post(csrf=False).status, 403, "no X-CSRF-Token")
        wrong = ("y" if c.csrf[0] == "x" else "x") + c.csrf[1:]  # one character changed
        self.assertEqual(post(csrf=wrong).status, 403, "wrong X-CSRF-Token")
        self.assertEqual(post(csrf="").status, 403, "empty X-CSRF-Token")
        other = self.other.sign_in(self.server)
        self.assertEqual(post(csrf=other.csrf).status, 403, "another session's token")
        self.assertEqual(post(headers={"Origin": "https://evil.example"}).status, 403, "foreign Origin")
        self.assertEqual(c.request("GET", "/fhir/Patient", headers={"Origin": "https://evil.example"}).status, 403,
                         "foreign Origin on a GET")
        self.assertEqual(c.request("GET", "/fhir/Patient", headers={"Origin": "null"}).status, 403)
        self.assertEqual(c.request("GET", "/fhir/Patient", headers={"Origin": own + ".evil.example"}).status, 403)
        evil_login = Client(self.server).request("POST", "/api/auth/login",
                                                 {"username": "carol", "password": self.acct.password},
                                                 headers={"Origin": "https://evil.example"}, cookie=False)
        self.assertEqual(evil_login.status, 403, "sign-in from a foreign page")
        self.assertEqual(evil_login.set_cookies(), [])
        r = post(headers={"Origin": own})
        self.assertEqual(r.status, 201, f"right token and own Origin: {r}")
        r = post()
        self.assertEqual(r.status, 201, f"right token: {r}")
        self.assertEqual(len(self.server.get_all("/fhir/Patient?family=Session", self.vault.token("carol")[0])), 2,
                         "only the two accepted writes happened")
        c.logout()
        other.logout()


if __name__ == "__main__":
    unittest.main()
