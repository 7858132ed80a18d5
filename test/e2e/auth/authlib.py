"""Shared pieces of the sign-in black-box tests (docs/auth-api.md): accounts
with passwords set through the command line, a user agent that keeps its
session cookie and CSRF token and may connect from any 127.x.y.z source
address, a TOTP authenticator app (Debian's oathtool), the audit log as FHIR
AuditEvents, and a software WebAuthn authenticator (python3-cryptography for
the keys and signatures, a small CBOR encoder below).

Built on the HTTP tests' Vault and Server (test/e2e/http/medvault_e2e.py).
"""
import base64
import hashlib
import http.client
import json
import re
import secrets
import socket
import ssl
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "http"))
from medvault_e2e import Vault, medvault_bin  # noqa: E402

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402

COOKIE = "__Host-mv_session"
TOTP_PERIOD = 30


def new_password():
    """A password that passes the policy even as the only factor (>= 15 code
    points, not a dictionary word)."""
    return "Qx7-" + secrets.token_urlsafe(18)


class AuthVault(Vault):
    """A vault whose accounts have passwords (set with `user set-password`,
    the password passed in MEDVAULT_NEW_PASSWORD, never in argv)."""

    def add_account(self, name, role="physician", password=None, extra=()):
        self.run("user", "add", name, "--role", role, "--data", self.data, *extra)
        if password:
            self.set_password(name, password)
            return password
        # cracklib's heuristics refuse a rare random string as "too simple or
        # systematic" (seen once in CI): a refused random password is drawn
        # again; a given one, or any other error, fails the test.
        for attempt in range(5):
            password = new_password()
            try:
                self.set_password(name, password)
                return password
            except RuntimeError as e:
                if "too simple or systematic" not in str(e) or attempt == 4:
                    raise

    def set_password(self, name, password):
        env = dict(self.env, MEDVAULT_NEW_PASSWORD=password)
        p = subprocess.run([medvault_bin(), "user", "set-password", name, "--data", self.data], env=env,
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"medvault user set-password failed ({p.returncode}): {p.stderr.strip()}")

    def audit_events(self, since=1):
        """The audit log from `since` as parsed FHIR AuditEvents (the export
        itself adds an `audit-export` entry)."""
        p = self.run("audit", "export", "--data", self.data, "--since", str(since))
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def audit_size(self):
        """The sequence number of the newest entry (the export's own one)."""
        events = self.audit_events()
        return seq(events[-1]) if events else 0


# --- audit events -----------------------------------------------------------

def seq(ev):
    return int(ev["id"].split("-", 1)[1])


def action(ev):
    """medvault's own action code (login, logout, security-event, ...)."""
    return ev["subtype"][-1]["code"]


def user_of(ev):
    return ev["agent"][0]["who"].get("identifier", {}).get("value")


def address_of(ev):
    return ev["agent"][0].get("network", {}).get("address", "")


def details(ev):
    return [d.get("valueString", "") for ent in ev.get("entity", []) for d in ent.get("detail", [])]


def text_of(ev):
    """Everything an AuditEvent says in words: the explanation and the
    (decrypted) detail."""
    return " ".join([ev.get("outcomeDesc", "")] + details(ev))


def flagged(ev):
    return any(t.get("code") == "review" for t in ev.get("meta", {}).get("tag", []))


def failed(ev):
    return ev.get("outcome", "0") != "0"


def is_login_attempt(ev):
    """An audited sign-in attempt (checked or throttled)."""
    return action(ev) in ("login", "login-throttled")


def is_throttled(ev):
    """A refused sign-in attempt that was not checked (answered 429)."""
    return action(ev) == "login-throttled" or text_of(ev).lower().startswith("throttled")


def attempted_name(ev):
    """The account an attempt was for: the entry's user, else the name the
    client gave, as the detail records it ("... (name given: NAME)")."""
    if user_of(ev):
        return user_of(ev)
    m = re.search(r"\(name given: ([^)]*)\)", text_of(ev))
    return m.group(1) if m else None


# --- HTTP user agent --------------------------------------------------------

