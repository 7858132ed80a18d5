#!/usr/bin/env python3
"""64 concurrent clients update the same few resources with If-Match: every
update is either applied or answered 412, and none is lost (each applied
update leaves its mark in the final resource, and the version count matches
the number of 200s)."""
import collections
import concurrent.futures
import os
import random
import sys
import threading
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from medvault_e2e import Vault  # noqa: E402

CLIENTS = 64
UPDATES_PER_CLIENT = 4
RESOURCES = 4
MAX_ATTEMPTS = 500


class ConcurrentUpdateTest(unittest.TestCase):
    def test_if_match_prevents_lost_updates(self):
        vault = Vault()
        try:
            vault.add_user("nurse1", "nurse")
            token, _ = vault.token("nurse1")
            server = vault.serve()
            try:
                self.run_clients(server, token)
            finally:
                self.assertEqual(server.stop(), 0)
        finally:
            vault.close()

    def run_clients(self, server, token):
        ids = []
        for i in range(RESOURCES):
            status, _, body = server.json("POST", "/fhir/Patient", {
                "resourceType": "Patient", "name": [{"family": f"Shared{i}"}],
                "identifier": [{"system": "urn:e2e:seed", "value": str(i)}]}, token=token)
            self.assertEqual(status, 201, body)
            ids.append(body["id"])

        lock = threading.Lock()
        applied = collections.defaultdict(list)  # id -> marks of 200 updates
        statuses = collections.Counter()

        def client(n):
            rng = random.Random(n)
            for k in range(UPDATES_PER_CLIENT):
                rid = rng.choice(ids)
                mark = f"{n}-{k}"
                for _ in range(MAX_ATTEMPTS):
                    status, headers, body = server.json("GET", f"/fhir/Patient/{rid}", token=token)
                    assert status == 200, (status, body)
                    etag = headers["etag"]
                    body["identifier"].append({"system": "urn:e2e:mark", "value": mark})
                    status, headers, out = server.json("PUT", f"/fhir/Patient/{rid}", body, token=token,
                                                       headers={"If-Match": etag})
                    with lock:
                        statuses[status] += 1
                    if status == 200:
                        with lock:
                            applied[rid].append(mark)
                        break
                    assert status == 412, (status, out)
                    assert out["resourceType"] == "OperationOutcome"
                else:
                    raise AssertionError(f"client {n}: no update of {rid} after {MAX_ATTEMPTS} attempts")

        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            for f in [pool.submit(client, n) for n in range(CLIENTS)]:
                f.result()

        self.assertEqual(set(statuses) - {200, 412}, set(), statuses)
        self.assertEqual(statuses[200], CLIENTS * UPDATES_PER_CLIENT)
        print(f"\n{statuses[200]} updates applied, {statuses[412]} answered 412", file=sys.stderr)
        for rid in ids:
            status, headers, body = server.json("GET", f"/fhir/Patient/{rid}", token=token)
            self.assertEqual(status, 200)
            marks = [i["value"] for i in body["identifier"] if i["system"] == "urn:e2e:mark"]
            # No lost update: every applied mark is there, once, in the order applied.
            self.assertEqual(sorted(marks), sorted(applied[rid]))
            self.assertEqual(len(marks), len(set(marks)))
            self.assertEqual(int(body["meta"]["versionId"]), 1 + len(applied[rid]))
            self.assertEqual(headers["etag"], f'W/"{1 + len(applied[rid])}"')
            status, _, hist = server.json("GET", f"/fhir/Patient/{rid}/_history?_count=1000", token=token)
            versions = sorted(int(e["resource"]["meta"]["versionId"]) for e in hist["entry"])
            self.assertEqual(versions, list(range(1, 2 + len(applied[rid]))))


if __name__ == "__main__":
    unittest.main(verbosity=2)
