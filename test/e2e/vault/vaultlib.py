"""Shared pieces of the vault core's black-box tests (on top of the HTTP
tests' helpers): file scanning for clear text, and Synthea sample access."""
import base64
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "http"))
from medvault_e2e import SHARED, Vault, medvault_bin  # noqa: E402,F401

SYNTHEA10 = SHARED / "data" / "synthea-10"


def ndjson(path):
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def all_bytes_under(directory):
    """(path, bytes) of every regular file under directory."""
    for root, _dirs, files in os.walk(directory):
        for name in files:
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                yield p, f.read()


def find_clear_text(directory, needles):
    """Needles (str) found in any byte of any file, as (needle, path) pairs;
    each needle is searched as UTF-8 and as UTF-16-LE."""
    found = []
    encoded = [(n, n.encode()) for n in needles] + [(n, n.encode("utf-16-le")) for n in needles]
    for path, data in all_bytes_under(directory):
        for n, b in encoded:
            if b in data:
                found.append((n, path))
    return found


def synthea_secrets():
    """Names, birth dates, identifiers and note sentences of the Synthea-10 sample."""
    needles = set()
    for p in ndjson(SYNTHEA10 / "Patient.000.ndjson"):
        for name in p.get("name", []):
            needles.update(name.get("given", []))
            if "family" in name:
                needles.add(name["family"])
        if "birthDate" in p:
            needles.add(p["birthDate"])
        for ident in p.get("identifier", []):
            v = ident.get("value", "")
            # The Synthea identifier that repeats the logical id is not
            # patient data: logical ids may stay in clear (design brief).
            if len(v) >= 8 and v != p.get("id"):
                needles.add(v)
        for t in p.get("telecom", []):
            needles.add(t.get("value", ""))
        for a in p.get("address", []):
            needles.update(a.get("line", []))
    sentences = set()
    for i, d in enumerate(ndjson(SYNTHEA10 / "DocumentReference.000.ndjson")):
        if i >= 60:
            break
        for c in d.get("content", []):
            data = c.get("attachment", {}).get("data")
            if data:
                sentences.add(data[:40])  # the base64 form itself
                text = base64.b64decode(data).decode("utf-8", "replace")
                for line in text.splitlines():
                    line = line.strip()
                    if len(line) >= 24:
                        sentences.add(line)
    return {n for n in needles if len(n) >= 4}, sentences
