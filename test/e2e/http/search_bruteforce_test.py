#!/usr/bin/env python3
"""After importing ../shared/data/synthea-10 (plus a few Observations and
Appointments created through the API, types the sample lacks), every
supported search returns exactly the resources that a brute-force filter over
the same resources selects. The filter below implements the semantics of
docs/fhir-search.md (R4 search rules: word-prefix strings on normalised text,
tokens as code or system|code, date ranges with prefixes, references) on the
resources' JSON; it shares no code with the server. Every search follows the
server's paging links."""
import json
import os
import random
import re
import sys
import unicodedata
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from medvault_e2e import SHARED, Vault  # noqa: E402

DATA = SHARED / "data" / "synthea-10"
INF = float("inf")

# ---- the brute-force side ------------------------------------------------


def words(text):
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower().replace("ß", "ss")
    t = re.sub(r"['’]", "", t)
    return [w for w in re.split(r"[^0-9a-z]+", t) if w]


def parse_range(value):
    """[begin, end) in seconds of a FHIR date/dateTime/instant, at its precision."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
                     r"(Z|[+-]\d{2}:\d{2})?)?)?)?", value)
    if not m:
        raise ValueError(value)
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    if mo is None:
        b = datetime(int(y), 1, 1, tzinfo=timezone.utc)
        return b.timestamp(), datetime(int(y) + 1, 1, 1, tzinfo=timezone.utc).timestamp()
    if d is None:
        b = datetime(int(y), int(mo), 1, tzinfo=timezone.utc)
        e = datetime(int(y) + (int(mo) == 12), int(mo) % 12 + 1, 1, tzinfo=timezone.utc)
        return b.timestamp(), e.timestamp()
    if hh is None:
        b = datetime(int(y), int(mo), int(d), tzinfo=timezone.utc)
        return b.timestamp(), (b + timedelta(days=1)).timestamp()
    off = timezone.utc
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        off = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    b = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss or 0), tzinfo=off).timestamp()
    if ss is None:
        width = 60
    elif frac:
        b += int(frac[:3].ljust(3, "0")) / 1000
        width = 0.001
    else:
        width = 1
    return b, b + width


def date_matches(prefix, p, r):
    pb, pe = p
    rb, re_ = r
    eq = rb >= pb and re_ <= pe
    return {
        "eq": eq, "ne": not eq,
        "gt": re_ > pe, "lt": rb < pb,
        "ge": re_ > pe or eq, "le": rb < pb or eq,
        "sa": rb >= pe, "eb": re_ <= pb,
    }[prefix]


def codings(cc):
    """(system, code) pairs of a CodeableConcept, Coding, code string, or a list of them."""
    if cc is None:
        return []
    if isinstance(cc, list):
        return [x for c in cc for x in codings(c)]
    if isinstance(cc, str):
        return [(None, cc)]
    if "coding" in cc:
        return [(c.get("system"), c.get("code")) for c in cc["coding"] if c.get("code")]
    if "code" in cc:
        return [(cc.get("system"), cc["code"])]
    return []


def token_matches(pairs, value):
    if "|" in value:
        system, code = value.split("|", 1)
        return any(s == system and c == code for s, c in pairs)
    return any(c == value for _, c in pairs)


def ref_id(ref):
    if not isinstance(ref, dict) or "reference" not in ref:
        return None
    m = re.search(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})$", ref["reference"])
    return m.group(1) if m else None


# What each parameter reads, per type.
CLINICAL = {
    #                    patient element, code, status, category, date
    "Encounter":         ("subject", "type", "status", None, "period"),
    "Condition":         ("subject", "code", "clinicalStatus", "category", "onset"),
    "Observation":       ("subject", "code", "status", "category", "effective"),
    "MedicationRequest": ("subject", "medicationCodeableConcept", "status", "category", "authoredOn"),
    "AllergyIntolerance": ("patient", "code", "clinicalStatus", "category", "recordedDate"),
    "Immunization":      ("patient", "vaccineCode", "status", None, "occurrence"),
    "Procedure":         ("subject", "code", "status", "category", "performed"),
    "DocumentReference": ("subject", "type", "status", "category", "date"),
    "Appointment":       ("participant", "serviceType", "status", "serviceCategory", "start"),
}


def date_range_of(resource, element):
    """The resource's range for its date parameter, or None."""
    for key, v in resource.items():
        if key == element or (key.startswith(element) and key[len(element):][:1].isupper()):
            if isinstance(v, str):
                return parse_range(v)
            if isinstance(v, dict) and ("start" in v or "end" in v):
                b = parse_range(v["start"])[0] if "start" in v else -INF
                e = parse_range(v["end"])[1] if "end" in v else INF
                return b, e
    return None


