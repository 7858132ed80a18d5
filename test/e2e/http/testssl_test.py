#!/usr/bin/env python3
"""testssl.sh (Debian package) against a running server: no finding of
severity MEDIUM or above, only TLS 1.2 and 1.3 offered, the self-signed
demo certificate trusted when given as the CA (--add-ca), forward secrecy.
A full default scan: several minutes."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from medvault_e2e import Vault  # noqa: E402

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
SEVERE = {"MEDIUM", "HIGH", "CRITICAL", "FATAL"}


@unittest.skipUnless(TESTSSL, "testssl.sh not installed (scripts/setup.sh installs it)")
class TestSslTest(unittest.TestCase):
    def test_no_medium_or_worse_findings(self):
        vault = Vault()
        server = vault.serve()
        try:
            out = os.path.join(tempfile.mkdtemp(prefix="mv-testssl-"), "testssl.json")
            p = subprocess.run([TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--add-ca", vault.cert,
                                "--ip", "127.0.0.1", "--jsonfile", out, f"localhost:{server.port}"],
                               capture_output=True, text=True, timeout=1800)
            self.assertTrue(os.path.exists(out), p.stdout[-3000:] + p.stderr[-3000:])
            findings = json.load(open(out))
            shutil.rmtree(os.path.dirname(out), ignore_errors=True)
            by_id = {f["id"]: f for f in findings}
            severe = [f"{f['id']} {f['severity']}: {f['finding']}" for f in findings if f["severity"] in SEVERE]
            self.assertEqual(severe, [], "\n".join(severe))
            for proto in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"]:
                self.assertIn("not offered", by_id[proto]["finding"], proto)
            for proto in ["TLS1_2", "TLS1_3"]:
                self.assertTrue(by_id[proto]["finding"].startswith("offered"), by_id[proto])
            self.assertEqual(by_id["cert_chain_of_trust"]["severity"], "OK", by_id["cert_chain_of_trust"])
            self.assertEqual(by_id["cipher_order"]["severity"], "OK")
            self.assertEqual(by_id["PFS"]["severity"], "OK", by_id["PFS"])
            self.assertEqual(by_id["HSTS_time"]["severity"], "OK", by_id["HSTS_time"])
            self.assertTrue(server.alive())
        finally:
            self.assertEqual(server.stop(), 0)
            vault.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
