"""Backups, shown 2: a real OpenSSH server (Debian's sshd) on loopback, keys
in the temp dir, receives the backup over SFTP; the primary data directory is
deleted; a restore from SFTP with 2 of the 3 shares gives an identical export.
An unknown host key is refused."""
import os
import shutil
import socket
import subprocess
import time
import unittest

from backuplib import KitVault


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sftp(unittest.TestCase):
    def setUp(self):
        self.v = KitVault()
        d = self.d = os.path.join(self.v.tmp, "ssh")
        os.makedirs(d)
        os.makedirs("/run/sshd", exist_ok=True)
        for k in ("host", "user"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(d, k)], check=True)
        shutil.copy(os.path.join(d, "user.pub"), os.path.join(d, "authorized_keys"))
        self.port = free_port()
        self.store = os.path.join(d, "store")
        os.makedirs(self.store)
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {d}/host
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
""")
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", os.path.join(d, "sshd_config")],
                                     stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        with open(os.path.join(d, "host.pub")) as f:
            key = f.read().split()
        self.known = os.path.join(d, "known_hosts")
        with open(self.known, "w") as f:
            f.write(f"[127.0.0.1]:{self.port} {key[0]} {key[1]}\n")
        import getpass
        self.url = f"sftp://{getpass.getuser()}@127.0.0.1:{self.port}/{self.store}"
        self.ssh = ["--ssh-key", os.path.join(d, "user"), "--known-hosts", self.known]

    def tearDown(self):
        self.sshd.terminate()
        self.sshd.wait(10)
        self.v.close()

    def test_offsite_restore_after_losing_the_data_directory(self):
        v = self.v
        before = v.export()
        v.run("backup", "create", "--data", v.data, "--to", self.url, *self.ssh)
        self.assertTrue(os.listdir(os.path.join(self.store, "manifests")))
        v.run("backup", "verify", "--from", self.url, *self.ssh, "--share", v.share(1), "--share", v.share(3))
        shutil.rmtree(v.data)
        self.assertFalse(os.path.exists(v.data))
        v.run("backup", "restore", "--from", self.url, *self.ssh, "--data", v.data,
              "--share", v.share(1), "--share", v.share(3))
        v.run("audit", "verify", "--data", v.data)
        self.assertEqual(v.export(), before)

    def test_unknown_host_key_is_refused(self):
        with open(self.known, "w") as f:
            f.write("")
        p = self.v.run("backup", "create", "--data", self.v.data, "--to", self.url, *self.ssh, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("host key", p.stderr)


if __name__ == "__main__":
    unittest.main()
