"""A vault with the patients, care relationships, labels and consents the
access-policy tests need (docs/access-policy.md), and one account per role.

  p-rel     : Encounter e-rel (in progress) names Practitioner/dr-a
  p-norel   : no relationship to dr-a
  p-consent : CareTeam ct-1 names dr-a, but Consent c-1 refuses everyone
              except Practitioner/dr-z
Each patient has Observation obs-<p> (plain) and psy-<p> (labelled PSY).
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import time

from medvault_e2e import Vault

PATIENTS = ["p-rel", "p-norel", "p-consent"]
PSY = {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}]}


def resources():
    out = [
        {"resourceType": "Practitioner", "id": "dr-a", "name": [{"family": "Alpha"}]},
        {"resourceType": "Practitioner", "id": "dr-z", "name": [{"family": "Zeta"}]},
    ]
    for p in PATIENTS:
        out.append({"resourceType": "Patient", "id": p, "name": [{"family": "Fam" + p.replace("-", "")}],
                    "extension": [{"url": "http://example.org/clinical-flag", "valueString": "diabetic"}]})
        out.append({"resourceType": "Observation", "id": "obs-" + p, "status": "final", "code": {"text": "bp"},
                    "subject": {"reference": "Patient/" + p}})
        out.append({"resourceType": "Observation", "id": "psy-" + p, "status": "final", "meta": PSY,
                    "code": {"text": "mood"}, "subject": {"reference": "Patient/" + p}})
    out.append({"resourceType": "Encounter", "id": "e-rel", "status": "in-progress", "class": {"code": "AMB"},
                "subject": {"reference": "Patient/p-rel"},
                "participant": [{"individual": {"reference": "Practitioner/dr-a"}}]})
    out.append({"resourceType": "CareTeam", "id": "ct-1", "status": "active", "subject": {"reference": "Patient/p-consent"},
                "participant": [{"member": {"reference": "Practitioner/dr-a"}}]})
    out.append({"resourceType": "Consent", "id": "c-1", "status": "active",
                "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
                "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                "patient": {"reference": "Patient/p-consent"},
                "provision": {"type": "deny", "provision": [
                    {"type": "permit", "actor": [{"role": {"coding": [{"code": "PRCP"}]}, "reference": {"reference": "Practitioner/dr-z"}}]}]}})
    out.append({"resourceType": "Appointment", "id": "appt-1", "status": "booked", "start": "2030-01-01T09:00:00Z",
                "end": "2030-01-01T09:30:00Z", "reasonCode": [{"text": "psychiatric follow-up"}],
                "participant": [{"actor": {"reference": "Patient/p-norel"}, "status": "accepted"}]})
    return out


USERS = [
    ("doc", "physician", ["--practitioner", "dr-a"]),
    ("docpsy", "physician", ["--practitioner", "dr-a", "--grant", "PSY"]),
    ("nurse", "nurse", ["--practitioner", "dr-a"]),
    ("front", "reception", []),
    ("boss", "manager", []),
    ("it", "it-admin", []),
    ("aud", "auditor", []),
    ("svc", "service", ["--scope", "system/*.rs"]),
]


def make_vault(env=None):
    v = Vault()
    if env:
        v.env.update(env)
    path = os.path.join(v.tmp, "policy.ndjson")
    with open(path, "w") as f:
        for r in resources():
            f.write(json.dumps(r) + "\n")
    v.import_files(path)
    tokens = {}
    for name, role, extra in USERS:
        v.run("user", "add", name, "--role", role, "--data", v.data, *extra)
        tokens[name] = v.token(name)[0]
    return v, tokens


def totp(secret_b32, at=None):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((time.time() if at is None else at) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def audit_entries(vault):
    """The audit log as FHIR AuditEvents (medvault audit export)."""
    p = vault.run("audit", "export", "--data", vault.data)
    return p.stdout
