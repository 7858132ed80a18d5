"""PostgreSQL engine, shown 3: a primary with a synchronous streaming
replica, a medvault node configured with both servers
(target_session_attrs=read-write), clients creating resources. The primary
is killed (`pg_ctl stop -m immediate`) under that load and the replica
promoted: the node carries on against the new primary, every create a client
saw acknowledged (201) is there with the same content and its audit entry,
and `audit verify` passes on the promoted database."""
import concurrent.futures
import json
import threading
import time
import unittest

from pglib import PgTest, url_of

CLIENTS = 4


class Failover(unittest.TestCase):
    def test_acknowledged_writes_survive_failover(self):
        started = time.monotonic()
        t = PgTest()
        try:
            t.pg.start_primary(sync_replica=True)
            t.pg.start_replica()
            self.assertEqual(t.pg.psql(t.pg.primary_port,
                                       "SELECT sync_state FROM pg_stat_replication"), "sync")
            self.assertEqual(t.pg.psql(t.pg.primary_port, "SHOW synchronous_commit"), "on")
            # Both servers; libpq picks the one that accepts writes.
            both = (f"postgresql://postgres@127.0.0.1:{t.pg.primary_port},127.0.0.1:{t.pg.replica_port}"
                    "/postgres?target_session_attrs=read-write&connect_timeout=5")
            node = t.node_dir("node1")
            t.run("init", "--store", both, "--data", node)
            t.run("user", "add", "doc", "--role", "physician", "--store", both)
            token, _ = t.token("doc", "--store", both)
            server = t.serve(node, "--store", both)

            lock = threading.Lock()
            acked = {}  # id -> the resource as the 201 returned it
            failed = []  # (status or exception) of writes not acknowledged
            acked_after_promotion = []
            phase = {"promoted": False}
            stop = threading.Event()

            def client(n):
                k = 0
                while not stop.is_set():
                    k += 1
                    body = {"resourceType": "Patient", "name": [{"family": f"Failover{n}x{k}"}],
                            "identifier": [{"system": "urn:e2e:failover", "value": f"{n}-{k}"}]}
                    try:
                        status, _, out = server.json("POST", "/fhir/Patient", body, token=token)
                    except Exception as e:  # a connection dropped mid-request: not acknowledged
                        with lock:
                            failed.append(repr(e))
                        time.sleep(0.05)
                        continue
                    with lock:
                        if status == 201:
                            self.assertEqual(out["identifier"], body["identifier"])
                            acked[out["id"]] = out
                            if phase["promoted"]:
                                acked_after_promotion.append(out["id"])
                        else:
                            failed.append(status)
                    if status != 201:
                        time.sleep(0.05)

            with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
                futures = [pool.submit(client, n) for n in range(CLIENTS)]
                deadline = time.monotonic() + 30
                while len(acked) < 40 and time.monotonic() < deadline:
                    time.sleep(0.1)
                self.assertGreaterEqual(len(acked), 40, f"no write load: {failed[:5]}")
                before_crash = len(acked)
                t.pg.stop_primary_immediate()  # mid-load: requests are in flight
                time.sleep(1)
                t.pg.promote_replica()
                with lock:
                    phase["promoted"] = True
                deadline = time.monotonic() + 30
                while len(acked_after_promotion) < 20 and time.monotonic() < deadline:
                    time.sleep(0.1)
                stop.set()
                for f in futures:
                    f.result()
            self.assertGreaterEqual(len(acked_after_promotion), 20,
                                    f"the node did not write to the promoted replica: {failed[-5:]}")
            self.assertTrue(server.alive())

            # Every acknowledged create, read back from the new primary.
            for rid, resource in acked.items():
                status, _, got = server.json("GET", f"/fhir/Patient/{rid}", token=token)
                self.assertEqual((status, got), (200, resource), f"acknowledged write {rid} lost")
            self.assertEqual(server.stop(), 0)

            promoted = url_of(t.pg.replica_port)
            self.assertEqual(t.pg.psql(t.pg.replica_port, "SELECT pg_is_in_recovery()"), "f")
            self.assertIn("audit log ok", t.run("audit", "verify", "--store", promoted).stdout)
            # Each acknowledged create has its (successful) audit entry there too.
            created = set()
            for line in t.run("audit", "export", "--store", promoted).stdout.splitlines():
                e = json.loads(line)
                if e.get("action") == "C" and e.get("outcome") == "0":
                    created.update(x.get("what", {}).get("reference", "") for x in e.get("entity", []))
            self.assertEqual({f"Patient/{rid}" for rid in acked} - created, set())
            print(f"\n{len(acked)} creates acknowledged ({before_crash} before the crash, "
                  f"{len(acked_after_promotion)} after promotion), {len(failed)} not acknowledged, "
                  f"{time.monotonic() - started:.1f} s", flush=True)
        finally:
            t.close()


if __name__ == "__main__":
    unittest.main()
