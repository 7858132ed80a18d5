#!/usr/bin/env python3
"""Searches that stop early (issue 8) and FHIR `_total`.

Without `_total=accurate` the server checks candidates only until the page is
full plus one permitted match: Bundle.total is present only when the
candidates ran out (then it is exact), `next` exists when a permitted match
follows. `_total=accurate` gives the exact total, `_total=none` none. In every
mode hidden resources (a sensitivity label without grant, a consent refusal,
no care relationship) are never counted, paged over or named in the audit
(docs/fhir-search.md, "Totals and paging")."""
import json
import os
import sys
import unittest
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from policy_fixture import PSY, audit_entries, make_vault  # noqa: E402

N = 60  # interleaved candidates, then HIDDEN_TAIL hidden ones after the last visible


def observations():
    """obs-00..obs-59: i % 5 in (0, 1, 2) visible to `doc` (p-rel, plain);
    3: p-rel with PSY (only `docpsy`) or p-consent (refused) by turns;
    4: p-norel (no relationship). obs-60..obs-69: hidden, by the same three
    reasons, so that the last visible match is followed by hidden ones."""
    out, visible, psy = [], [], []
    for i in range(N + 10):
        oid = f"obs-{i:02d}"
        r = {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "bp"},
             "subject": {"reference": "Patient/p-rel"}}
        kind = i % 5 if i < N else 3 + i % 2
        if kind == 3 and (i // 5) % 2 == 0:
            r["meta"] = PSY
            psy.append(oid)
        elif kind == 3:
            r["subject"]["reference"] = "Patient/p-consent"
        elif kind == 4:
            r["subject"]["reference"] = "Patient/p-norel"
        else:
            visible.append(oid)
        out.append(r)
    return out, visible, psy


class SearchTotalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault, cls.tokens = make_vault()
        # The fixture's own Observations (obs-p-*, psy-p-*) sort after these.
        obs, cls.visible, cls.psy = observations()
        path = os.path.join(cls.vault.tmp, "many.ndjson")
        with open(path, "w") as f:
            for r in obs:
                f.write(json.dumps(r) + "\n")
        cls.vault.import_files(path)
        cls.visible.append("obs-p-rel")  # the fixture's plain Observation of p-rel
        cls.psy.append("psy-p-rel")
        cls.server = cls.vault.serve()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.vault.close()

    def get(self, path, user="doc"):
        status, _, b = self.server.json("GET", path, token=self.tokens[user])
        self.assertEqual(status, 200, (path, b))
        return b

    @staticmethod
    def ids(b):
        return [e["resource"]["id"] for e in b.get("entry", []) if e["search"]["mode"] == "match"]

    @staticmethod
    def next_path(b):
        nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
        if not nxt:
            return None
        u = urllib.parse.urlsplit(nxt[0])
        return u.path + "?" + u.query

    def walk(self, path, user="doc"):
        """Every page by `next` links: [(ids, total or None, has next)]."""
        pages = []
        while path:
            b = self.get(path, user)
            path = self.next_path(b)
            pages.append((self.ids(b), b.get("total"), path is not None))
        return pages

    def test_page_without_total_has_the_right_entries_and_a_next_link(self):
        b = self.get("/fhir/Observation?_count=5")
        self.assertNotIn("total", b)
        self.assertEqual(self.ids(b), self.visible[:5])
        self.assertIn("_offset=5", self.next_path(b))
        pages = self.walk("/fhir/Observation?_count=5")
        self.assertEqual([i for ids, _, _ in pages for i in ids], self.visible, "every visible one, once, in order")
        self.assertEqual(len(pages), -(-len(self.visible) // 5))
        for ids, total, more in pages[:-1]:
            self.assertEqual((len(ids), total, more), (5, None, True))
        # The last page ran out of candidates: its total is exact, though
        # hidden candidates came after its last entry.
        last_ids, last_total, last_more = pages[-1]
        self.assertEqual((last_total, last_more), (len(self.visible), False))
        # A page that ends exactly on the last visible match has no next
        # link either: only hidden candidates follow.
        n = len(self.visible)
        b = self.get(f"/fhir/Observation?_count=1&_offset={n - 1}")
        self.assertEqual((self.ids(b), b.get("total"), self.next_path(b)), ([self.visible[-1]], n, None))
        b = self.get(f"/fhir/Observation?_count=1&_offset={n - 2}")
        self.assertEqual((self.ids(b), b.get("total")), ([self.visible[-2]], None))
        self.assertIsNotNone(self.next_path(b))
        # Past the end: nothing, and the visible count only.
        for off in (n, n + 5, N + 20):
            b = self.get(f"/fhir/Observation?_count=5&_offset={off}")
            self.assertEqual((self.ids(b), b.get("total"), self.next_path(b)), ([], n, None), off)

    def test_accurate_total_counts_exactly_what_the_caller_may_see(self):
        b = self.get("/fhir/Observation?_count=5&_total=accurate")
        self.assertEqual(b["total"], len(self.visible))
        self.assertEqual(self.ids(b), self.visible[:5])
        self.assertIn("_total=accurate", self.next_path(b))
        pages = self.walk("/fhir/Observation?_count=7&_total=accurate")
        self.assertEqual({t for _, t, _ in pages}, {len(self.visible)})
        self.assertEqual([i for ids, _, _ in pages for i in ids], self.visible)
        self.assertEqual(self.get("/fhir/Observation?_summary=count")["total"], len(self.visible))
        # The PSY grant opens the labelled ones, not the consent-refused or
        # unrelated ones.
        allowed = sorted(self.visible + self.psy)
        b = self.get("/fhir/Observation?_count=5&_total=accurate", "docpsy")
        self.assertEqual((b["total"], self.ids(b)), (len(allowed), allowed[:5]))
        self.assertEqual([i for ids, _, _ in self.walk("/fhir/Observation?_count=9", "docpsy") for i in ids], allowed)

    def test_hidden_resources_are_never_counted_or_leaked(self):
        hidden = {f"obs-{i:02d}" for i in range(N + 10)} - set(self.visible)
        self.assertGreater(len(hidden), 25)
        for mode in ("", "&_total=accurate", "&_total=none", "&_total=estimate"):
            for q in ("_count=5", "_count=100", "patient=p-norel", "patient=p-consent", "_id=obs-03,obs-04,obs-08",
                      "patient=p-rel&_count=3"):
                for ids, total, _ in self.walk(f"/fhir/Observation?{q}{mode}"):
                    self.assertFalse(set(ids) & hidden, q + mode)
                    if mode == "&_total=none":
                        self.assertIsNone(total, q + mode)
                    elif total is not None:
                        self.assertLessEqual(total, len(self.visible), q + mode)
            # Only hidden candidates: nothing, and no trace of them.
            for q in ("patient=p-norel", "patient=p-consent", "_id=obs-03,obs-04,obs-08", "_id=obs-03&_count=0"):
                b = self.get(f"/fhir/Observation?{q}{mode}")
                self.assertEqual((self.ids(b), self.next_path(b)), ([], None), q + mode)
                if mode != "&_total=none" or "_count=0" in q:
                    self.assertEqual(b["total"], 0, q + mode)
        # The audit names only patients whose data doc received.
        doc_searches = [json.loads(line) for line in audit_entries(self.vault).splitlines()]
        named = set()
        for ev in doc_searches:
            if ev["subtype"][-1]["code"] != "search" or ev["agent"][0]["who"]["identifier"]["value"] != "doc":
                continue
            for ent in ev.get("entity", []):
                if ent.get("role", {}).get("code") == "1":
                    named.add(ent["what"]["reference"])
        self.assertEqual(named, {"Patient/p-rel"})

    def test_bad_total_is_a_400_operation_outcome(self):
        for q in ("_total=exact", "_total=", "_total=ACCURATE", "_total=accurate,none", "_total:exact=none"):
            for strict in (False, True):
                headers = {"Prefer": "handling=strict"} if strict else None
                status, _, b = self.server.json("GET", "/fhir/Observation?" + q, headers=headers,
                                                token=self.tokens["doc"])
                self.assertEqual(status, 400, q)
                self.assertEqual(b["resourceType"], "OperationOutcome")
                self.assertIn('"_total"', b["issue"][0]["diagnostics"], q)
        status, _, b = self.server.json("GET", "/fhir/Observation?_total=exact", token=self.tokens["doc"])
        self.assertEqual(b["issue"][0]["diagnostics"], 'search parameter "_total": expected none, estimate or accurate')
        status, _, b = self.server.json("POST", "/fhir/Observation/_search", "_total=sometimes",
                                        token=self.tokens["doc"], content_type="application/x-www-form-urlencoded")
        self.assertEqual((status, b["resourceType"]), (400, "OperationOutcome"))

    def test_capability_statement_lists_total(self):
        status, _, cs = self.server.json("GET", "/fhir/metadata")
        self.assertEqual(status, 200)
        self.assertIn("_total=none|estimate|accurate", cs["rest"][0]["documentation"])


if __name__ == "__main__":
    unittest.main()