def patient_ids(resource, element):
    if element == "participant":
        return {ref_id(p.get("actor")) for p in resource.get("participant", [])} - {None}
    return {ref_id(resource.get(element))} - {None}


def split_values(v):
    return [x.replace("\\,", ",") for x in re.split(r"(?<!\\),", v)]


def matches(rtype, resource, name, value):
    """Brute-force verdict for one parameter (comma values ORed)."""
    modifier = None
    if ":" in name:
        name, modifier = name.split(":", 1)
    values = split_values(value)
    if rtype == "Patient":
        if name in ("name", "family", "given"):
            texts = []
            for n in resource.get("name", []):
                if name in ("name", "family") and n.get("family"):
                    texts.append(n["family"])
                if name in ("name", "given"):
                    texts += n.get("given", [])
                if name == "name" and n.get("text"):
                    texts.append(n["text"])
            if modifier == "exact":
                return any(v in texts for v in values)
            have = [w for t in texts for w in words(t)]
            return any(all(any(h.startswith(q) for h in have) for q in words(v)) for v in values)
        if name == "gender":
            return resource.get("gender") in values
        if name == "birthdate":
            if "birthDate" not in resource:
                return False
            r = parse_range(resource["birthDate"])
            return any(date_matches(*prefixed(v), r) for v in values)
        if name == "identifier":
            pairs = [(i.get("system"), i.get("value")) for i in resource.get("identifier", [])]
            return any(token_matches(pairs, v) for v in values)
        if name == "telecom":
            def norm(v):
                return re.sub(r"\D", "", v) if re.fullmatch(r"[0-9+\-(). ]+", v) else v.lower()
            pairs = [(t.get("system"), norm(t.get("value", ""))) for t in resource.get("telecom", [])]
            return any(token_matches(pairs, ("|".join([v.split("|")[0], norm(v.split("|")[1])])
                                             if "|" in v else norm(v))) for v in values)
    patient_el, code_el, status_el, category_el, date_el = CLINICAL[rtype]
    if name in ("patient", "subject"):
        ids = patient_ids(resource, patient_el)
        return any(v.split("/")[-1] in ids for v in values)
    if name == "code":
        return any(token_matches(codings(resource.get(code_el)), v) for v in values)
    if name == "status":
        return any(token_matches(codings(resource.get(status_el)), v) for v in values)
    if name == "category":
        return any(token_matches(codings(resource.get(category_el)), v) for v in values)
    if name == "date":
        r = date_range_of(resource, date_el)
        return r is not None and any(date_matches(*prefixed(v), r) for v in values)
    raise AssertionError(f"no brute force for {rtype}.{name}")


def prefixed(v):
    m = re.match(r"(eq|ne|gt|lt|ge|le|sa|eb)?(.*)", v)
    return (m.group(1) or "eq"), parse_range(m.group(2))


# ---- the test ------------------------------------------------------------


class SearchBruteForceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not DATA.is_dir():
            raise unittest.SkipTest(f"{DATA} not found")
        cls.vault = Vault()
        files = sorted(p for p in DATA.glob("*.ndjson") if p.name != "log.ndjson")
        cls.vault.import_files(*files)
        cls.resources = {}  # type -> {id: resource}
        for f in files:
            for line in f.read_text().splitlines():
                if line.strip():
                    r = json.loads(line)
                    cls.resources.setdefault(r["resourceType"], {})[r["id"]] = r
        # A service account with system scope (it also writes fixtures): it is
        # about search answers, not the care-relationship policy (which
        # hides charts from a physician without a relationship).
        cls.vault.run("user", "add", "drsearch", "--role", "service", "--scope", "system/*.cruds",
                      "--data", cls.vault.data)
        cls.token, _ = cls.vault.token("drsearch")
        cls.server = cls.vault.serve()
        cls.add_missing_types()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.vault.close()
        assert code == 0, code

    @classmethod
    def add_missing_types(cls):
        """Observations and Appointments through a transaction (synthea-10 has none)."""
        rng = random.Random(7)
        patients = sorted(cls.resources["Patient"])
        loinc = [("8867-4", "Heart rate"), ("8310-5", "Body temperature"), ("29463-7", "Body weight")]
        entries = []
        for i in range(40):
            code, display = rng.choice(loinc)
            when = datetime(2010 + rng.randrange(12), rng.randrange(1, 13), rng.randrange(1, 28),
                            rng.randrange(24), tzinfo=timezone.utc)
            obs = {"resourceType": "Observation", "status": rng.choice(["final", "amended", "preliminary"]),
                   "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                             "code": rng.choice(["vital-signs", "laboratory"])}]}],
                   "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
                   "subject": {"reference": "Patient/" + rng.choice(patients)},
                   "valueQuantity": {"value": round(rng.uniform(30, 120), 1), "unit": "1"}}
            if i % 4 == 0:
                obs["effectivePeriod"] = {"start": when.isoformat(), **(
                    {"end": (when + timedelta(days=3)).isoformat()} if i % 8 else {})}
            else:
                obs["effectiveDateTime"] = when.isoformat()
            entries.append(obs)
        for i in range(15):
            start = datetime(2023, rng.randrange(1, 13), rng.randrange(1, 28), 9 + rng.randrange(8), tzinfo=timezone.utc)
            entries.append({
                "resourceType": "Appointment", "status": rng.choice(["booked", "fulfilled", "cancelled"]),
                "serviceCategory": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/service-category",
                                                 "code": rng.choice(["17", "35"])}]}],
                "serviceType": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/service-type",
                                             "code": rng.choice(["124", "57"])}]}],
                "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
                "participant": [{"actor": {"reference": "Patient/" + rng.choice(patients)}, "status": "accepted"}]})
        bundle = {"resourceType": "Bundle", "type": "transaction",
                  "entry": [{"resource": r, "request": {"method": "POST", "url": r["resourceType"]}} for r in entries]}
        status, _, resp = cls.server.json("POST", "/fhir", bundle, token=cls.token,
                                          headers={"Prefer": "return=representation"})
        assert status == 200, resp
        for e in resp["entry"]:
            r = e["resource"]
            cls.resources.setdefault(r["resourceType"], {})[r["id"]] = r

    def search(self, rtype, query):
        ids = [r["id"] for r in self.server.get_all(f"/fhir/{rtype}?{query}&_count=200", token=self.token)]
        self.assertEqual(len(ids), len(set(ids)), f"{rtype}?{query}: duplicates across pages")
        return set(ids)

    def expect(self, rtype, params):
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        expected = {rid for rid, r in self.resources.get(rtype, {}).items()
                    if all(matches(rtype, r, k, v) for k, v in params)}
        got = self.search(rtype, query)
        self.assertEqual(got, expected, f"{rtype}?{query}: {len(got)} returned, {len(expected)} expected")
        status, _, b = self.server.json("GET", f"/fhir/{rtype}?{query}&_summary=count", token=self.token)
        self.assertEqual(b["total"], len(expected), f"{rtype}?{query}&_summary=count")
        return len(expected)

    def test_patient(self):
        rng = random.Random(1)
        patients = list(self.resources["Patient"].values())
        nonempty = 0
        for p in rng.sample(patients, 5):
            n = p["name"][0]
            family, given = n["family"], n["given"][0]
            cases = [
                [("family", family)], [("family", family[:3].lower())], [("family", family.upper())],
                [("given", given)], [("given", given[:2])], [("name", f"{given[:3]} {family[:3]}")],
                [("name", f"{family},{patients[0]['name'][0]['given'][0]}")], [("name:exact", family)],
                [("name:exact", family.lower())],
                [("birthdate", p["birthDate"])], [("birthdate", p["birthDate"][:7])],
                [("birthdate", "ge" + p["birthDate"][:4])], [("birthdate", "lt" + p["birthDate"])],
                [("birthdate", "ne" + p["birthDate"][:4])], [("birthdate", "sa" + p["birthDate"][:7])],
                [("gender", p["gender"])], [("gender", "male,female")], [("family", family), ("gender", p["gender"])],
                [("identifier", p["identifier"][-1]["value"])],
                [("identifier", p["identifier"][-1]["system"] + "|" + p["identifier"][-1]["value"])],
            ]
            if p.get("telecom"):
                cases.append([("telecom", p["telecom"][0]["value"])])
            for params in cases:
                nonempty += self.expect("Patient", params) > 0
        self.assertGreater(nonempty, 60)  # the queries are not vacuous
        self.assertEqual(self.expect("Patient", [("family", "zzzznotaname")]), 0)

    def clinical(self, rtype):
        rng = random.Random(rtype)
        resources = list(self.resources[rtype].values())
        patient_el, code_el, status_el, category_el, date_el = CLINICAL[rtype]
        counts = []
        for r in rng.sample(resources, min(4, len(resources))):
            pid = sorted(patient_ids(r, patient_el))[0]
            pairs = codings(r.get(code_el))
            cases = [[("patient", pid)], [("patient", "Patient/" + pid)], [("code", pairs[0][1])],
                     [("code", f"{pairs[0][0]}|{pairs[0][1]}")], [("patient", pid), ("code", pairs[0][1])]]
            if patient_el == "subject":
                cases.append([("subject", "Patient/" + pid)])
            status = codings(r.get(status_el))
            if status:
                cases.append([("status", status[0][1])])
                cases.append([("patient", pid), ("status", status[0][1])])
            if category_el and codings(r.get(category_el)):
                cat = codings(r.get(category_el))[0]
                cases.append([("category", cat[1])])
                if cat[0]:
                    cases.append([("category", f"{cat[0]}|{cat[1]}")])
            rng_ = date_range_of(r, date_el)
            if rng_:
                day = datetime.fromtimestamp(rng_[0], timezone.utc)
                for v in [day.strftime("%Y"), day.strftime("%Y-%m"), "ge" + day.strftime("%Y-%m-%d"),
                          "lt" + day.strftime("%Y"), "gt" + day.strftime("%Y-%m"), "le" + day.strftime("%Y-%m-%d"),
                          "eb" + day.strftime("%Y"), "ge" + day.strftime("%Y-%m-%dT%H:%M:%SZ")]:
                    cases.append([("date", v)])
                cases.append([("patient", pid), ("date", "ge" + day.strftime("%Y"))])
            for params in cases:
                counts.append(self.expect(rtype, params))
        self.assertGreater(sum(1 for c in counts if c > 0), len(counts) // 2)

    def test_encounter(self):
        self.clinical("Encounter")

    def test_condition(self):
        self.clinical("Condition")

    def test_observation(self):
        self.clinical("Observation")

    def test_medication_request(self):
        self.clinical("MedicationRequest")

    def test_allergy_intolerance(self):
        self.clinical("AllergyIntolerance")

    def test_immunization(self):
        self.clinical("Immunization")

    def test_procedure(self):
        self.clinical("Procedure")

    def test_document_reference(self):
        self.clinical("DocumentReference")

    def test_appointment(self):
        self.clinical("Appointment")

    def test_ids_and_counts(self):
        ids = sorted(self.resources["Condition"])[:3]
        self.assertEqual(self.search("Condition", "_id=" + ",".join(ids)), set(ids))
        status, _, b = self.server.json("GET", "/fhir/Encounter?_summary=count", token=self.token)
        self.assertEqual(b["total"], len(self.resources["Encounter"]))
        status, _, b = self.server.json("GET", "/fhir/Procedure?_count=7&_sort=-_lastUpdated", token=self.token)
        self.assertEqual(len(b["entry"]), 7)
        stamps = [e["resource"]["meta"]["lastUpdated"] for e in b["entry"]]
        self.assertEqual(stamps, sorted(stamps, reverse=True))


if __name__ == "__main__":
    unittest.main(verbosity=2)
