"""PostgreSQL engine, shown 4: `medvault migrate --from DIR --to
postgresql://...` moves a SQLite vault holding Synthea-10, a few updated
resources, an account and a token. The export after is byte-identical to the
export before, every audit entry came along and `audit verify` passes, the
history of an updated resource has all its versions, the token issued before
still authenticates. A wrong passphrase writes nothing; a second migration
into the same database is refused."""
import os
import shutil
import time
import unittest

from pglib import PgTest, synthea_files, url_of


class Migrate(unittest.TestCase):
    def test_sqlite_to_postgresql(self):
        started = time.monotonic()
        t = PgTest()
        try:
            t.pg.start_primary()
            url = url_of(t.pg.primary_port)
            src = t.node_dir("sqlite-vault")
            t.run("init", "--data", src)
            files = synthea_files()
            self.assertGreater(len(files), 10)
            t.run("import", "--data", src, *files)
            t.run("user", "add", "doc", "--role", "physician", "--data", src)
            token, _ = t.token("doc", "--data", src)

            # A few updates through the server: versions 2 and 3 of a Patient.
            versions = {}
            server = t.serve(src)
            status, _, bundle = server.json("GET", "/fhir/Patient?_count=1", token=token)
            self.assertEqual(status, 200, bundle)
            patient = bundle["entry"][0]["resource"]
            pid = patient["id"]
            versions[patient["meta"]["versionId"]] = patient
            for gender in ("other", "unknown"):
                body = dict(patient, gender=gender)
                status, _, patient = server.json("PUT", f"/fhir/Patient/{pid}", body, token=token,
                                                 headers={"If-Match": f'W/"{patient["meta"]["versionId"]}"'})
                self.assertEqual(status, 200, patient)
                versions[patient["meta"]["versionId"]] = patient
            self.assertEqual(sorted(versions), ["1", "2", "3"])
            self.assertEqual(server.stop(), 0)

            before = t.run("export", "--data", src).stdout
            self.assertGreater(before.count("\n"), 100)
            audit_before = t.run("audit", "export", "--data", src).stdout.splitlines()

            # A wrong passphrase is refused before anything is written.
            wrong = dict(t.env, MEDVAULT_PASSPHRASE="not the passphrase")
            p = t.run("migrate", "--from", src, "--to", url, check=False, env=wrong)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("passphrase", p.stderr.lower())
            tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            self.assertEqual(t.pg.psql(t.pg.primary_port, tables), "0")

            p = t.run("migrate", "--from", src, "--to", url)
            self.assertIn("audit log verified", p.stdout)
            self.assertNotEqual(t.pg.psql(t.pg.primary_port, tables), "0")  # where the vault went

            after = t.run("export", "--store", url).stdout
            self.assertEqual(after, before, "the export differs after migration")
            self.assertIn("audit log ok", t.run("audit", "verify", "--store", url).stdout)
            audit_after = t.run("audit", "export", "--store", url).stdout.splitlines()
            self.assertEqual(audit_after[:len(audit_before)], audit_before, "an audit entry changed")
            self.assertGreater(len(audit_after), len(audit_before))

            # The node serving the migrated vault: the practice's TLS
            # material in its node dir; the token issued on SQLite works.
            node = t.node_dir("node1")
            shutil.copytree(os.path.join(src, "tls"), os.path.join(node, "tls"))
            server = t.serve(node, "--store", url)
            status, _, hist = server.json("GET", f"/fhir/Patient/{pid}/_history", token=token)
            self.assertEqual(status, 200, hist)
            self.assertEqual(hist["total"], 3)
            got = {e["resource"]["meta"]["versionId"]: e["resource"] for e in hist["entry"]}
            self.assertEqual(got, versions)
            for v, res in versions.items():
                status, _, old = server.json("GET", f"/fhir/Patient/{pid}/_history/{v}", token=token)
                self.assertEqual((status, old), (200, res))
            status, _, _ = server.json("GET", f"/fhir/Patient/{pid}", token="mv_not-a-token")
            self.assertEqual(status, 401)
            self.assertEqual(server.stop(), 0)

            # Migrating again into the same database is refused, and the
            # vault there is untouched.
            p = t.run("migrate", "--from", src, "--to", url, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("not empty", p.stderr)
            self.assertEqual(t.run("export", "--store", url).stdout, before)
            print(f"\n{before.count(chr(10))} resources, {len(audit_after)} audit entries, "
                  f"{time.monotonic() - started:.1f} s", flush=True)
        finally:
            t.close()


if __name__ == "__main__":
    unittest.main()
