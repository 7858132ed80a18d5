"""Vault core, shown 3: wrong passphrase, truncated or corrupt seal file,
wrong key file, wrong or too few Shamir shares: non-zero exit, one clear
line, nothing modified. Any k of n shares unseal."""
import hashlib
import itertools
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from vaultlib import SYNTHEA10, medvault_bin

PASS = "a long and correct passphrase 42"


def snapshot(directory):
    out = {}
    for root, _dirs, files in os.walk(directory):
        for f in files:
            p = os.path.join(root, f)
            st = os.stat(p)
            out[os.path.relpath(p, directory)] = (hashlib.sha256(Path(p).read_bytes()).hexdigest(),
                                                  st.st_mtime_ns)
    return out


class Unseal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mv-unseal-")
        cls.data = os.path.join(cls.tmp, "vault")
        cls.kit = os.path.join(cls.tmp, "kit")
        cls.keyfile = os.path.join(cls.tmp, "keyfile")
        with open(cls.keyfile, "wb") as f:
            f.write(os.urandom(64))
        cls.env = dict(os.environ, MEDVAULT_PASSPHRASE=PASS, MEDVAULT_TEST_FAST_KDF="1")
        cls.mv("init", "--data", cls.data, "--shares", "5", "--threshold", "3", "--kit", cls.kit,
               "--key-file", cls.keyfile, check=True)
        cls.mv("import", "--data", cls.data, str(SYNTHEA10 / "Patient.000.ndjson"), check=True)
        # A second vault, for shares that belong elsewhere.
        cls.other = os.path.join(cls.tmp, "other")
        cls.other_kit = os.path.join(cls.tmp, "other-kit")
        cls.mv("init", "--data", cls.other, "--shares", "5", "--threshold", "3", "--kit", cls.other_kit,
               check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def mv(cls, *args, env=None, check=False):
        e = dict(cls.env)
        if env is not None:
            e = dict(os.environ, MEDVAULT_TEST_FAST_KDF="1", **env)
            e.pop("MEDVAULT_PASSPHRASE", None) if "MEDVAULT_PASSPHRASE" not in env else None
        p = subprocess.run([medvault_bin(), *args], env=e, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(p.stderr)
        return p

    def share(self, n, kit=None):
        return os.path.join(kit or self.kit, f"share-{n}.txt")

    def assert_refused(self, p, words):
        self.assertNotEqual(p.returncode, 0)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("medvault: "), lines[0])
        self.assertTrue(any(w in lines[0] for w in words), lines[0])
        self.assertNotIn(PASS, p.stderr)

    def test_wrong_passphrase_changes_nothing(self):
        before = snapshot(self.data)
        p = self.mv("status", "--data", self.data, env={"MEDVAULT_PASSPHRASE": "not the passphrase"})
        self.assert_refused(p, ["wrong passphrase"])
        self.assertEqual(p.returncode, 7)
        self.assertEqual(snapshot(self.data), before)

    def test_no_secret_and_no_terminal(self):
        p = self.mv("status", "--data", self.data, env={})
        self.assert_refused(p, ["passphrase"])

    def test_passphrase_file(self):
        pf = os.path.join(self.tmp, "pass.txt")
        with open(pf, "w") as f:
            f.write(PASS + "\n")
        p = self.mv("status", "--data", self.data, "--passphrase-file", pf, env={})
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_truncated_and_corrupt_seal(self):
        seal = os.path.join(self.data, "master.seal")
        original = Path(seal).read_bytes()
        try:
            cuts = sorted(set([0, 1, 2, 10, len(original) // 2, len(original) - 2, len(original) - 1]))
            variants = [original[:n] for n in cuts]
            variants += [original.replace(b'"', b"'", 1), original[:40] + b"\xff\xfe" + original[42:],
                         b"\0" * len(original), original + b"garbage"]
            # Flip one byte inside each base64 field's middle.
            mid = len(original) // 2
            variants.append(original[:mid] + bytes([original[mid] ^ 0x01]) + original[mid + 1:])
            for bad in variants:
                with open(seal, "wb") as f:
                    f.write(bad)
                before = snapshot(self.data)
                p = self.mv("status", "--data", self.data)
                self.assert_refused(p, ["seal", "passphrase", "corrupt", "truncated"])
                self.assertEqual(snapshot(self.data), before)
        finally:
            with open(seal, "wb") as f:
                f.write(original)
        self.assertEqual(self.mv("status", "--data", self.data).returncode, 0)

    def test_key_file(self):
        p = self.mv("status", "--data", self.data, "--key-file", self.keyfile, env={})
        self.assertEqual(p.returncode, 0, p.stderr)
        wrong = os.path.join(self.tmp, "wrong-key")
        with open(wrong, "wb") as f:
            f.write(os.urandom(64))
        before = snapshot(self.data)
        self.assert_refused(self.mv("status", "--data", self.data, "--key-file", wrong, env={}),
                            ["wrong key file"])
        self.assertEqual(snapshot(self.data), before)

    def test_any_k_shares_unseal_and_k_minus_1_do_not(self):
        for combo in itertools.combinations(range(1, 6), 3):
            args = [a for n in combo for a in ("--share", self.share(n))]
            p = self.mv("status", "--data", self.data, *args, env={})
            self.assertEqual(p.returncode, 0, f"{combo}: {p.stderr}")
        before = snapshot(self.data)
        for combo in itertools.combinations(range(1, 6), 2):
            args = [a for n in combo for a in ("--share", self.share(n))]
            self.assert_refused(self.mv("status", "--data", self.data, *args, env={}),
                                ["need 3 shares"])
        # The same share twice counts once.
        args = ["--share", self.share(1), "--share", self.share(1), "--share", self.share(2)]
        self.assert_refused(self.mv("status", "--data", self.data, *args, env={}), ["need 3 shares"])
        self.assertEqual(snapshot(self.data), before)

    def test_wrong_shares(self):
        before = snapshot(self.data)
        args = [a for n in (1, 2, 3) for a in ("--share", self.share(n, self.other_kit))]
        self.assert_refused(self.mv("status", "--data", self.data, *args, env={}),
                            ["another vault", "do not unseal"])
        # A damaged share (a typing error) is caught by its checksum.
        bad = os.path.join(self.tmp, "bad-share.txt")
        text = Path(self.share(3)).read_text().strip()
        i = text.rindex(":") - 5
        text = text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]
        with open(bad, "w") as f:
            f.write(text + "\n")
        args = ["--share", self.share(1), "--share", self.share(2), "--share", bad]
        self.assert_refused(self.mv("status", "--data", self.data, *args, env={}),
                            ["damaged", "checksum", "do not unseal"])
        self.assertEqual(snapshot(self.data), before)

    def test_recovery_kit_document(self):
        doc = Path(self.kit, "RECOVERY-KIT.txt").read_text()
        self.assertIn("Any 3", doc)
        self.assertIn("3 parts", doc)
        for n in range(1, 6):
            self.assertEqual(os.stat(self.share(n)).st_mode & 0o077, 0)

    def test_passphrase_change(self):
        tmp = tempfile.mkdtemp(prefix="mv-pass-")
        try:
            data = os.path.join(tmp, "v")
            self.mv("init", "--data", data, check=True)
            p = self.mv("key", "passphrase", "--data", data,
                        env={"MEDVAULT_PASSPHRASE": PASS, "MEDVAULT_NEW_PASSPHRASE": "the new passphrase 77"})
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assert_refused(self.mv("status", "--data", data), ["wrong passphrase"])
            p = self.mv("status", "--data", data, env={"MEDVAULT_PASSPHRASE": "the new passphrase 77"})
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
