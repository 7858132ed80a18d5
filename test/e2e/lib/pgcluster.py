"""Throwaway PostgreSQL 15 clusters for the end-to-end tests (standard library
only): a primary, optionally a streaming replica that the primary's commits
wait for, an immediate crash of the primary and promotion of the replica.

    from pgcluster import PgCluster
    pg = PgCluster(tmpdir)
    primary = pg.start_primary(sync_replica=True)   # conninfo string
    pg.start_replica()                              # commits now wait for it
    ...                                             # medvault --store <conninfo>
    pg.stop_primary_immediate()                     # a crash, no shutdown checkpoint
    new_primary = pg.promote_replica()
    pg.stop_all()

Servers listen on free 127.0.0.1 ports with their unix sockets in `tmpdir`,
trust authentication on loopback, fsync on. PostgreSQL refuses to run as
root: when the tests run as root, every server program runs as the
`postgres` system user (created by the postgresql-15 package) and `tmpdir`
is handed to it. `pg.failover_conninfo()` lists both servers with
target_session_attrs=read-write, as a practice's nodes would be configured.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
REPLICA_NAME = "replica1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self, tmpdir):
        self.tmp = Path(tmpdir)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")  # KeyError: install postgresql-15
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
        self.primary_dir = self.tmp / "primary"
        self.replica_dir = self.tmp / "replica"
        self.primary_port = None
        self.replica_port = None
        self.sync_replica = False
        self.running = set()  # data dirs of started servers

    # -- running programs --------------------------------------------------

    def _run(self, *argv, check=True, timeout=120):
        kw = {}
        if self.as_postgres:
            kw = dict(user="postgres", group="postgres", extra_groups=[])
        p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                           timeout=timeout, cwd=self.tmp, **kw)
        if check and p.returncode != 0:
            raise RuntimeError(f"{Path(str(argv[0])).name} failed ({p.returncode}): "
                               f"{(p.stderr or p.stdout).strip()[-2000:]}")
        return p

    def psql(self, port, sql, db="postgres"):
        """Runs SQL as the superuser; returns the unaligned output."""
        return self._run(BIN / "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                         "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", db,
                         "-c", sql).stdout.strip()

    def conninfo(self, port, db="postgres"):
        return f"host=127.0.0.1 port={port} user=postgres dbname={db}"

    def _configure(self, data_dir, port):
        with open(data_dir / "postgresql.auto.conf", "a") as f:
            f.write(f"port = {port}\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.tmp}'\n"
                    "fsync = on\n"
                    "shared_buffers = '16MB'\n")

    def _start(self, data_dir):
        self._run(BIN / "pg_ctl", "start", "-w", "-t", "60", "-D", data_dir,
                  "-l", data_dir.with_suffix(".log"))
        self.running.add(data_dir)

    def _wait(self, what, fn, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if fn():
                    return
            except RuntimeError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")

    # -- the API ------------------------------------------------------------

    def start_primary(self, sync_replica=False):
        """initdb and start the primary; returns its conninfo. With
        sync_replica, start_replica() makes every later commit wait until the
        replica has it (synchronous_commit=on, synchronous_standby_names)."""
        self.sync_replica = sync_replica
        self._run(BIN / "initdb", "-D", self.primary_dir, "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        self.primary_port = free_port()
        self._configure(self.primary_dir, self.primary_port)
        with open(self.primary_dir / "postgresql.auto.conf", "a") as f:
            f.write("wal_level = replica\nmax_wal_senders = 5\nsynchronous_commit = on\n")
        self._start(self.primary_dir)
        return self.conninfo(self.primary_port)

    def start_replica(self):
        """pg_basebackup -R of the primary into a second dir, started as a
        streaming standby; returns its conninfo (read-only until promoted)."""
        self._run(BIN / "pg_basebackup", "-D", self.replica_dir, "-h", "127.0.0.1",
                  "-p", self.primary_port, "-U", "postgres", "-R", "-X", "stream",
                  "--checkpoint=fast", timeout=300)
        self.replica_port = free_port()
        self._configure(self.replica_dir, self.replica_port)
        with open(self.replica_dir / "postgresql.auto.conf", "a") as f:
            # Later lines win over the one pg_basebackup -R wrote: the same
            # primary, under a name synchronous_standby_names can refer to.
            # The promoted replica must not wait for a standby of its own.
            f.write(f"primary_conninfo = 'host=127.0.0.1 port={self.primary_port} "
                    f"user=postgres application_name={REPLICA_NAME}'\n"
                    "synchronous_standby_names = ''\n")
        self._start(self.replica_dir)
        self._wait("the replica to stream", lambda: self.psql(
            self.primary_port, "SELECT state FROM pg_stat_replication "
            f"WHERE application_name='{REPLICA_NAME}'") == "streaming")
        if self.sync_replica:
            self.psql(self.primary_port,
                      f"ALTER SYSTEM SET synchronous_standby_names = '{REPLICA_NAME}'")
            self.psql(self.primary_port, "SELECT pg_reload_conf()")
            self._wait("the replica to be synchronous", lambda: self.psql(
                self.primary_port, "SELECT sync_state FROM pg_stat_replication "
                f"WHERE application_name='{REPLICA_NAME}'") == "sync")
        return self.conninfo(self.replica_port)

    def stop_primary_immediate(self):
        """Stops the primary without a shutdown checkpoint (as a crash)."""
        self._run(BIN / "pg_ctl", "stop", "-m", "immediate", "-w", "-D", self.primary_dir)
        self.running.discard(self.primary_dir)

    def promote_replica(self):
        """Promotes the replica; returns its conninfo once it accepts writes."""
        self._run(BIN / "pg_ctl", "promote", "-w", "-t", "60", "-D", self.replica_dir)
        self._wait("the promoted replica to accept writes", lambda: self.psql(
            self.replica_port, "SELECT pg_is_in_recovery()") == "f")
        return self.conninfo(self.replica_port)

    def failover_conninfo(self, db="postgres"):
        """Both servers; libpq connects to whichever accepts writes."""
        ports = [p for p in (self.primary_port, self.replica_port) if p]
        return (f"host={','.join('127.0.0.1' for _ in ports)} "
                f"port={','.join(map(str, ports))} user=postgres dbname={db} "
                "target_session_attrs=read-write connect_timeout=5")

    def create_database(self, name, port=None):
        """CREATE DATABASE on the primary (or `port`); returns its conninfo."""
        port = port or self.primary_port
        self.psql(port, f'CREATE DATABASE "{name}"')
        return self.conninfo(port, name)

    def stop_all(self):
        for d in list(self.running):
            p = self._run(BIN / "pg_ctl", "stop", "-m", "fast", "-w", "-t", "60", "-D", d,
                          check=False)
            if p.returncode != 0:
                self._run(BIN / "pg_ctl", "stop", "-m", "immediate", "-w", "-D", d, check=False)
            self.running.discard(d)

    def data_dirs(self):
        """The servers' data directories (to grep their files for plaintext)."""
        return [d for d in (self.primary_dir, self.replica_dir) if d.exists()]


