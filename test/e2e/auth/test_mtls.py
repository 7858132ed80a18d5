#!/usr/bin/env python3
"""Signing in with a client certificate (smart card) over mutual TLS
(docs/auth-api.md, POST /api/auth/certificate). A throwaway CA made with the
openssl command line issues three client certificates: one mapped to an
account, one mapped to an account and then revoked in the CRL, one mapped
to nobody; a second CA issues a certificate with the same subject as the
good one. The server runs with --client-ca and --client-crl:

- the good certificate gets a session for its account;
- the revoked one and the other CA's are refused (TLS handshake refused, or 401);
- a certificate of the right CA that no account holds gets 401;
- without a certificate /api/auth/certificate answers 401, while ordinary
  requests (health check, bearer-token FHIR) still work: the client
  certificate is optional at the TLS level;
- SIGHUP re-reads the CA and CRL files: an unreadable new CRL keeps the
  previous trust (one stderr line); a new CRL that revokes the good
  certificate makes new connections with it fail, while another account's
  certificate still signs in."""
import http.client
import os
import signal
import ssl
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authlib import AuthVault, Client, action, failed  # noqa: E402

CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {args[0]}: {p.stderr.strip()}")


class TestCa:
    """A CA in `directory` with the openssl command line (EC P-256)."""

    def __init__(self, directory, name):
        self.dir = os.path.join(directory, name)
        os.makedirs(self.dir)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", f"/CN=medvault test {name}",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                cwd=self.dir)
        with open(os.path.join(self.dir, "ext.cnf"), "w") as f:
            f.write(CLIENT_EXT)
        with open(os.path.join(self.dir, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = index.txt\ncrlnumber = crlnumber\n"
                    "default_md = sha256\ndefault_crl_days = 2\ncertificate = ca.pem\nprivate_key = ca.key\n")
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "crlnumber"), "w") as f:
            f.write("01\n")
        self.serial = 0x1000
        self.pem = os.path.join(self.dir, "ca.pem")

    def issue(self, name, cn):
        """(certificate path, key path) of a client certificate for `cn`."""
        self.serial += 1
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=self.dir)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-set_serial", str(self.serial), "-days", "2", "-out", f"{name}.pem", "-extfile", "ext.cnf",
                cwd=self.dir)
        return os.path.join(self.dir, f"{name}.pem"), os.path.join(self.dir, f"{name}.key")

    def revoke(self, cert):
        openssl("ca", "-config", "ca.cnf", "-revoke", cert, cwd=self.dir)

    def crl(self):
        openssl("ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem", cwd=self.dir)
        return os.path.join(self.dir, "crl.pem")


