"""Vault core, shown 5: `kill -9` during an import, 20 times: the store
reopens, its integrity check passes (engine, audit chain, every record
decrypts), and no partially written resource is readable: every exported
resource equals its source line."""
import json
import os
import random
import signal
import subprocess
import time
import unittest

from vaultlib import Vault, medvault_bin


def strip_meta(r):
    r = dict(r)
    meta = dict(r.get("meta", {}))
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        r["meta"] = meta
    else:
        r.pop("meta", None)
    return r


class KillDuringImport(unittest.TestCase):
    def test_kill_9_twenty_times(self):
        v = Vault()
        try:
            src = os.path.join(v.tmp, "demo.ndjson")
            text = v.run("demo-data", "--patients", "60", "--seed", "11").stdout
            with open(src, "w") as f:
                f.write(text)
            source = {}
            for line in text.splitlines():
                r = json.loads(line)
                source[(r["resourceType"], r["id"])] = r
            # Calibrate on this machine: how long does a whole import take
            # (unseal included)? The kills then land anywhere inside it.
            scratch = Vault()
            try:
                t0 = time.monotonic()
                scratch.run("import", "--data", scratch.data, src)
                full = time.monotonic() - t0
            finally:
                scratch.close()
            rnd = random.Random(20)
            killed = 0
            for round_ in range(20):
                p = subprocess.Popen([medvault_bin(), "import", "--data", v.data, src], env=v.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                # Re-imports into a vault that already holds the data run at
                # their own speed: when one ends before its kill, the next
                # kills aim at the duration it took.
                t0 = time.monotonic()
                deadline = t0 + rnd.uniform(0.3, 0.95) * full
                while time.monotonic() < deadline and p.poll() is None:
                    time.sleep(0.005)
                if p.poll() is None:
                    os.kill(p.pid, signal.SIGKILL)
                    killed += 1
                else:
                    full = time.monotonic() - t0
                p.wait()
                c = v.run("check", "--data", v.data, check=False)
                self.assertEqual(c.returncode, 0, f"round {round_}: {c.stderr}")
            self.assertGreaterEqual(killed, 10, "the import finished before most kills: test too weak")
            out = v.run("export", "--data", v.data).stdout
            seen = 0
            for line in out.splitlines():
                r = json.loads(line)
                self.assertEqual(strip_meta(r), strip_meta(source[(r["resourceType"], r["id"])]))
                seen += 1
            self.assertGreater(seen, 0)
            v.run("audit", "verify", "--data", v.data)
        finally:
            v.close()


if __name__ == "__main__":
    unittest.main()
