#!/usr/bin/env python3
"""Passkeys (WebAuthn) end to end against a software authenticator
(authlib.SoftAuthenticator: real ES256 and Ed25519 keys, attestation "none",
CBOR encoded by the test, not by the server's library).

Happy path: a staff account signs in with its password (enrolment
required), registers an ES256 and an Ed25519 passkey, signs out, and signs
in with each passkey. Then every hostile registration or assertion a
malicious client or a cloned authenticator could send is refused with a 4xx
(400 malformed, 401 refused, 413 too large; never 5xx, never 200) and leaves
an audit entry with a failure outcome. Sign-in attempts come each from their
own source address so that throttling (429) never hides the answer. At the
end the server still answers /healthz, the real passkey still works and
`medvault audit verify` passes."""
import base64
import hashlib
import secrets
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authlib import (AT, EDDSA, ES256, ES384, UP, UV, AuthVault, Client, SoftAuthenticator,  # noqa: E402
                     action, b64u, b64u_decode, cbor, failed, flip_bit, seq)

RP_ID = "localhost"
BIG = "A" * (100 * 1024)  # 100 KB of base64url


class Passkeys(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault = AuthVault()
        cls.password = cls.vault.add_account("erin", "physician")
        cls.frank_password = cls.vault.add_account("frank", "nurse")
        cls.server = cls.vault.serve()
        cls.origin = f"https://localhost:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.server.stop() == 0
        finally:
            cls.vault.close()

    # --- ceremonies
    def fresh_client(self):
        """A user agent from an address no other attempt used (no throttling)."""
        self.addr += 1
        return Client(self.server, source=f"127.0.2.{self.addr}")

    def reg_begin(self, c):
        r = c.request("POST", "/api/auth/passkey/register/begin", {})
        self.assertEqual(r.status, 200, r)
        o = r.json()
        return o["ceremony"], o["publicKey"]

    def reg_finish(self, c, ceremony, cdj, att, label="test key", raw=None):
        body = raw if raw is not None else {"ceremony": ceremony, "clientDataJSON": b64u(cdj),
                                            "attestationObject": b64u(att), "label": label}
        return c.request("POST", "/api/auth/passkey/register/finish", body)

    def register(self, c, key):
        ceremony, pk = self.reg_begin(c)
        cdj, att, _ = key.registration(pk["challenge"], RP_ID, self.origin)
        r = self.reg_finish(c, ceremony, cdj, att)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["id"], b64u(key.cred_id))
        key.user_handle = pk["user"]["id"]
        return r

    def login_begin(self, c):
        r = c.request("POST", "/api/auth/passkey/login/begin", {}, cookie=False)
        self.assertEqual(r.status, 200, r)
        o = r.json()
        return o["ceremony"], o["publicKey"]["challenge"]

    def login_finish(self, c, ceremony, key, cdj, ad, sig, cred_id=None, user_handle=None):
        body = {"ceremony": ceremony, "id": b64u(cred_id if cred_id is not None else key.cred_id),
                "clientDataJSON": b64u(cdj), "authenticatorData": b64u(ad), "signature": b64u(sig),
                "userHandle": user_handle if user_handle is not None else key.user_handle}
        r = c.request("POST", "/api/auth/passkey/login/finish", body, cookie=False)
        if r.status == 200:
            c.csrf = r.json()["csrf"]
        return r

    def passkey_login(self, key, c=None):
        c = c or self.fresh_client()
        ceremony, challenge = self.login_begin(c)
        r = self.login_finish(c, ceremony, key, *key.assertion(challenge, RP_ID, self.origin))
        if r.status == 200:
            key.stored_counter = key.counter
        return c, r

    # --- refusals
    def refused(self, what, r, allowed=(400, 401), audited=True):
        """r is a refusal with an allowed status, and the log has a new failure
        entry. `audited=False` only for envelopes refused at the HTTP edge
        (not JSON, a field missing, not base64url) before any credential or
        ceremony is looked at."""
        self.assertIn(r.status, allowed, f"{what}: {r}")
        if not audited:
            return
        events = self.vault.audit_events(self.audit_seq + 1)
        self.audit_seq = seq(events[-1])
        failures = [e for e in events if failed(e) and action(e) != "audit-export"]
        self.assertTrue(failures, f"{what}: no audit entry for the refusal")

    def test_passkeys(self):
        self.addr = 0
        es, ed = SoftAuthenticator(ES256), SoftAuthenticator(EDDSA)

        # Password first: enrolment required; a passkey may be registered.
        c = Client(self.server)
        r = c.login("erin", self.password)
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json()["enrol_required"], True)
        ceremony, pk = self.reg_begin(c)
        self.assertEqual(pk["rp"]["id"], RP_ID)
        self.assertEqual(pk["attestation"], "none")
        self.assertEqual(pk["authenticatorSelection"]["userVerification"], "required")
        self.assertIn(-7, [p["alg"] for p in pk["pubKeyCredParams"]])
        self.assertEqual(len(b64u_decode(pk["challenge"])), 32)
        self.assertNotIn("erin", base64.urlsafe_b64decode(pk["user"]["id"] + "==").decode("latin-1"),
                         "the user handle is not the user name")
        cdj, att, _ = es.registration(pk["challenge"], RP_ID, self.origin)
        r = self.reg_finish(c, ceremony, cdj, att)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["id"], b64u(es.cred_id))
        es.user_handle = pk["user"]["id"]
        self.assertIs(c.session().json()["enrol_required"], False, "a passkey is a second factor")
        self.register(c, ed)
        self.assertEqual(c.logout().status, 204)

        for key in (es, ed):
            pc, r = self.passkey_login(key)
            self.assertEqual(r.status, 200, r)
            s = r.json()
            self.assertEqual(s["user"], "erin")
            self.assertIs(s["enrol_required"], False)
            self.assertTrue(pc.cookie)
            self.assertEqual(pc.request("GET", "/fhir/Patient").status, 200)
        self.audit_seq = self.vault.audit_size()

        self.hostile_registrations(pc, es)
        self.hostile_assertions(es, ed)

        self.assertEqual(Client(self.server).request("GET", "/healthz").status, 200)
        _, r = self.passkey_login(es)
        self.assertEqual(r.status, 200, f"the real passkey still works: {r}")
        p = self.vault.run("audit", "verify", "--data", self.vault.data, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(self.server.alive())

    def hostile_registrations(self, c, registered):
        def attempt(what, key=None, allowed=(400, 401), **kw):
            key = key or SoftAuthenticator(ES256)
            ceremony, pk = self.reg_begin(c)
            opts = {"rp_id": RP_ID, "origin": self.origin}
            mutate = kw.pop("mutate", None)
            challenge = kw.pop("challenge", pk["challenge"])
            opts.update(kw)
            cdj, att, ad = key.registration(challenge, opts.pop("rp_id"), opts.pop("origin"), **opts)
            if mutate:
                cdj, att = mutate(cdj, att, ad)
            self.refused(what, self.reg_finish(c, ceremony, cdj, att), allowed)

        attempt("bad CBOR", mutate=lambda cdj, att, ad: (cdj, b"\xa3\x63fmt\x64no"))
        attempt("not CBOR at all", mutate=lambda cdj, att, ad: (cdj, secrets.token_bytes(200)))
        attempt("truncated authenticatorData",
                mutate=lambda cdj, att, ad: (cdj, cbor({"fmt": "none", "attStmt": {}, "authData": ad[:50]})))
        attempt("authData length beyond the COSE key",
                mutate=lambda cdj, att, ad: (cdj, cbor({"fmt": "none", "attStmt": {}, "authData": ad + b"\0" * 8})))
        attempt("CBOR declaring a 4 GB byte string",
                mutate=lambda cdj, att, ad: (cdj, b"\xa3\x63fmt\x64none\x67attStmt\xa0\x68authData\x5a\xff\xff\xff\xf0"))
        attempt("wrong origin", origin="https://evil.example")
        attempt("origin of another port", origin="https://localhost:1")
        attempt("wrong rpId hash", rp_id="evil.example")
        attempt("wrong type", kind="webauthn.get")
        attempt("challenge not issued by the server", challenge=b64u(secrets.token_bytes(32)))
        attempt("unsupported algorithm ES384 (-35)", key=SoftAuthenticator(ES384))
        attempt("user verification flag cleared", flags=UP | AT)
        attempt("user presence flag cleared", flags=UV | AT)
        attempt("attested credential data flag cleared", flags=UP | UV)
        attempt("clientDataJSON not JSON", mutate=lambda cdj, att, ad: (b"\xff{not json", att))
        attempt("fmt packed without a signature",
                mutate=lambda cdj, att, ad: (cdj, cbor({"fmt": "packed", "attStmt": {}, "authData": ad})))
        attempt("unknown attestation format",
                mutate=lambda cdj, att, ad: (cdj, cbor({"fmt": "tpm", "attStmt": {}, "authData": ad})))

        # A second ceremony's challenge does not open the first.
        c1, _ = self.reg_begin(c)
        _, pk2 = self.reg_begin(c)
        key = SoftAuthenticator(ES256)
        cdj, att, _ = key.registration(pk2["challenge"], RP_ID, self.origin)
        self.refused("challenge of another ceremony", self.reg_finish(c, c1, cdj, att))
        # Replay: the same finished ceremony a second time.
        key = SoftAuthenticator(ES256)
        ceremony, pk = self.reg_begin(c)
        cdj, att, _ = key.registration(pk["challenge"], RP_ID, self.origin)
        self.assertEqual(self.reg_finish(c, ceremony, cdj, att).status, 201)
        self.refused("replayed registration ceremony", self.reg_finish(c, ceremony, cdj, att))
        self.refused("invented ceremony", self.reg_finish(c, b64u(secrets.token_bytes(16)), cdj, att))
        # A login ceremony is not a registration ceremony.
        lc, lchal = self.login_begin(self.fresh_client())
        cdj, att, _ = SoftAuthenticator(ES256).registration(lchal, RP_ID, self.origin)
        self.refused("login ceremony used to register", self.reg_finish(c, lc, cdj, att))
        # Another account cannot claim erin's credential id.
        f = Client(self.server)
        self.assertEqual(f.login("frank", self.frank_password).status, 200)
        thief = SoftAuthenticator(ES256)
        thief.cred_id = registered.cred_id
        ceremony, pk = self.reg_begin(f)
        cdj, att, _ = thief.registration(pk["challenge"], RP_ID, self.origin)
        self.refused("credential id of another account", self.reg_finish(f, ceremony, cdj, att), (400, 401, 409))
        # Malformed envelopes.
        ceremony, pk = self.reg_begin(c)
        cdj, att, _ = SoftAuthenticator(ES256).registration(pk["challenge"], RP_ID, self.origin)
        self.refused("bad base64url", self.reg_finish(c, ceremony, None, None, raw={
            "ceremony": ceremony, "clientDataJSON": b64u(cdj), "attestationObject": "!!not base64!!"}),
            audited=False)
        ceremony, pk = self.reg_begin(c)
        cdj, _, _ = SoftAuthenticator(ES256).registration(pk["challenge"], RP_ID, self.origin)
        self.refused("oversized attestationObject", self.reg_finish(c, ceremony, None, None, raw={
            "ceremony": ceremony, "clientDataJSON": b64u(cdj), "attestationObject": BIG}), (400, 413))
        ceremony, _ = self.reg_begin(c)
        self.refused("missing fields", self.reg_finish(c, ceremony, None, None, raw={"ceremony": ceremony}),
                     audited=False)

    def hostile_assertions(self, es, ed):
        def attempt(what, key=es, allowed=(400, 401), mutate=None, challenge=None, ceremony=None, audited=True,
                    **kw):
            c = self.fresh_client()
            cer, chal = self.login_begin(c)
            opts = {"rp_id": RP_ID, "origin": self.origin}
            opts.update(kw)
            cdj, ad, sig = key.assertion(challenge or chal, opts.pop("rp_id"), opts.pop("origin"), **opts)
            fields = {"cdj": cdj, "ad": ad, "sig": sig, "cred_id": None, "user_handle": None}
            if mutate:
                mutate(fields)
            r = self.login_finish(c, ceremony or cer, key, fields["cdj"], fields["ad"], fields["sig"],
                                  fields["cred_id"], fields["user_handle"])
            self.refused(what, r, allowed, audited)
            self.assertIsNone(c.cookie, f"{what}: no session cookie")

        def put(**changes):
            return lambda f: f.update(changes)

        def change(name, fn):
            return lambda f: f.update({name: fn(f[name])})

        attempt("unknown credential id", mutate=put(cred_id=secrets.token_bytes(32)))
        attempt("truncated authenticatorData", mutate=change("ad", lambda ad: ad[:20]))
        # An empty field is an absent one: refused at the HTTP edge.
        attempt("empty authenticatorData", mutate=put(ad=b""), allowed=(400,), audited=False)
        attempt("wrong origin", origin="https://evil.example")
        attempt("wrong rpId hash", rp_id="evil.example")
        attempt("wrong type", kind="webauthn.create")
        attempt("challenge not issued by the server", challenge=b64u(secrets.token_bytes(32)))
        attempt("invented ceremony", ceremony=b64u(secrets.token_bytes(16)))
        attempt("flipped bit in authenticatorData (counter)", mutate=change("ad", lambda ad: flip_bit(ad, 36)))
        attempt("flipped bit in authenticatorData (rpIdHash)", mutate=change("ad", lambda ad: flip_bit(ad, 5)))
        attempt("flipped bit in the signature", mutate=change("sig", lambda s: flip_bit(s, len(s) - 1)))
        attempt("flipped bit in the Ed25519 signature", key=ed, mutate=change("sig", lambda s: flip_bit(s, 10)))
        attempt("flipped bit in the challenge of clientDataJSON",
                mutate=change("cdj", lambda d: flip_bit(d, d.index(b'"challenge": "') + 20)))
        attempt("signature not DER", mutate=put(sig=secrets.token_bytes(64)))
        attempt("empty signature", mutate=put(sig=b""), allowed=(400,), audited=False)
        attempt("signed by another key", mutate=lambda f: f.update(
            sig=SoftAuthenticator(ES256).sign(f["ad"] + hashlib.sha256(f["cdj"]).digest())))
        attempt("user verification flag cleared", flags=UP)
        attempt("user presence flag cleared", flags=UV)
        attempt("counter not increasing (equal)", counter=es.stored_counter)
        attempt("counter going back", counter=es.stored_counter - 1)
        attempt("userHandle of nobody", mutate=put(user_handle=b64u(secrets.token_bytes(16))))
        attempt("oversized signature", mutate=put(sig=b"\0" * (75 * 1024)), allowed=(400, 413))

        # Replay: the same finished login a second time.
        c = self.fresh_client()
        cer, chal = self.login_begin(c)
        cdj, ad, sig = es.assertion(chal, RP_ID, self.origin)
        self.assertEqual(self.login_finish(c, cer, es, cdj, ad, sig).status, 200)
        es.stored_counter = es.counter
        self.refused("replayed login ceremony", self.login_finish(self.fresh_client(), cer, es, cdj, ad, sig))
        # A registration ceremony is not a login ceremony.
        # c is signed in by the first of the two finishes above.
        r = c.request("POST", "/api/auth/passkey/register/begin", {})
        self.assertEqual(r.status, 200, r)
        reg = r.json()
        cdj, ad, sig = es.assertion(reg["publicKey"]["challenge"], RP_ID, self.origin)
        self.refused("registration ceremony used to sign in",
                     self.login_finish(self.fresh_client(), reg["ceremony"], es, cdj, ad, sig))
        # Oversized and malformed envelopes, each on a fresh ceremony.
        for what, body, allowed, audited in (
                ("oversized clientDataJSON", {"id": b64u(es.cred_id), "clientDataJSON": BIG,
                                              "authenticatorData": "AA", "signature": "AA",
                                              "userHandle": es.user_handle}, (400, 413), True),
                ("bad base64url", {"id": "!!!", "clientDataJSON": "%%%", "authenticatorData": "*",
                                   "signature": "~", "userHandle": "?"}, (400,), False),
                ("missing fields", {}, (400,), False),
                ("fields of the wrong JSON type", {"id": 7, "clientDataJSON": [], "authenticatorData": {},
                                                   "signature": None, "userHandle": True}, (400,), False)):
            c = self.fresh_client()
            cer, _ = self.login_begin(c)
            r = c.request("POST", "/api/auth/passkey/login/finish", {"ceremony": cer, **body}, cookie=False)
            self.refused(what, r, allowed, audited)
        r = self.fresh_client().request("POST", "/api/auth/passkey/login/finish", b"{not json", cookie=False,
                                        headers={"Content-Type": "application/json"})
        self.refused("body not JSON", r, (400,), audited=False)


if __name__ == "__main__":
    unittest.main()
