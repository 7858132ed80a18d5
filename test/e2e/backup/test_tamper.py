"""Backups, shown 3: a flipped byte in a chunk or in a manifest, a deleted
chunk, an older manifest put back in place of the newest: `backup verify`
fails (non-zero exit) and names each; a deleted newest manifest is caught
with the vault's own record (--data)."""
import os
import shutil
import unittest

from backuplib import KitVault


class Tamper(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = KitVault(synthea=False)
        cls.clean = os.path.join(cls.v.tmp, "clean")
        cls.v.run("backup", "create", "--data", cls.v.data, "--to", cls.clean)
        cls.v.import_files(os.path.join(cls.v.tmp, "markers.ndjson"))
        cls.v.run("user", "add", "someone", "--role", "nurse", "--data", cls.v.data)
        cls.v.run("backup", "create", "--data", cls.v.data, "--to", cls.clean)
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def copy(self):
        Tamper.n += 1
        d = os.path.join(self.v.tmp, f"t{self.n}")
        shutil.copytree(self.clean, d)
        return d

    def verify(self, repo, *extra):
        p = self.v.run("backup", "verify", "--from", repo, *extra, check=False)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        return p.stderr

    def chunks(self, repo):
        out = []
        for root, _d, files in os.walk(os.path.join(repo, "chunks")):
            out += [os.path.join(root, f) for f in files]
        return sorted(out)

    def test_clean_verifies(self):
        self.v.run("backup", "verify", "--from", self.clean, "--share", self.v.share(1), "--share", self.v.share(2))

    def test_flipped_byte_in_every_chunk_is_named(self):
        for path in self.chunks(self.clean):
            repo = self.copy()
            target = os.path.join(repo, os.path.relpath(path, self.clean))
            with open(target, "r+b") as f:
                data = bytearray(f.read())
                data[len(data) // 2] ^= 0x40
                f.seek(0)
                f.write(data)
            err = self.verify(repo)
            self.assertIn("chunk " + os.path.basename(path), err)
            self.assertIn("damaged", err)
            shutil.rmtree(repo)

    def test_deleted_chunk_is_named(self):
        repo = self.copy()
        victim = self.chunks(repo)[0]
        os.remove(victim)
        err = self.verify(repo)
        self.assertIn("chunk " + os.path.basename(victim), err)
        self.assertIn("missing", err)

    def test_flipped_byte_in_each_manifest_is_named(self):
        for seq in ("0000000001", "0000000002"):
            repo = self.copy()
            path = os.path.join(repo, "manifests", seq)
            with open(path, "r+b") as f:
                data = bytearray(f.read())
                data[40] ^= 0x01
                f.seek(0)
                f.write(data)
            err = self.verify(repo)
            self.assertIn("manifest manifests/" + seq, err)

    def test_older_manifest_put_back_is_named(self):
        repo = self.copy()
        shutil.copy(os.path.join(repo, "manifests", "0000000001"), os.path.join(repo, "manifests", "0000000002"))
        err = self.verify(repo)
        self.assertIn("manifests/0000000002 holds manifest 1", err)

    def test_deleted_newest_manifest_is_caught_by_the_vault_record(self):
        repo = self.copy()
        os.remove(os.path.join(repo, "manifests", "0000000002"))
        self.v.run("backup", "verify", "--from", repo)  # the target alone cannot tell
        err = self.verify(repo, "--data", self.v.data)
        self.assertIn("manifests/0000000002", err)
        self.assertIn("rolled back", err)


if __name__ == "__main__":
    unittest.main()
