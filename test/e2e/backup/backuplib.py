"""Shared pieces of the backup tests: a vault with a 2-of-3 recovery kit
(made with `medvault kit create`), the marker patient, exports."""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "http"))
from vaultlib import SYNTHEA10, Vault, find_clear_text, synthea_secrets  # noqa: E402,F401

MARKERS = ["Qwxzorbellian", "Zyphranelle", "MRK-7731-9942-QX", "Xanthorpe-sur-Mer",
           "The marker sentence says the patient hums Vltava backwards"]


def marker_file(directory):
    p = os.path.join(directory, "markers.ndjson")
    patient = {"resourceType": "Patient", "id": "marker-patient-1",
               "identifier": [{"system": "https://medvault.example/mrn", "value": MARKERS[2]}],
               "name": [{"family": MARKERS[0], "given": [MARKERS[1]]}],
               "address": [{"city": MARKERS[3]}]}
    cond = {"resourceType": "Condition", "id": "marker-condition-1",
            "subject": {"reference": "Patient/marker-patient-1"}, "code": {"text": "marker"},
            "note": [{"text": MARKERS[4]}]}
    with open(p, "w") as f:
        f.write(json.dumps(patient) + "\n" + json.dumps(cond) + "\n")
    return p


class KitVault(Vault):
    """A vault with Synthea-10, the markers and a 2-of-3 recovery kit."""

    def __init__(self, synthea=True):
        super().__init__()
        self.kit = os.path.join(self.tmp, "kit")
        self.run("kit", "create", "--data", self.data, "--shares", "3", "--threshold", "2", "--kit", self.kit)
        files = [marker_file(self.tmp)]
        if synthea:
            files += sorted(str(p) for p in SYNTHEA10.glob("[A-Z]*.ndjson"))  # FHIR files only (not log.ndjson)
        self.import_files(*files)

    def share(self, n):
        return os.path.join(self.kit, f"share-{n}.txt")

    def export(self, data=None, env=None):
        import subprocess
        from medvault_e2e import medvault_bin
        p = subprocess.run([medvault_bin(), "export", "--data", data or self.data], env=env or self.env,
                           capture_output=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError("export failed: " + p.stderr.decode())
        return p.stdout
