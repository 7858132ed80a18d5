"""PostgreSQL engine, shown 5: after importing Synthea-10 and a patient made
of unique markers into a PostgreSQL vault, and reading and searching them
through a node, no marker, patient name, birth date, identifier, address or
note sentence appears in any byte of any file of the PostgreSQL data
directory (tables, indexes, WAL, after a CHECKPOINT) nor in its server log:
not in UTF-8, UTF-16 (either byte order) nor as hex (bytea's text form)."""
import json
import os
import subprocess
import time
import unittest
import urllib.parse

from pglib import PgTest, synthea_files, url_of
from test_no_plaintext import MARKERS, marker_resources  # the SQLite test's markers
from vaultlib import all_bytes_under, synthea_secrets


def find_clear_text(paths, needles, work):
    """(needle, file) pairs: needles found in any file under paths, as UTF-8,
    as hex, or as UTF-16 of either byte order (searched as UTF-8 in a copy of
    each file without its NUL bytes). GNU grep -F matches all needles in one
    pass: Python's `in`, needle by needle, takes minutes on a data dir."""
    os.makedirs(work)
    forms = {}
    for n in needles:
        forms[n.encode()] = n
        forms[n.encode().hex().encode()] = n
    patterns = os.path.join(work, "patterns")
    with open(patterns, "wb") as f:
        f.write(b"\n".join(forms) + b"\n")
    stripped = os.path.join(work, "no-nul")
    for top in paths:
        for path, data in (all_bytes_under(top) if os.path.isdir(top) else [(top, open(top, "rb").read())]):
            if b"\0" in data:
                out = os.path.join(stripped, os.path.relpath(path, "/"))
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with open(out, "wb") as f:
                    f.write(data.replace(b"\0", b""))
    p = subprocess.run(["grep", "-r", "-a", "-o", "-F", "-f", patterns, *paths, stripped],
                       capture_output=True)
    if p.returncode not in (0, 1):
        raise RuntimeError(p.stderr.decode(errors="replace"))
    found = []
    for line in p.stdout.splitlines():
        path, _, match = line.partition(b":")
        found.append((forms.get(match, match.decode(errors="replace")), path.decode(errors="replace")))
    return found


class NoPlaintextInPostgres(unittest.TestCase):
    def test_no_clear_text_in_the_cluster(self):
        started = time.monotonic()
        t = PgTest()
        try:
            t.pg.start_primary()
            url = url_of(t.pg.primary_port)
            node = t.node_dir("node1")
            t.run("init", "--store", url, "--data", node)
            extra = os.path.join(t.tmp, "markers.ndjson")
            with open(extra, "w") as f:
                for r in marker_resources():
                    f.write(json.dumps(r) + "\n")
            # The sample's files the secrets come from (the whole sample is
            # imported by test_migrate; resource by resource into PostgreSQL
            # it would not fit the time bound).
            files = [f for f in synthea_files()
                     if os.path.basename(f).split(".")[0] in ("Patient", "DocumentReference", "Condition")]
            self.assertEqual(len(files), 3)
            t.run("import", "--store", url, *files, extra)
            os.remove(extra)  # the clear-text input is not part of what is scanned
            t.run("user", "add", "doc", "--role", "physician", "--store", url)
            token, _ = t.token("doc", "--store", url)

            # Reads and blind-index searches through a node.
            server = t.serve(node, "--store", url)
            status, _, p = server.json("GET", "/fhir/Patient/marker-patient-1", token=token)
            self.assertEqual(status, 200, p)
            self.assertEqual(p["name"][0]["family"], MARKERS["family"])
            for query in ({"family": MARKERS["family"]}, {"name": MARKERS["given"]},
                          {"identifier": MARKERS["mrn"]}, {"birthdate": MARKERS["birth"]}):
                found = server.get_all("/fhir/Patient?" + urllib.parse.urlencode(query), token)
                self.assertEqual([r["id"] for r in found], ["marker-patient-1"], query)
            # (The Condition is clinical: without a care relationship the
            # policy answers 404, so its note is checked in the export.)
            self.assertEqual(server.stop(), 0)
            self.assertIn(MARKERS["note"], t.run("export", "--store", url).stdout)

            # Everything from shared buffers into the data files.
            t.pg.psql(t.pg.primary_port, "CHECKPOINT")
            names, sentences = synthea_secrets()
            self.assertGreater(len(names), 30)
            self.assertGreater(len(sentences), 20)
            needles = set(MARKERS.values()) | names | sentences
            data_dir = t.pg.primary_dir
            self.assertTrue(any((data_dir / "pg_wal").iterdir()))
            self.assertTrue(any((data_dir / "base").iterdir()))
            log = data_dir.with_suffix(".log")  # pg_ctl -l
            self.assertTrue(log.exists())
            found = find_clear_text([str(data_dir), str(log)], needles, os.path.join(t.tmp, "scan"))
            self.assertEqual(found, [], f"clear text in PostgreSQL's files: {found[:10]}")
            # The scan can see: a marker written in clear is found.
            t.pg.psql(t.pg.primary_port, f"CREATE TABLE canary AS SELECT '{MARKERS['city']}'::text AS v;"
                      "CHECKPOINT")
            self.assertNotEqual(find_clear_text([str(data_dir)], [MARKERS["city"]], os.path.join(t.tmp, "scan2")), [])
            # ... and so is one in UTF-16 of either byte order, or in hex.
            probe = os.path.join(t.tmp, "probe")
            os.makedirs(probe)
            for i, form in enumerate((MARKERS["family"].encode("utf-16-le"), MARKERS["family"].encode("utf-16-be"),
                                      MARKERS["family"].encode().hex().encode())):
                with open(os.path.join(probe, str(i)), "wb") as f:
                    f.write(b"\xff" * 64 + form + b"\xff" * 64)  # no NUL: one hit per file
            hits = find_clear_text([probe], [MARKERS["family"]], os.path.join(t.tmp, "scan3"))
            self.assertEqual(len(hits), 3, hits)
            print(f"\n{len(needles)} needles, {time.monotonic() - started:.1f} s", flush=True)
        finally:
            t.close()


if __name__ == "__main__":
    unittest.main()
