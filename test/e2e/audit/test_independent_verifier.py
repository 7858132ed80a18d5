"""Audit log, shown 3: the independent Python verifier (written from RFC 9162
and the C2SP texts, test/audit_verifier/verify.py) checks a checkpoint
signature, an inclusion proof and a consistency proof produced by the
medvault command line, with roots taken from the signed checkpoints; altered
proofs and notes are refused."""
import json
import os
import subprocess
import sys
import unittest

from auditlib import SYNTHEA10, VERIFIER, Vault, auditfiles


def pyverify(*args):
    return subprocess.run([sys.executable, str(VERIFIER), *map(str, args)], capture_output=True, text=True)


class IndependentVerifier(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = Vault()
        cls.v.import_files(SYNTHEA10 / "Patient.000.ndjson")
        cls.cp1, cls.vkey = cls.checkpoint("cp1.note")
        cls.v.import_files(SYNTHEA10 / "AllergyIntolerance.000.ndjson")
        cls.cp2, _ = cls.checkpoint("cp2.note")

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    @classmethod
    def checkpoint(cls, name):
        path = os.path.join(cls.v.tmp, name)
        p = cls.v.run("audit", "checkpoint", "--data", cls.v.data, "--out", path, "--vkey")
        return path, p.stdout.strip()

    def checked(self, note):
        p = pyverify("checkpoint", note, self.vkey)
        self.assertEqual(p.returncode, 0, p.stderr)
        fields = dict(line.split(" ", 1) for line in p.stdout.splitlines())
        return int(fields["size"]), fields["root"], fields["origin"]

    def prove(self, *args):
        p = self.v.run("audit", "prove", "--data", self.v.data, *map(str, args))
        return json.loads(p.stdout)

    def test_checkpoint_signature(self):
        size, _root, origin = self.checked(self.cp1)
        self.assertTrue(origin.startswith("medvault.local/"))
        self.assertTrue(self.vkey.startswith(origin + "+"))
        self.assertGreater(size, 10)
        # One altered byte of the root line: refused.
        with open(self.cp1) as f:
            lines = f.read().split("\n")
        lines[2] = ("A" if lines[2][0] != "A" else "B") + lines[2][1:]
        bad = os.path.join(self.v.tmp, "bad.note")
        with open(bad, "w") as f:
            f.write("\n".join(lines))
        p = pyverify("checkpoint", bad, self.vkey)
        self.assertEqual(p.returncode, 1)
        self.assertIn("invalid", p.stderr)

    def test_inclusion_proofs_against_signed_checkpoints(self):
        size, root, _ = self.checked(self.cp2)
        stored = auditfiles.rows(self.v.data)
        for seq in (1, 2, size // 2, size - 1, size):
            proof = self.prove("--entry", seq, "--size", size)
            self.assertEqual(proof["leaf_index"], seq - 1)
            self.assertEqual(proof["tree_size"], size)
            self.assertEqual(proof["root_b64"], root)
            entry = stored[seq - 1]["entry"]
            path = ",".join(proof["inclusion_path"])
            # From the entry bytes themselves, and from medvault's leaf hash.
            p = pyverify("inclusion", "--leaf-data-hex", bytes(entry).hex(), "--index", seq - 1,
                         "--size", size, "--root-b64", root, "--proof-hex", path)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = pyverify("inclusion", "--leaf-hex", proof["leaf_hash"], "--index", seq - 1,
                         "--size", size, "--root-b64", root, "--proof-hex", path)
            self.assertEqual(p.returncode, 0, p.stderr)
            if proof["inclusion_path"]:
                bad = list(proof["inclusion_path"])
                bad[0] = ("0" if bad[0][0] != "0" else "1") + bad[0][1:]
                p = pyverify("inclusion", "--leaf-hex", proof["leaf_hash"], "--index", seq - 1,
                             "--size", size, "--root-b64", root, "--proof-hex", ",".join(bad))
                self.assertEqual(p.returncode, 1, p.stdout)

    def test_consistency_proof_between_signed_checkpoints(self):
        old, old_root, _ = self.checked(self.cp1)
        new, new_root, _ = self.checked(self.cp2)
        self.assertLess(old, new)
        proof = self.prove("--consistency", old, "--size", new)
        self.assertEqual(proof["old_root_b64"], old_root)
        self.assertEqual(proof["root_b64"], new_root)
        path = ",".join(proof["consistency_path"])
        p = pyverify("consistency", "--old-size", old, "--old-root-b64", old_root,
                     "--new-size", new, "--new-root-b64", new_root, "--proof-hex", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        # The same proof does not make another old root consistent.
        p = pyverify("consistency", "--old-size", old, "--old-root-b64", new_root,
                     "--new-size", new, "--new-root-b64", new_root, "--proof-hex", path)
        self.assertEqual(p.returncode, 1, p.stdout)

    def test_out_of_range_requests_are_clear_errors(self):
        for args in (("--entry", 0), ("--entry", 10**9), ("--consistency", 10**9),
                     ("--entry", 1, "--size", 10**9)):
            p = self.v.run("audit", "prove", "--data", self.v.data, *map(str, args), check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    unittest.main()
