"""Vault core, shown 6: bad import input is rejected line by line with the
file, the line number and a clear reason; the documented transaction
boundary holds (valid lines are imported, a rejected line changes nothing,
a transaction Bundle is all or nothing); no crash."""
import json
import os
import re
import unittest

from vaultlib import Vault

GOOD = {"resourceType": "Patient", "id": "good-1", "gender": "female"}


def pat(i, **kw):
    r = {"resourceType": "Patient", "id": f"p-{i}", "gender": "male"}
    r.update(kw)
    return json.dumps(r).encode()


class BadImport(unittest.TestCase):
    def setUp(self):
        self.v = Vault()

    def tearDown(self):
        self.v.close()

    def exported_ids(self):
        out = self.v.run("export", "--data", self.v.data).stdout
        return sorted(json.loads(l)["id"] for l in out.splitlines())

    def test_each_bad_line_reported(self):
        path = os.path.join(self.v.tmp, "bad.ndjson")
        lines = [
            pat(1),                                              # 1 ok
            b'{"resourceType":"Patient","id":"p-2",',            # 2 malformed JSON
            json.dumps({"resourceType": "Foo", "id": "x"}).encode(),  # 3 unknown type
            b'{"resourceType":"Patient","id":"p-4","gender":"\xff\xfe"}',  # 4 invalid UTF-8
            pat(5),                                              # 5 ok
            json.dumps({"resourceType": "Patient", "gender": "male"}).encode(),  # 6 missing id
            pat(1),                                              # 7 duplicate of line 1
            b'{"resourceType":"Patient","id":"p-8","name":[' + b'{"family":"' + b"a" * (50 * 1024 * 1024) + b'"}]}',  # 8: 50 MB
            pat(9),                                              # 9 ok: read after the huge line
            json.dumps({"resourceType": "Patient", "id": "bad id/../x"}).encode(),  # 10 bad id
            json.dumps({"resourceType": "Patient", "id": "p-11", "birthDate": "31/12/1990"}).encode(),  # 11 invalid
            b"[1,2,3]",                                          # 12 not an object
            b"",                                                 # 13 blank: skipped
            pat(14),                                             # 14 ok
        ]
        with open(path, "wb") as f:
            f.write(b"\n".join(lines) + b"\n")
        p = self.v.run("import", "--data", self.v.data, path, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        errors = {}
        for line in p.stderr.splitlines():
            m = re.match(re.escape(path) + r":(\d+): (.+)", line)
            if m:
                errors[int(m.group(1))] = m.group(2)
        self.assertEqual(sorted(errors), [2, 3, 4, 6, 7, 8, 10, 11, 12], p.stderr)
        self.assertIn("JSON", errors[2])
        self.assertIn("Foo", errors[3])
        self.assertIn("UTF-8", errors[4])
        self.assertIn("id", errors[6])
        self.assertIn("duplicate", errors[7])
        self.assertIn(":1", errors[7])
        self.assertIn("larger", errors[8])
        self.assertIn("id", errors[10])
        self.assertIn("birthDate", errors[11])
        self.assertIn("9 rejected", p.stderr)
        self.assertEqual(self.exported_ids(), ["p-1", "p-14", "p-5", "p-9"])
        self.v.run("check", "--data", self.v.data)
        # The 50 MB value never reached the error text.
        self.assertLess(len(p.stderr), 4000)

    def test_transaction_bundle_all_or_nothing(self):
        def bundle(kind, entries):
            return {"resourceType": "Bundle", "type": kind,
                    "entry": [{"fullUrl": f"urn:uuid:{i}", "resource": r,
                               "request": {"method": "PUT", "url": f"Patient/{r.get('id')}"}}
                              for i, r in enumerate(entries)]}
        bad = os.path.join(self.v.tmp, "bad-bundle.json")
        with open(bad, "w") as f:
            json.dump(bundle("transaction", [json.loads(pat(1)), json.loads(pat(2)),
                                             {"resourceType": "Patient", "id": "p-3", "birthDate": "nope"}]), f)
        p = self.v.run("import", "--data", self.v.data, bad, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("transaction Bundle rejected", p.stderr)
        self.assertEqual(self.exported_ids(), [])
        good = os.path.join(self.v.tmp, "good-bundle.json")
        with open(good, "w") as f:
            json.dump(bundle("transaction", [json.loads(pat(1)), json.loads(pat(2))]), f)
        self.v.run("import", "--data", self.v.data, good)
        self.assertEqual(self.exported_ids(), ["p-1", "p-2"])
        # A collection Bundle imports entry by entry.
        coll = os.path.join(self.v.tmp, "collection.json")
        with open(coll, "w") as f:
            json.dump(bundle("collection", [json.loads(pat(7)), {"resourceType": "Patient", "id": "p-8", "gender": 3}]), f)
        p = self.v.run("import", "--data", self.v.data, coll, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, re.escape(coll) + r":2: .*gender")
        self.assertEqual(self.exported_ids(), ["p-1", "p-2", "p-7"])

    def test_missing_and_empty_files(self):
        empty = os.path.join(self.v.tmp, "empty.ndjson")
        open(empty, "w").close()
        p = self.v.run("import", "--data", self.v.data, empty, os.path.join(self.v.tmp, "nope.ndjson"),
                       check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("nope.ndjson", p.stderr)

    def test_reimport_is_idempotent(self):
        path = os.path.join(self.v.tmp, "ok.ndjson")
        with open(path, "wb") as f:
            f.write(pat(1) + b"\n" + pat(2) + b"\n")
        self.v.run("import", "--data", self.v.data, path)
        p = self.v.run("import", "--data", self.v.data, path)
        self.assertIn("2 unchanged", p.stderr)
        with open(path, "wb") as f:
            f.write(pat(1, gender="female") + b"\n")
        p = self.v.run("import", "--data", self.v.data, path)
        self.assertIn("1 updated", p.stderr)
        out = [json.loads(l) for l in self.v.run("export", "--data", self.v.data).stdout.splitlines()]
        p1 = [r for r in out if r["id"] == "p-1"][0]
        self.assertEqual(p1["meta"]["versionId"], "2")
        self.assertEqual(p1["gender"], "female")


if __name__ == "__main__":
    unittest.main()
