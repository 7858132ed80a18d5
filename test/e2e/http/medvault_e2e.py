"""Helpers for the black-box HTTP tests: a throw-away vault in a temp dir,
accounts and tokens through the `medvault` command line, the server started
on port 0 (the port read from its first {"event":"listening"} stderr line),
and an HTTPS client that trusts only the vault's own certificate.

The binary comes from $MEDVAULT_BIN, else build/src/cli/medvault.
"""
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("MEDVAULT_SHARED", REPO.parent / "shared"))


def medvault_bin():
    path = os.environ.get("MEDVAULT_BIN") or str(REPO / "build" / "src" / "cli" / "medvault")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"medvault binary not found at {path} (set MEDVAULT_BIN)")
    return path


class Vault:
    """A new vault in a temporary directory (or in `root`, which close()
    empties but leaves); remove with close()."""

    def __init__(self, root=None):
        self.tmp = root or tempfile.mkdtemp(prefix="mv-e2e-http-")
        self.data = os.path.join(self.tmp, "vault")
        self.env = dict(os.environ, MEDVAULT_PASSPHRASE="correct horse battery staple e2e",
                        MEDVAULT_TEST_FAST_KDF="1")
        self.run("init", "--data", self.data)
        self.cert = os.path.join(self.data, "tls", "cert.pem")

    def run(self, *args, check=True, timeout=600):
        p = subprocess.run([medvault_bin(), *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"medvault {args[0]} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def add_user(self, name, role):
        self.run("user", "add", name, "--role", role, "--data", self.data)

    def token(self, user, ttl="1h"):
        """Returns (token, token_id)."""
        p = self.run("token", "issue", "--data", self.data, "--user", user, "--ttl", ttl)
        m = re.search(r"token id (\S+)", p.stderr)
        return p.stdout.strip(), (m.group(1) if m else None)

    def import_files(self, *files):
        return self.run("import", "--data", self.data, *map(str, files))

    def serve(self, *extra):
        return Server(self, extra)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class Server:
    """`medvault serve` on 127.0.0.1:0. Its stderr is drained into .log_lines."""

    def __init__(self, vault, extra=()):
        self.vault = vault
        self.proc = subprocess.Popen(
            [medvault_bin(), "serve", "--data", vault.data, "--listen", "127.0.0.1:0", *extra],
            env=vault.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log_lines = []
        self.port = None
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.log_lines.append(line.rstrip("\n"))
                if self.port is None:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if ev.get("event") == "listening":
                        self.port = int(ev["port"])
                        ready.set()
            ready.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        if not ready.wait(120) or self.port is None:
            self.proc.kill()
            raise RuntimeError("server did not start: " + "\n".join(self.log_lines[-20:]))
        self.ssl = ssl.create_default_context(cafile=vault.cert)
        self.local = threading.local()

    def alive(self):
        return self.proc.poll() is None

    def events(self, name):
        """The JSON lines of stderr whose "event" is `name`, so far."""
        out = []
        for line in list(self.log_lines):
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict) and ev.get("event") == name:
                out.append(ev)
        return out

    def connection(self, fresh=False):
        """A keep-alive connection per thread."""
        conn = getattr(self.local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPSConnection("localhost", self.port, context=self.ssl, timeout=60)
            self.local.conn = conn
        return conn

    def request(self, method, path, body=None, headers=None, token=None, content_type=None):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            content_type = content_type or "application/fhir+json"
        if isinstance(body, str):
            body = body.encode()
        if content_type:
            h["Content-Type"] = content_type
        for attempt in range(2):
            conn = self.connection(fresh=attempt > 0)
            try:
                conn.request(method, path, body=body, headers=h)
                resp = conn.getresponse()
                data = resp.read()
                hdrs = {k.lower(): v for k, v in resp.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.local.conn = None
                    conn.close()
                return resp.status, hdrs, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, **kw):
        status, headers, data = self.request(method, path, body, **kw)
        return status, headers, (json.loads(data) if data else None)

    def get_all(self, path, token):
        """Follows `next` links; returns the resources of every page."""
        out = []
        while path:
            status, _, bundle = self.json("GET", path, token=token)
            if status != 200:
                raise AssertionError(f"GET {path}: {status} {bundle}")
            out += [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]
            nxt = [l["url"] for l in bundle.get("link", []) if l["relation"] == "next"]
            path = None
            if nxt:
                u = urllib.parse.urlsplit(nxt[0])
                path = u.path + ("?" + u.query if u.query else "")
        return out

    def raw(self, data, read_timeout=10):
        """Sends raw bytes on a fresh TLS connection; returns everything read
        until the server closes the connection (or the timeout)."""
        import socket
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout)
        tls = self.ssl.wrap_socket(sock, server_hostname="localhost")
        out = b""
        try:
            tls.sendall(data)
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, ConnectionResetError, ssl.SSLError, BrokenPipeError):
            pass
        finally:
            tls.close()
        return out

    def stop(self):
        """SIGTERM; returns the exit code (the server must stop within 20 s)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            raise AssertionError("server did not stop on SIGTERM")
        self.reader.join(5)
        return code


def fhir_time(ms=None):
    t = time.time() if ms is None else ms / 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "Z"
