"""Shared pieces of the PostgreSQL black-box tests: a throwaway cluster
(test/e2e/lib/pgcluster.py) holding a vault, medvault nodes on it (each
`medvault serve --store URL --data NODEDIR`, its own node dir and port); every
medvault command runs with a timeout, so no test hangs."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE.parent / "http"))
sys.path.insert(0, str(HERE.parent / "vault"))
from pgcluster import PgCluster  # noqa: E402,F401
from medvault_e2e import SHARED, Server, medvault_bin  # noqa: E402,F401

PASSPHRASE = "correct horse battery staple e2e pg"
SYNTHEA10 = SHARED / "data" / "synthea-10"


def synthea_files():
    """The FHIR NDJSON files of the sample: names that start with a resource
    type (upper case), not log.ndjson and the like."""
    return sorted(str(p) for p in SYNTHEA10.glob("*.ndjson") if p.name[:1].isupper())


def url_of(port):
    return "postgresql://postgres@127.0.0.1:%d/postgres" % port


class PgTest:
    """A temp dir readable by the postgres user, a PgCluster in it, and the
    medvault environment. close() stops every server and the cluster."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mv-e2e-pg-")
        os.chmod(self.tmp, 0o755)
        self.pg = PgCluster(os.path.join(self.tmp, "pg"))
        self.env = dict(os.environ, MEDVAULT_PASSPHRASE=PASSPHRASE, MEDVAULT_TEST_FAST_KDF="1")
        self.servers = []

    def run(self, *args, check=True, timeout=300, env=None):
        p = subprocess.run([medvault_bin(), *map(str, args)], env=env or self.env,
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"medvault {' '.join(map(str, args[:2]))} failed ({p.returncode}): "
                               f"{p.stderr.strip()[-2000:]}")
        return p

    def node_dir(self, name):
        return os.path.join(self.tmp, name)

    def token(self, user, *where, ttl="1h"):
        """Issues a token for user in the vault given by `where` ("--store",
        URL or "--data", DIR); returns (token, token_id)."""
        p = self.run("token", "issue", *where, "--user", user, "--ttl", ttl)
        m = re.search(r"token id (\S+)", p.stderr)
        return p.stdout.strip(), (m.group(1) if m else None)

    def serve(self, node_dir, *extra):
        """`medvault serve --data node_dir *extra` on 127.0.0.1:0 (extra:
        "--store", URL for a node of a PostgreSQL vault); the client trusts
        node_dir/tls/cert.pem."""
        class NodeVault:  # what medvault_e2e.Server reads from a vault
            pass
        nv = NodeVault()
        nv.data, nv.env = node_dir, self.env
        nv.cert = os.path.join(node_dir, "tls", "cert.pem")
        s = Server(nv, extra)
        self.servers.append(s)
        return s

    def close(self):
        for s in self.servers:
            if s.alive():
                s.proc.kill()
                s.proc.wait()
        self.pg.stop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)
