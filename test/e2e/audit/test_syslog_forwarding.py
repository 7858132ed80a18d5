"""Audit forwarding to a real rsyslogd: `medvault serve --syslog tcp://...` (and
tls:// with --syslog-ca) sends every audit entry made while it runs as one
RFC 5424 message (octet-counted) to the practice's collector. Checked here on
what rsyslog writes (template RSYSLOG_SyslogProtocol23Format): version 1,
app medvault, facility authpriv, structured data equal to the stored entries,
no patient name or text; entries made while the collector is down arrive
after it is back (at least once); over TLS, a collector whose certificate
does not chain to --syslog-ca or does not name the host gets nothing."""
import datetime
import json
import os
import re
import socket
import subprocess
import time
import unittest

from auditlib import Vault, auditfiles

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MARK_FAMILY = "Quillfeatherstone"
MARK_GIVEN = "Zephyrinette"
MARK_NOTE = "syslog forwarding marker note"
HEADER = re.compile(r"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=60, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def parse_5424(line):
    """(pri, header fields, sd-id, params dict, msg) of an RFC 5424 line with one SD-ELEMENT."""
    m = HEADER.match(line)
    if not m:
        raise AssertionError("not RFC 5424: " + line[:80])
    pri = int(m.group(1))
    fields = dict(zip(["timestamp", "hostname", "app", "procid", "msgid"], m.groups()[1:]))
    i = m.end()
    if line[i] != "[":
        raise AssertionError("no structured data: " + line[:80])
    sp = line.index(" ", i)
    sd_id = line[i + 1:sp]
    params = {}
    i = sp
    while line[i] == " ":
        eq = line.index("=", i)
        name = line[i + 1:eq]
        if line[eq + 1] != '"':
            raise AssertionError("unquoted value")
        j, value = eq + 2, []
        while line[j] != '"':
            if line[j] == "\\" and line[j + 1] in '"\\]':
                j += 1
            value.append(line[j])
            j += 1
        params[name] = "".join(value)
        i = j + 1
    if line[i] != "]":
        raise AssertionError("unterminated structured data")
    return pri, fields, sd_id, params, line[i + 2:]


def make_pki(d):
    """A test CA, a certificate for DNS:localhost only (no IP SAN) signed by
    it, and an unrelated CA. Returns their paths."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(path, data):
        with open(path, "wb") as f:
            f.write(data)
        return path

    def ca(cn):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                               critical=True)
                .sign(key, hashes.SHA256()))
        return key, cert

    ca_key, ca_cert = ca("medvault test syslog CA")
    _, other_cert = ca("some other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {
        "ca": write(os.path.join(d, "ca.pem"), ca_cert.public_bytes(pem)),
        "other_ca": write(os.path.join(d, "other-ca.pem"), other_cert.public_bytes(pem)),
        "cert": write(os.path.join(d, "collector.pem"), cert.public_bytes(pem)),
        "key": write(os.path.join(d, "collector.key"), key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
    }


class Rsyslog:
    """rsyslogd on 127.0.0.1:port writing what it receives to out.log in RFC
    5424 form; TLS (gtls driver, anonymous client) when pki is given."""

    def __init__(self, tmp, name, pki=None):
        self.dir = os.path.join(tmp, name)
        os.makedirs(os.path.join(self.dir, "work"))
        self.port = free_port()
        self.out = os.path.join(self.dir, "out.log")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        tls_global = tls_module = ""
        if pki:
            tls_global = (f' DefaultNetstreamDriverCAFile="{pki["ca"]}"'
                          f' DefaultNetstreamDriverCertFile="{pki["cert"]}"'
                          f' DefaultNetstreamDriverKeyFile="{pki["key"]}"')
            tls_module = ' StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"'
        with open(self.conf, "w") as f:
            f.write(f'global(workDirectory="{self.dir}/work"{tls_global})\n'
                    f'module(load="imtcp"{tls_module})\n'
                    f'input(type="imtcp" address="127.0.0.1" port="{self.port}" ruleset="fwd")\n'
                    f'ruleset(name="fwd") {{ action(type="omfile" file="{self.out}" '
                    f'template="RSYSLOG_SyslogProtocol23Format") }}\n')
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "rsyslogd.log"), "ab")
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", self.conf, "-i",
                                      os.path.join(self.dir, "rsyslogd.pid")],
                                     stdout=self.log, stderr=subprocess.STDOUT)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("rsyslogd exited: " + open(self.log.name).read())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(listening, 30, "rsyslogd to listen")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()

    def lines(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.strip()]

    def by_seq(self):
        """seq -> parsed message, for every medvault message received."""
        got = {}
        for line in self.lines():
            parsed = parse_5424(line)
            got[int(parsed[3]["seq"])] = parsed
        return got


def stored_entries(v, after):
    """seq -> entry dict of the stored audit entries with seq > after."""
    return {r["seq"]: json.loads(r["entry"]) for r in auditfiles.rows(v.data) if r["seq"] > after}


def log_size(v):
    return auditfiles.size(v.data)


def clinical_calls(srv, doc, front):
    """A create, a read, a search, a second create and a refused read; returns
    the Patient id."""
    status, hdrs, body = srv.json("POST", "/fhir/Patient", {
        "resourceType": "Patient", "name": [{"family": MARK_FAMILY, "given": [MARK_GIVEN]}],
        "birthDate": "1961-07-13", "generalPractitioner": [{"reference": "Practitioner/dr-a"}]},
        token=doc)
    assert status == 201, (status, body)
    pid = body["id"]
    status, _, _ = srv.json("GET", f"/fhir/Patient/{pid}", token=doc)
    assert status == 200
    status, _, _ = srv.json("GET", f"/fhir/Patient?family={MARK_FAMILY}", token=doc)
    assert status == 200
    status, _, obs = srv.json("POST", "/fhir/Observation", {
        "resourceType": "Observation", "status": "final", "code": {"text": MARK_NOTE},
        "subject": {"reference": f"Patient/{pid}"}}, token=doc)
    assert status == 201, (status, obs)
    status, _, _ = srv.json("GET", f"/fhir/Observation/{obs['id']}", token=front)
    assert status in (403, 404), status  # reception may not read clinical data (audited, outcome 4)
    return pid


class SyslogForwarding(unittest.TestCase):
    def setUp(self):
        self.v = Vault()
        # doc is the patients' general practitioner (a care relationship).
        self.v.run("user", "add", "doc", "--role", "physician", "--practitioner", "dr-a",
                   "--data", self.v.data)
        self.v.add_user("front", "reception")
        self.doc, _ = self.v.token("doc")
        self.front, _ = self.v.token("front")
        self.collectors, self.servers = [], []

    def tearDown(self):
        for s in self.servers:
            if s.alive():
                s.stop()
        for c in self.collectors:
            if c.proc and c.proc.poll() is None:
                c.stop()
        self.v.close()

    def collector(self, name, pki=None):
        c = Rsyslog(self.v.tmp, name, pki)
        self.collectors.append(c)
        return c

    def serve(self, *args):
        s = self.v.serve(*args)
        self.servers.append(s)
        return s

    def assert_forwarded(self, rx, entries):
        """Every stored entry arrived, as an RFC 5424 message equal to it."""
        wait_for(lambda: set(entries) <= set(rx.by_seq()), 60, "the entries at the collector")
        got = rx.by_seq()
        for seq, e in entries.items():
            pri, fields, sd_id, p, msg = got[seq]
            self.assertEqual(fields["app"], "medvault")
            self.assertEqual(fields["msgid"], "audit")
            self.assertEqual(sd_id, "medvault@32473")
            self.assertEqual(pri // 8, 10)  # authpriv
            self.assertEqual(pri % 8, {"0": 5, "4": 4, "8": 3}[e["outcome"]])
            for k in ("user", "role", "action", "type", "id", "patient", "purpose", "outcome", "address"):
                self.assertEqual(p[k], e[k], (seq, k))
            self.assertEqual(p["flagged"], "true" if e["flagged"] else "false")
            self.assertTrue(fields["timestamp"].startswith(
                datetime.datetime.fromtimestamp(e["time"] / 1000, datetime.timezone.utc)
                .strftime("%Y-%m-%dT%H:%M:%S")), fields["timestamp"])
            self.assertIn(e["action"], msg)
        return got

    def assert_no_patient_data(self, rx):
        with open(rx.out, encoding="utf-8") as f:
            text = f.read()
        for needle in (MARK_FAMILY, MARK_GIVEN, MARK_NOTE, "1961-07-13"):
            self.assertNotIn(needle, text)

    def test_tcp_forwarding_survives_a_collector_outage(self):
        rx = self.collector("tcp")
        before = log_size(self.v)
        srv = self.serve("--syslog", f"tcp://127.0.0.1:{rx.port}")
        clinical_calls(srv, self.doc, self.front)
        entries = stored_entries(self.v, before)
        got = self.assert_forwarded(rx, entries)
        # History made before the server started is not replayed.
        self.assertTrue(all(seq > before for seq in got), sorted(got)[:3])
        actions = [(e["action"], e["type"], e["outcome"]) for e in entries.values()]
        for expected in [("create", "Patient", "0"), ("read", "Patient", "0"), ("search", "Patient", "0"),
                         ("create", "Observation", "0"), ("read", "Observation", "4")]:
            self.assertIn(expected, actions)
        # A CLI command appending to the log while the server runs is
        # forwarded too (the forwarder follows the store, not the process).
        self.v.run("audit", "checkpoint", "--data", self.v.data)
        self.assert_forwarded(rx, stored_entries(self.v, before))

        # The collector goes down: requests go on, unslowed; one log line.
        rx.stop()
        mark = log_size(self.v)
        t0 = time.time()
        for _ in range(5):
            status, _, _ = srv.request("GET", "/fhir/Patient?_count=1", token=self.doc)
            self.assertEqual(status, 200)
        self.assertLess(time.time() - t0, 10)
        wait_for(lambda: srv.events("syslog-forward-failed"), 30, "the outage to be logged")
        clinical_calls(srv, self.doc, self.front)
        time.sleep(2.5)  # several reconnection attempts
        self.assertEqual(len(srv.events("syslog-forward-failed")), 1)
        failed = srv.events("syslog-forward-failed")[0]
        self.assertEqual(failed["target"], f"tcp://127.0.0.1:{rx.port}")
        self.assertRegex(failed["error"], "closed by the collector|refused")
        # Back up: what was logged meanwhile arrives (at least once).
        rx.start()
        self.assert_forwarded(rx, stored_entries(self.v, mark))
        self.assert_forwarded(rx, stored_entries(self.v, before))
        wait_for(lambda: srv.events("syslog-forward-resumed"), 30, "the recovery to be logged")
        self.assertEqual(srv.stop(), 0)
        self.assert_no_patient_data(rx)

    def test_tls_forwarding_checks_the_collector_and_resumes(self):
        pki = make_pki(self.v.tmp)
        rx = self.collector("tls", pki)
        before = log_size(self.v)

        # A collector certificate from another CA: nothing is sent.
        srv = self.serve("--syslog", f"tls://localhost:{rx.port}", "--syslog-ca", pki["other_ca"])
        clinical_calls(srv, self.doc, self.front)
        wait_for(lambda: srv.events("syslog-forward-failed"), 30, "the refused certificate")
        self.assertIn("certificate not accepted", srv.events("syslog-forward-failed")[0]["error"])
        self.assertEqual(srv.stop(), 0)
        # The right CA, but the certificate names localhost, not 127.0.0.1.
        srv = self.serve("--syslog", f"tls://127.0.0.1:{rx.port}", "--syslog-ca", pki["ca"])
        wait_for(lambda: srv.events("syslog-forward-failed"), 30, "the host name check")
        self.assertIn("mismatch", srv.events("syslog-forward-failed")[0]["error"])
        self.assertEqual(srv.stop(), 0)
        self.assertEqual(rx.lines(), [])

        # Verified: the entries of all three runs arrive, the forwarder
        # resuming from the position stored by the first.
        srv = self.serve("--syslog", f"tls://localhost:{rx.port}", "--syslog-ca", pki["ca"])
        clinical_calls(srv, self.doc, self.front)
        entries = stored_entries(self.v, before)
        self.assertGreaterEqual(len(entries), 10)
        self.assert_forwarded(rx, entries)
        self.assertEqual(srv.events("syslog-forward-failed"), [])
        self.assertEqual(srv.stop(), 0)
        self.assert_no_patient_data(rx)

    def test_bad_options_stop_the_server_with_one_line(self):
        for args, text in [(["--syslog", "udp://127.0.0.1:514"], "tcp://HOST:PORT"),
                           (["--syslog", "tcp://127.0.0.1:514", "--syslog-ca", "/nonexistent.pem"],
                            "only for tls://"),
                           (["--syslog", "tls://127.0.0.1:6514", "--syslog-ca", "/nonexistent.pem"],
                            "cannot load the syslog CA"),
                           (["--syslog-from-start"], "need --syslog")]:
            p = self.v.run("serve", "--data", self.v.data, "--listen", "127.0.0.1:0", *args, check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(text, p.stderr)


if __name__ == "__main__":
    unittest.main()