if __name__ == "__main__":
    # A by-hand check: replicate a row synchronously, crash the primary,
    # promote the replica, find the row and write on the new primary.
    tmp = tempfile.mkdtemp(prefix="mv-pgcluster-")
    pg = PgCluster(tmp)
    try:
        pg.start_primary(sync_replica=True)
        replica = pg.start_replica()
        pg.psql(pg.primary_port, "CREATE TABLE t (v text); INSERT INTO t VALUES ('committed')")
        # A synchronous commit is flushed on the replica when it returns
        # (synchronous_commit=on); it is visible there once replayed.
        pg._wait("the row on the replica",
                 lambda: pg.psql(pg.replica_port, "SELECT v FROM t") == "committed", timeout=10)
        assert pg.psql(pg.replica_port, "SELECT pg_is_in_recovery()") == "t"
        pg.stop_primary_immediate()
        new_primary = pg.promote_replica()
        assert new_primary == replica
        pg.psql(pg.replica_port, "INSERT INTO t VALUES ('after failover')")
        assert pg.psql(pg.replica_port, "SELECT count(*) FROM t") == "2"
        print("failover conninfo:", pg.failover_conninfo())
        print("data dirs:", *pg.data_dirs())
        print("pgcluster: ok")
    finally:
        pg.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
