"""Audit log under a crash: no read leaves the server before its audit entry
is durable. Client threads read and search over HTTPS keep-alive
connections, recording every response received complete with status 200;
the server is killed with SIGKILL in the middle of the load. Afterwards
`audit verify` passes, and every recorded response is matched, one by one,
to a distinct audit entry (a multiset match): a read to a `read` entry for
its type, id, patient and user; a search to one `search` entry per patient
compartment in its page (or one without patient for a page with none), with
the same total ("total=N" when the response has one, else "total>=M", the
matches the server found before it stopped: offset + page + 1). A response
without its entry fails the test."""
import collections
import http.client
import json
import random
import ssl
import sys
import threading
import time
import unittest
import urllib.parse

from auditlib import SYNTHEA10, Vault, compartment, verify
from vaultlib import ndjson

THREADS = 8
LOAD_SECONDS = 12          # the kill comes somewhere in the second half
# Service accounts with read/search scopes on every type: clinical reads by a
# physician would need care relationships the Synthea sample does not carry.
USERS = ("lab-feed", "ehr-sync")
TYPES = ("Patient", "Condition", "Immunization", "AllergyIntolerance", "Organization", "Practitioner")


class Client(threading.Thread):
    """One keep-alive connection; records complete 200 responses."""

    def __init__(self, n, port, ctx, token, user, ids, stop):
        super().__init__(daemon=True)
        self.rng = random.Random(n)
        self.port, self.ctx, self.token, self.user, self.ids, self.stop = port, ctx, token, user, ids, stop
        self.reads = []     # (user, type, id, patient, versionId)
        self.searches = []  # (user, type, audit detail, [(id, patient)...])
        self.errors = []    # unexpected statuses before the kill

    def request(self):
        r = self.rng.random()
        patient = self.rng.choice(self.ids["Patient"])
        if r < 0.7:
            t = self.rng.choice(TYPES)
            rid = self.rng.choice(self.ids[t])
            return "read", t, f"/fhir/{t}/{rid}"
        if r < 0.8:
            return "search", "Condition", f"/fhir/Condition?subject=Patient/{patient}&_count=5"
        if r < 0.87:
            return "search", "Immunization", f"/fhir/Immunization?patient={patient}&_count=3"
        if r < 0.94:
            return "search", "Patient", f"/fhir/Patient?_count=3&_offset={self.rng.randrange(12)}"
        return "search", "Organization", f"/fhir/Organization?_count=4&_offset={self.rng.randrange(40)}"

    def run(self):
        conn = None
        while not self.stop.is_set():
            kind, t, path = self.request()
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("localhost", self.port, context=self.ctx, timeout=30)
                conn.request("GET", path, headers={"Authorization": "Bearer " + self.token})
                resp = conn.getresponse()
                body = resp.read()  # raises IncompleteRead if cut short
                status = resp.status
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
                if not self.stop.is_set():
                    time.sleep(0.01)
                continue
            if status != 200:
                if not self.stop.is_set():
                    self.errors.append((path, status, body[:200]))
                continue
            doc = json.loads(body)
            if kind == "read":
                self.reads.append((self.user, t, doc["id"], compartment(doc), doc["meta"]["versionId"]))
            else:
                page = [(e["resource"]["id"], compartment(e["resource"])) for e in doc.get("entry", [])
                        if e.get("search", {}).get("mode") == "match"]
                if "total" in doc:
                    detail = f"total={doc['total']}"
                else:  # stopped early: the page was full and one more match found
                    offset = int(urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("_offset", ["0"])[0])
                    detail = f"total>={offset + len(page) + 1}"
                self.searches.append((self.user, t, detail, page))
        if conn is not None:
            conn.close()