class _Connection(http.client.HTTPSConnection):
    """HTTPS to the server's 127.0.0.1 listener, name-checked as localhost,
    from a chosen local address."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(sock, server_hostname="localhost")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.header_list = headers  # [(name lower-case, value)], repeated names kept
        self.headers = {k: v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None

    def set_cookies(self):
        return [v for k, v in self.header_list if k == "set-cookie"]

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def parse_set_cookie(value):
    """(name, value, {attribute lower-case: value or True})."""
    parts = [p.strip() for p in value.split(";")]
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), val.strip(), attrs


class Client:
    """One user agent: a keep-alive connection from `source` (a 127.x.y.z
    address; None: the kernel's choice, 127.0.0.1), the session cookie it was
    given and the CSRF token that goes with it. `ssl_context` may present a
    client certificate."""

    def __init__(self, server, source=None, ssl_context=None):
        self.server = server
        self.source = source
        self.ctx = ssl_context or server.ssl
        self.conn = None
        self.cookie = None
        self.csrf = None
        self.last_set_cookie = None

    def __del__(self):
        self.close()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _connection(self, fresh=False):
        if self.conn is None or fresh:
            self.close()
            self.conn = _Connection("localhost", self.server.port, context=self.ctx, timeout=120,
                                    source_address=(self.source, 0) if self.source else None)
        return self.conn

    def request(self, method, path, body=None, headers=None, cookie=None, csrf=None, token=None):
        """`cookie`/`csrf`: None sends this agent's own (the CSRF token only
        with a cookie and a method other than GET/HEAD), False sends none, a
        string sends that value. A dict or list body is sent as JSON."""
        h = dict(headers or {})
        cookie = self.cookie if cookie is None else cookie
        if cookie:
            h["Cookie"] = f"{COOKIE}={cookie}"
            if csrf is None and method not in ("GET", "HEAD"):
                csrf = self.csrf
        if csrf:
            h["X-CSRF-Token"] = csrf
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        for attempt in range(2):
            conn = self._connection(fresh=attempt > 0)
            try:
                conn.request(method, path, body=body, headers=h)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
                # The server closed an idle kept-alive connection: once more on a new one.
                if attempt:
                    raise
                continue
            r = Response(resp.status, [(k.lower(), v) for k, v in resp.getheaders()], data)
            if r.headers.get("connection", "").lower() == "close":
                self.close()
            self._take_cookie(r)
            return r
        raise AssertionError("unreachable")

    def _take_cookie(self, r):
        for v in r.set_cookies():
            name, val, attrs = parse_set_cookie(v)
            if name != COOKIE:
                continue
            self.last_set_cookie = v
            cleared = not val or attrs.get("max-age") == "0"
            self.cookie = None if cleared else val
            if cleared:
                self.csrf = None

    def _session_answer(self, r):
        if r.status == 200:
            s = r.json()
            if isinstance(s, dict) and "csrf" in s:
                self.csrf = s["csrf"]
        return r

    # --- the endpoints of docs/auth-api.md
    def login(self, username, password, code=None):
        body = {"username": username, "password": password}
        if code is not None:
            body["code"] = code
        return self._session_answer(self.request("POST", "/api/auth/login", body, cookie=False))

    def session(self):
        return self.request("GET", "/api/auth/session")

    def logout(self):
        return self.request("POST", "/api/auth/logout")

    def totp_enrol(self):
        return self.request("POST", "/api/auth/totp/enrol", {})

    def totp_confirm(self, code):
        return self.request("POST", "/api/auth/totp/confirm", {"code": code})


# --- TOTP -------------------------------------------------------------------

def totp_at(secret, unix_seconds):
    """The code oathtool computes for the step containing `unix_seconds` (the
    secret is a throwaway test secret, so argv is acceptable here)."""
    p = subprocess.run(["oathtool", "--totp", "-b", secret, "--now", f"@{int(unix_seconds)}"],
                       capture_output=True, text=True, check=True)
    return p.stdout.strip()


def step_now():
    return int(time.time()) // TOTP_PERIOD


class Authenticator:
    """The user's authenticator app. The server accepts the steps now-1 ..
    now+1 and never a step at or below the last one it accepted, so each
    fresh() code is the lowest usable step that is >= now (or now+1, the
    server's one step of drift), and when both are spent it waits for the
    next 30-second step rather than reuse one."""

    def __init__(self, secret):
        self.secret = secret
        self.last_step = -1

    def can_fresh_without_wait(self):
        return self.last_step < step_now() + 1

    def fresh(self):
        while True:
            now = step_now()
            step = max(now, self.last_step + 1)
            if step <= now + 1:
                self.last_step = step
                return totp_at(self.secret, step * TOTP_PERIOD)
            time.sleep((now + 1) * TOTP_PERIOD - time.time() + 0.2)

    def at_step(self, step):
        return totp_at(self.secret, step * TOTP_PERIOD)


class Account:
    """A staff account with a password and, once enrolled, a TOTP authenticator
    and its recovery codes."""

    def __init__(self, name, password):
        self.name = name
        self.password = password
        self.app = None
        self.recovery = []

    def second_factor(self):
        """A fresh TOTP code if one can be had without waiting, else a recovery code."""
        if self.app.can_fresh_without_wait() or not self.recovery:
            return self.app.fresh()
        return self.recovery.pop()

    def sign_in(self, server, source=None):
        """A new user agent signed in with password and second factor."""
        c = Client(server, source)
        r = c.login(self.name, self.password, self.second_factor())
        if r.status != 200:
            raise AssertionError(f"sign-in of {self.name}: {r}")
        return c


def enrol_totp(server, account, source=None):
    """Signs in with the password alone, enrols TOTP, confirms it; leaves the
    account with its authenticator app and recovery codes. Returns the client."""
    c = Client(server, source)
    r = c.login(account.name, account.password)
    if r.status != 200:
        raise AssertionError(f"password sign-in of {account.name}: {r}")
    r = c.totp_enrol()
    if r.status != 200:
        raise AssertionError(f"totp enrol of {account.name}: {r}")
    account.app = Authenticator(r.json()["secret"])
    r = c.totp_confirm(account.app.fresh())
    if r.status != 200:
        raise AssertionError(f"totp confirm of {account.name}: {r}")
    account.recovery = list(r.json()["recovery_codes"])
    return c


# --- WebAuthn software authenticator ----------------------------------------

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cbor(obj):
    """Canonical-enough CBOR (RFC 8949) of int, bytes, str, bool, None, list, dict."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | extra]) + struct.pack(fmt, n)
        raise ValueError("integer too large")

    if obj is True:
        return b"\xf5"
    if obj is False:
        return b"\xf4"
    if obj is None:
        return b"\xf6"
    if isinstance(obj, int):
        return head(0, obj) if obj >= 0 else head(1, -1 - obj)
    if isinstance(obj, bytes):
        return head(2, len(obj)) + obj
    if isinstance(obj, str):
        b = obj.encode()
        return head(3, len(b)) + b
    if isinstance(obj, list):
        return head(4, len(obj)) + b"".join(cbor(x) for x in obj)
    if isinstance(obj, dict):
        return head(5, len(obj)) + b"".join(cbor(k) + cbor(v) for k, v in obj.items())
    raise TypeError(type(obj))


UP, UV, AT = 0x01, 0x04, 0x40
ES256, EDDSA, ES384 = -7, -8, -35


class SoftAuthenticator:
    """One passkey: a key pair (ES256, EdDSA or, to be refused, ES384), a
    random credential id, a signature counter, and the user handle the
    server chose at registration."""

    def __init__(self, alg=ES256, counter=0):
        self.alg = alg
        if alg == EDDSA:
            self.key = ed25519.Ed25519PrivateKey.generate()
        else:
            self.key = ec.generate_private_key(ec.SECP384R1() if alg == ES384 else ec.SECP256R1())
        self.cred_id = secrets.token_bytes(32)
        self.counter = counter
        self.user_handle = None

    def cose_key(self):
        pub = self.key.public_key()
        if self.alg == EDDSA:
            from cryptography.hazmat.primitives import serialization
            x = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return cbor({1: 1, 3: EDDSA, -1: 6, -2: x})
        n = pub.public_numbers()
        size = 48 if self.alg == ES384 else 32
        return cbor({1: 2, 3: self.alg, -1: 2 if self.alg == ES384 else 1,
                     -2: n.x.to_bytes(size, "big"), -3: n.y.to_bytes(size, "big")})

    def sign(self, data):
        if self.alg == EDDSA:
            return self.key.sign(data)
        return self.key.sign(data, ec.ECDSA(hashes.SHA384() if self.alg == ES384 else hashes.SHA256()))

    @staticmethod
    def client_data(kind, challenge, origin):
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin,
                           "crossOrigin": False}).encode()

    def registration(self, challenge, rp_id, origin, kind="webauthn.create", flags=UP | UV | AT,
                     fmt="none"):
        """(clientDataJSON, attestationObject, authenticatorData) as a browser sends them."""
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.counter)
                     + bytes(16) + struct.pack(">H", len(self.cred_id)) + self.cred_id + self.cose_key())
        att = cbor({"fmt": fmt, "attStmt": {}, "authData": auth_data})
        return self.client_data(kind, challenge, origin), att, auth_data

    def assertion(self, challenge, rp_id, origin, kind="webauthn.get", flags=UP | UV, counter=None):
        """(clientDataJSON, authenticatorData, signature); the counter grows by
        one unless given."""
        if counter is None:
            self.counter += 1
            counter = self.counter
        cdj = self.client_data(kind, challenge, origin)
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", counter)
        return cdj, auth_data, self.sign(auth_data + hashlib.sha256(cdj).digest())


def flip_bit(data, index, bit=0):
    b = bytearray(data)
    b[index] ^= 1 << bit
    return bytes(b)


def healthz(server):
    return Client(server).request("GET", "/healthz").status