class MutualTls(unittest.TestCase):
    def test_client_certificates(self):
        vault = AuthVault()
        try:
            ca = TestCa(vault.tmp, "ca")
            rogue = TestCa(vault.tmp, "rogue-ca")
            good = ca.issue("good", "Dr Grace")
            revoked = ca.issue("revoked", "Dr Ron")
            stranger = ca.issue("stranger", "Dr Nobody")
            forged = rogue.issue("forged", "Dr Grace")
            other = ca.issue("other", "Dr Olga")
            for name in ("grace", "ron", "olga"):
                vault.add_account(name, "physician")
            vault.run("user", "cert-add", "grace", "--cert", good[0], "--data", vault.data)
            vault.run("user", "cert-add", "ron", "--cert", revoked[0], "--data", vault.data)
            vault.run("user", "cert-add", "olga", "--cert", other[0], "--data", vault.data)
            p = vault.run("user", "cert-add", "grace", "--cert", "/nonexistent.pem", "--data", vault.data, check=False)
            self.assertNotEqual(p.returncode, 0, "a missing certificate file is an error")
            ca.revoke(revoked[0])
            crl = ca.crl()
            token, _ = vault.token("grace")
            server = vault.serve("--client-ca", ca.pem, "--client-crl", crl)
            try:
                self.scenario(vault, server, token, good, revoked, stranger, forged)
                self.reload(server, ca, crl, good, other)
            finally:
                self.assertEqual(server.stop(), 0)
        finally:
            vault.close()

    def with_cert(self, server, cert):
        ctx = ssl.create_default_context(cafile=server.vault.cert)
        if cert:
            ctx.load_cert_chain(*cert)
        return Client(server, ssl_context=ctx)

    def cert_login(self, server, cert):
        """The answer to POST /api/auth/certificate, or None when the TLS
        layer refused the connection."""
        c = self.with_cert(server, cert)
        try:
            r = c.request("POST", "/api/auth/certificate", {}, cookie=False)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            return c, None
        if r.status == 200:
            c.csrf = r.json()["csrf"]
        return c, r

    def scenario(self, vault, server, token, good, revoked, stranger, forged):
        # Good certificate: a session for its account.
        c, r = self.cert_login(server, good)
        self.assertIsNotNone(r, "the good certificate's handshake succeeds")
        self.assertEqual(r.status, 200, r)
        s = r.json()
        self.assertEqual(s["user"], "grace")
        self.assertEqual(s["role"], "physician")
        self.assertIs(s["enrol_required"], False, "a smart card is possession plus PIN")
        self.assertTrue(c.cookie)
        self.assertEqual(c.session().json()["user"], "grace")
        self.assertEqual(c.request("GET", "/fhir/Patient").status, 200)
        self.assertEqual(c.logout().status, 204)

        # Revoked, and a look-alike from another CA: refused.
        for what, cert in (("revoked certificate", revoked), ("certificate of another CA", forged)):
            c, r = self.cert_login(server, cert)
            if r is not None:
                self.assertEqual(r.status, 401, f"{what}: {r}")
                self.assertIsNone(c.cookie)

        # The right CA, but no account holds it.
        before = vault.audit_size()
        c, r = self.cert_login(server, stranger)
        self.assertIsNotNone(r, "a valid certificate's handshake succeeds")
        self.assertEqual(r.status, 401, r)
        self.assertIsNone(c.cookie)
        events = vault.audit_events(before + 1)
        self.assertTrue([e for e in events if action(e).startswith("login") and failed(e)], "refusal audited")

        # No certificate: that endpoint refuses, the rest of the server works.
        c, r = self.cert_login(server, None)
        self.assertIsNotNone(r, "a client certificate is optional at the TLS level")
        self.assertEqual(r.status, 401, r)
        plain = self.with_cert(server, None)
        self.assertEqual(plain.request("GET", "/healthz").status, 200)
        self.assertEqual(plain.request("GET", "/fhir/Patient", token=token).status, 200)
        self.assertTrue(server.alive())

    def signed_in_as(self, server, cert):
        """The user a certificate signs in as, or None when refused."""
        c, r = self.cert_login(server, cert)
        return r.json()["user"] if r is not None and r.status == 200 else None

    def hup_and_wait(self, server, event):
        before = len(server.events(event))
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while len(server.events(event)) == before:
            self.assertLess(time.monotonic(), deadline, f"no {event} line after SIGHUP")
            self.assertTrue(server.alive(), "SIGHUP must not stop the server")
            time.sleep(0.05)
        return server.events(event)[-1]

    def reload(self, server, ca, crl, good, other):
        self.assertEqual(self.signed_in_as(server, good), "grace")
        # A broken CRL file: the previous trust stays, one clear line says why.
        with open(crl) as f:
            saved = f.read()
        with open(crl, "w") as f:
            f.write("-----BEGIN X509 CRL-----\nnot a CRL\n-----END X509 CRL-----\n")
        failure = self.hup_and_wait(server, "client-trust-reload-failed")
        self.assertIn("kept the previous", failure.get("detail", ""))
        self.assertEqual(self.signed_in_as(server, good), "grace", "the old CRL still applies")
        with open(crl, "w") as f:
            f.write(saved)

        # The good card is revoked: a new CRL over the same file, then SIGHUP.
        ca.revoke(good[0])
        self.assertEqual(ca.crl(), crl)
        self.hup_and_wait(server, "client-trust-reloaded")
        self.assertIsNone(self.signed_in_as(server, good), "revoked after the reload")
        self.assertEqual(self.signed_in_as(server, other), "olga", "another certificate still accepted")
        self.assertTrue(server.alive())


if __name__ == "__main__":
    unittest.main()