class Kill9Reads(unittest.TestCase):
    def setUp(self):
        self.v = Vault()
        self.addCleanup(self.v.close)
        files = [SYNTHEA10 / f"{t}.000.ndjson" for t in TYPES]
        self.v.import_files(*files)
        self.ids = {t: [r["id"] for r in ndjson(SYNTHEA10 / f"{t}.000.ndjson")] for t in TYPES}
        self.tokens = {}
        for user in USERS:
            self.v.run("user", "add", user, "--role", "service", "--scope", "system/*.rs", "--data", self.v.data)
            self.tokens[user] = self.v.token(user)[0]

    def test_every_received_read_and_search_has_its_entry(self):
        srv = self.v.serve()
        stop = threading.Event()
        ctx = ssl.create_default_context(cafile=self.v.cert)
        users = USERS
        clients = [Client(n, srv.port, ctx, self.tokens[users[n % 2]], users[n % 2], self.ids, stop)
                   for n in range(THREADS)]
        for c in clients:
            c.start()
        kill_at = LOAD_SECONDS * random.uniform(0.5, 0.9)
        time.sleep(kill_at)
        srv.proc.kill()  # SIGKILL: no shutdown, no flush
        srv.proc.wait(10)
        stop.set()
        for c in clients:
            c.join(40)
            self.assertFalse(c.is_alive(), "a client thread hung")
        srv.reader.join(5)
        srv.proc.stderr.close()

        reads = [r for c in clients for r in c.reads]
        searches = [s for c in clients for s in c.searches]
        errors = [e for c in clients for e in c.errors]
        self.assertEqual(errors, [])
        self.assertGreater(len(reads) + len(searches), 1000,
                           f"too little load to mean anything ({len(reads)} reads, {len(searches)} searches "
                           f"in {kill_at:.1f} s)")
        self.assertGreater(len(searches), 50)

        rc, _out, err = verify(self.v, self.v.data)
        self.assertEqual(rc, 0, err)

        # The server restarts on the crashed vault and reads again.
        srv2 = self.v.serve()
        try:
            status, _, _ = srv2.request("GET", f"/fhir/Patient/{self.ids['Patient'][0]}", token=self.tokens[USERS[0]])
            self.assertEqual(status, 200)
        finally:
            self.assertEqual(srv2.stop(), 0)
            srv2.proc.stderr.close()

        events = [json.loads(line) for line in self.v.run("audit", "export", "--data", self.v.data).stdout.splitlines()]
        read_entries = collections.Counter()
        search_entries = collections.Counter()
        for ev in events:
            action = ev["subtype"][-1]["code"]
            if action not in ("read", "search") or ev["outcome"] != "0":
                continue
            user = ev["agent"][0]["who"]["identifier"]["value"]
            patient, rtype, rid, details = "", "", "", []
            for ent in ev.get("entity", []):
                what = ent.get("what", {})
                if ent.get("role", {}).get("code") == "1":
                    patient = what["reference"].split("/", 1)[1]
                elif "reference" in what:
                    rtype, rid = what["reference"].split("/", 1)
                elif "type" in what:
                    rtype = what["type"]
                details += [d["valueString"] for d in ent.get("detail", [])]
            if action == "read":
                if not rtype:  # a Patient read names the patient only
                    rtype, rid = "Patient", patient
                read_entries[(user, rtype, rid, patient)] += 1
            else:
                search_entries[(user, rtype, patient, tuple(details))] += 1

        # One by one: each received response consumes distinct entries.
        unmatched = []
        for user, t, rid, patient, version in reads:
            self.assertEqual(version, "1")
            key = (user, t, rid, patient)
            if read_entries[key] > 0:
                read_entries[key] -= 1
            else:
                unmatched.append(("read",) + key)
        for user, t, detail, page in searches:
            patients = {p for _, p in page if p} or {""}
            for p in sorted(patients):
                key = (user, t, p, (detail,))
                if search_entries[key] > 0:
                    search_entries[key] -= 1
                else:
                    unmatched.append(("search",) + key)
        print(f"kill9: {len(reads)} reads, {len(searches)} searches received before SIGKILL at {kill_at:.1f} s", file=sys.stderr)
        self.assertEqual(unmatched[:20], [], f"{len(unmatched)} received responses have no audit entry "
                                             f"(of {len(reads)} reads and {len(searches)} searches)")


if __name__ == "__main__":
    unittest.main()
