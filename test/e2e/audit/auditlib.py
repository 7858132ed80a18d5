"""Shared pieces of the audit log's black-box tests: a vault with a log, copies
of it to tamper with, and the `audit verify` verdict."""
import os
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
from vaultlib import SYNTHEA10, Vault, synthea_secrets, medvault_bin  # noqa: E402,F401
import auditfiles  # noqa: E402,F401

VERIFIER = Path(__file__).resolve().parents[2] / "audit_verifier" / "verify.py"
INTEGRITY_EXIT = 6


def copy_vault(v, name):
    """A copy of v's data directory (no process has it open between commands)."""
    dst = os.path.join(v.tmp, name)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(v.data, dst)
    return dst


def verify(v, data, *extra):
    """`audit verify` on data: (returncode, stdout, stderr)."""
    p = v.run("audit", "verify", "--data", data, *extra, check=False)
    return p.returncode, p.stdout, p.stderr


def named_entry(stderr):
    """The sequence number `audit verify` names ("audit entry N: ..."), or None."""
    m = re.search(r"audit entry (\d+)", stderr)
    return int(m.group(1)) if m else None


def compartment(resource):
    """The patient whose compartment a FHIR resource is in (its own id for a
    Patient, else its subject/patient reference), or "" for shared resources."""
    if resource.get("resourceType") == "Patient":
        return resource["id"]
    for key in ("subject", "patient"):
        ref = resource.get(key, {}).get("reference", "")
        if ref.startswith("Patient/"):
            return ref.split("/", 1)[1]
    return ""
