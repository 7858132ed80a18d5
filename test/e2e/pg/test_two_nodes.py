"""PostgreSQL engine, shown 2: two medvault nodes on one database, clients
updating the SAME resources through both with If-Match. No update is lost
(each resource's version is 1 + its applied updates, each applied update got
its own versionId and its mark is in the final resource), the losers get
412, and the one audit log of both nodes has a gap-free order, verifies,
and holds exactly one successful update entry per applied update."""
import collections
import concurrent.futures
import json
import os
import shutil
import threading
import time
import unittest

from pglib import PgTest, url_of

RESOURCES = 3
CLIENTS_PER_NODE = 6
ATTEMPTS = 10  # GET -> PUT rounds per client


class TwoNodes(unittest.TestCase):
    def test_concurrent_if_match_through_two_nodes(self):
        started = time.monotonic()
        t = PgTest()
        try:
            t.pg.start_primary()
            url = url_of(t.pg.primary_port)
            n1, n2 = t.node_dir("node1"), t.node_dir("node2")
            t.run("init", "--store", url, "--data", n1)
            # A second node needs only its TLS material (everything shared
            # lives in the database): here the same certificate, as behind
            # one load-balancer name. init refuses a second vault.
            p = t.run("init", "--store", url, "--data", n2, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("already holds a vault", p.stderr)
            shutil.copytree(os.path.join(n1, "tls"), os.path.join(n2, "tls"))
            t.run("user", "add", "doc", "--role", "physician", "--store", url)
            token, _ = t.token("doc", "--store", url)  # one token, valid on every node
            nodes = [t.serve(n1, "--store", url), t.serve(n2, "--store", url)]
            self.assertNotEqual(nodes[0].port, nodes[1].port)

            ids = []
            for i in range(RESOURCES):
                status, _, body = nodes[i % 2].json("POST", "/fhir/Patient", {
                    "resourceType": "Patient", "name": [{"family": f"Shared{i}"}],
                    "identifier": [{"system": "urn:e2e:seed", "value": str(i)}]}, token=token)
                self.assertEqual(status, 201, body)
                ids.append(body["id"])

            lock = threading.Lock()
            applied = collections.defaultdict(list)   # id -> marks of the 200s
            versions = collections.defaultdict(list)  # id -> versionIds of the 200s
            per_node = collections.Counter()
            statuses = collections.Counter()

            def client(n):
                node = nodes[n % 2]
                for k in range(ATTEMPTS):
                    rid = ids[(n + k) % RESOURCES]
                    status, headers, body = node.json("GET", f"/fhir/Patient/{rid}", token=token)
                    assert status == 200, (status, body)
                    mark = f"{n}-{k}"
                    body["identifier"].append({"system": "urn:e2e:mark", "value": mark})
                    status, headers, out = node.json("PUT", f"/fhir/Patient/{rid}", body, token=token,
                                                     headers={"If-Match": headers["etag"]})
                    with lock:
                        statuses[status] += 1
                        if status == 200:
                            applied[rid].append(mark)
                            versions[rid].append(out["meta"]["versionId"])
                            per_node[n % 2] += 1
                    if status != 200:
                        assert status == 412, (status, out)
                        assert out["resourceType"] == "OperationOutcome", out

            with concurrent.futures.ThreadPoolExecutor(2 * CLIENTS_PER_NODE) as pool:
                for f in [pool.submit(client, n) for n in range(2 * CLIENTS_PER_NODE)]:
                    f.result()

            self.assertEqual(set(statuses) - {200, 412}, set(), statuses)
            self.assertEqual(statuses[200] + statuses[412], 2 * CLIENTS_PER_NODE * ATTEMPTS)
            self.assertGreater(statuses[412], 0, "no contention: the test proved nothing")
            self.assertGreater(per_node[0], 0)
            self.assertGreater(per_node[1], 0)

            for i, rid in enumerate(ids):
                vs = versions[rid]
                self.assertEqual(len(vs), len(set(vs)), f"{rid}: a versionId given twice: {vs}")
                self.assertEqual(sorted(map(int, vs)), list(range(2, 2 + len(vs))))
                for node in nodes:  # both nodes see the same final state
                    status, headers, body = node.json("GET", f"/fhir/Patient/{rid}", token=token)
                    self.assertEqual(status, 200)
                    self.assertEqual(body["meta"]["versionId"], str(1 + len(applied[rid])))
                    marks = sorted(x["value"] for x in body["identifier"] if x["system"] == "urn:e2e:mark")
                    self.assertEqual(marks, sorted(applied[rid]), "an applied update was lost")
                status, _, hist = nodes[i % 2].json("GET", f"/fhir/Patient/{rid}/_history", token=token)
                self.assertEqual(status, 200)
                self.assertEqual(hist["total"], 1 + len(applied[rid]))

            for node in nodes:
                self.assertEqual(node.stop(), 0)

            v = t.run("audit", "verify", "--store", url)
            self.assertIn("audit log ok", v.stdout)
            events = [json.loads(line) for line in t.run("audit", "export", "--store", url).stdout.splitlines()]
            # One total order without gaps, whichever node wrote an entry.
            self.assertEqual([e["id"] for e in events], [f"audit-{i}" for i in range(1, len(events) + 1)])

            def updates(outcome):
                c = collections.Counter()
                for e in events:
                    if e.get("action") == "U" and e.get("outcome") == outcome:
                        for ent in e.get("entity", []):
                            ref = ent.get("what", {}).get("reference", "")
                            if ref.startswith("Patient/"):
                                c[ref[len("Patient/"):]] += 1
                return c
            self.assertEqual(dict(updates("0")), {rid: len(applied[rid]) for rid in ids if applied[rid]})
            self.assertEqual(sum(updates("4").values()), statuses[412])
            print(f"\n{statuses[200]} updates applied ({per_node[0]} via node 1, {per_node[1]} via node 2), "
                  f"{statuses[412]} answered 412, {len(events)} audit entries, "
                  f"{time.monotonic() - started:.1f} s", flush=True)
        finally:
            t.close()


if __name__ == "__main__":
    unittest.main()
