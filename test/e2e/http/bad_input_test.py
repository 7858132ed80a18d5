#!/usr/bin/env python3
"""Hostile and malformed requests against a running server: each is answered
with a 4xx OperationOutcome, the server stays up, the store is unchanged, and
no patient data reaches the logs."""
import json
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from medvault_e2e import Vault  # noqa: E402

SECRET_NAME = "Zebulon-Quackenbush"  # appears in bodies and queries, must never be logged


class BadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault = Vault()
        cls.vault.add_user("drlee", "physician")
        cls.token, _ = cls.vault.token("drlee")
        cls.short_token, _ = cls.vault.token("drlee", ttl="1s")
        cls.revoked_token, revoked_id = cls.vault.token("drlee")
        cls.vault.run("token", "revoke", "--data", cls.vault.data, "--id", revoked_id)
        cls.live_token, cls.live_id = cls.vault.token("drlee")
        cls.server = cls.vault.serve()
        status, _, body = cls.server.json("POST", "/fhir/Patient", {
            "resourceType": "Patient", "name": [{"family": SECRET_NAME, "given": ["Ada"]}],
            "birthDate": "1961-05-17"}, token=cls.token)
        assert status == 201, body
        cls.patient_id = body["id"]
        cls.versions_before = cls.version_count()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        try:
            assert code == 0, f"server exit code {code}"
        finally:
            cls.vault.close()

    @classmethod
    def version_count(cls):
        status, _, b = cls.server.json("GET", "/fhir/_history?_count=1000", token=cls.token)
        assert status == 200, b
        return len(b.get("entry", []))

    def assert_outcome(self, status, headers, body, expected, what):
        self.assertEqual(status, expected, f"{what}: {body[:300]!r}")
        self.assertTrue(headers.get("content-type", "").startswith("application/fhir+json"), what)
        doc = json.loads(body)
        self.assertEqual(doc["resourceType"], "OperationOutcome", what)
        self.assertTrue(doc["issue"], what)
        self.assertEqual(headers.get("cache-control"), "no-store", what)

    def check(self, method, path, body=None, expected=400, token="default", content_type=None, headers=None):
        token = self.token if token == "default" else token
        status, hdrs, data = self.server.request(method, path, body, token=token,
                                                 content_type=content_type, headers=headers)
        self.assert_outcome(status, hdrs, data, expected, f"{method} {path}")
        self.assertTrue(self.server.alive())
        return hdrs, json.loads(data)

    def test_malformed_json(self):
        for body in ['{"resourceType":"Patient",', '{"resourceType":"Patient"} trailing', "[1,2", "nul",
                     '{"resourceType":"Patient","resourceType":"Patient"}', '"just a string"', "{}"]:
            self.check("POST", "/fhir/Patient", body, 400, content_type="application/fhir+json")

    def test_wrong_content_type(self):
        body = json.dumps({"resourceType": "Patient"})
        for ct in ["text/plain", "application/xml", "application/fhir+xml", "multipart/form-data",
                   "application/json; charset=iso-8859-1"]:
            self.check("POST", "/fhir/Patient", body, 415, content_type=ct)
        self.check("PUT", f"/fhir/Patient/{self.patient_id}", body, 415, content_type="text/html")
        self.check("GET", "/fhir/Patient?_format=xml", expected=415)

    def test_body_over_the_limit(self):
        head = (b"POST /fhir/Patient HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + self.token.encode() +
                b"\r\nContent-Type: application/fhir+json\r\nContent-Length: " + str(17 * 1024 * 1024).encode() +
                b"\r\n\r\n")
        reply = self.server.raw(head + b'{"resourceType":"Patient","x":"' + b"a" * 65536)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:200])
        self.assertIn(b"OperationOutcome", reply)
        self.assertTrue(self.server.alive())

    def test_header_too_large_and_garbage_requests(self):
        reply = self.server.raw(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 431"), reply[:200])
        for garbage in [b"GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n", b"\x00\x01\x02\r\n\r\n",
                        b"GET /fhir/Patient HTTP/9.9\r\n\r\n", b"GET http://evil/x HTTP/1.1\r\nHost: x\r\n\r\n"]:
            reply = self.server.raw(garbage)
            self.assertRegex(reply[:12], rb"HTTP/1.1 4\d\d", garbage)
        self.assertTrue(self.server.alive())

    def test_ids_with_path_or_sql_metacharacters(self):
        for bad_id in ["..%2F..%2Fetc%2Fpasswd", "1'%20OR%20'1'%3D'1", "x%3BDROP%20TABLE%20resources", "%2e%2e",
                       "a%00b", "%E2%80%AE", "a*", "a%20b", "x" * 65]:
            expected = 400
            self.check("GET", f"/fhir/Patient/{bad_id}", expected=expected)
            self.check("DELETE", f"/fhir/Patient/{bad_id}", expected=expected)
            self.check("PUT", f"/fhir/Patient/{bad_id}", {"resourceType": "Patient", "id": "x"}, expected=expected)
            self.check("GET", f"/fhir/Patient/{self.patient_id}/_history/{bad_id}", expected=expected)
        self.check("GET", "/fhir/Patient?_id=1'%20OR%201%3D1", expected=400)

    def test_invalid_utf8(self):
        body = b'{"resourceType":"Patient","name":[{"family":"\xff\xfe' + SECRET_NAME.encode() + b'"}]}'
        self.check("POST", "/fhir/Patient", body, 400, content_type="application/fhir+json")
        self.check("GET", "/fhir/Patient?name=%C3%28", expected=400)
        self.check("GET", "/fhir/Patient/%ED%A0%80", expected=400)

    def test_unknown_search_parameters(self):
        self.check("GET", f"/fhir/Patient?family={SECRET_NAME}&shoe-size=44",
                   headers={"Prefer": "handling=strict"}, expected=400)
        status, _, b = self.server.json("GET", f"/fhir/Patient?family={SECRET_NAME}&shoe-size=44",
                                        token=self.token, headers={"Prefer": "handling=lenient"})
        self.assertEqual(status, 200)
        self.assertEqual(b["total"], 1)
        outcomes = [e for e in b["entry"] if e["search"]["mode"] == "outcome"]
        self.assertEqual(len(outcomes), 1)
        self.assertIn("shoe-size", json.dumps(outcomes[0]))
        self.check("GET", "/fhir/Patient?birthdate=tomorrow", expected=400)
        self.check("GET", "/fhir/Patient?gender:fuzzy=male", expected=400)

    def test_deep_nesting_and_huge_arrays(self):
        deep = '{"resourceType":"Patient","extension":' + "[" * 5000 + "]" * 5000 + "}"
        self.check("POST", "/fhir/Patient", deep, 400, content_type="application/fhir+json")
        huge = '{"resourceType":"Patient","name":[' + ",".join(['{"family":"a"}'] * 150000) + "]}"
        hdrs, _ = self.check("POST", "/fhir/Patient", huge, 400, content_type="application/fhir+json")
        bundle = {"resourceType": "Bundle", "type": "batch",
                  "entry": [{"request": {"method": "GET", "url": "Patient/x"}}] * 5000}
        self.check("POST", "/fhir", bundle, 413)

    def test_bundles_that_reference_themselves(self):
        nested = {"resourceType": "Bundle", "type": "transaction", "entry": [{
            "fullUrl": "urn:uuid:0b0c5a4e-3a9e-4b8e-9d55-6f1b0e6a1c01",
            "resource": {"resourceType": "Bundle", "type": "transaction",
                         "entry": [{"fullUrl": "urn:uuid:0b0c5a4e-3a9e-4b8e-9d55-6f1b0e6a1c01"}]},
            "request": {"method": "POST", "url": "Bundle"}}]}
        self.check("POST", "/fhir", nested, 400)
        dangling = {"resourceType": "Bundle", "type": "transaction", "entry": [{
            "fullUrl": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001",
            "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                         "subject": {"reference": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000002"}},
            "request": {"method": "POST", "url": "Observation"}}]}
        self.check("POST", "/fhir", dangling, 400)
        to_itself = {"resourceType": "Bundle", "type": "transaction", "entry": [{
            "request": {"method": "POST", "url": "/fhir"}, "resource": {"resourceType": "Patient"}}]}
        self.check("POST", "/fhir", to_itself, 400)
        batch_in_batch = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "POST", "url": ""}}]}
        status, _, b = self.server.json("POST", "/fhir", batch_in_batch, token=self.token)
        self.assertEqual(status, 200)
        self.assertTrue(b["entry"][0]["response"]["status"].startswith("400"))

    def test_structural_validation(self):
        _, doc = self.check("POST", "/fhir/Patient", {"resourceType": "Patient", "birthDate": "17/05/1961"}, 422)
        self.assertEqual(doc["issue"][0]["expression"], ["Patient.birthDate"])
        self.check("POST", "/fhir/Observation", {"resourceType": "Observation", "code": {"text": "x"}}, 422)
        self.check("POST", "/fhir/Patient", {"resourceType": "Patient", "gender": 42}, 422)

    def test_tokens(self):
        self.check("GET", f"/fhir/Patient/{self.patient_id}", token=None, expected=401)
        self.check("GET", f"/fhir/Patient/{self.patient_id}", token="mvt_" + "A" * 43, expected=401)
        self.check("GET", f"/fhir/Patient/{self.patient_id}", headers={"Authorization": "Basic YTpi"}, token=None,
                   expected=401)
        time.sleep(1.5)
        hdrs, _ = self.check("GET", f"/fhir/Patient/{self.patient_id}", token=self.short_token, expected=401)
        self.assertTrue(hdrs["www-authenticate"].startswith("Bearer"))
        self.check("GET", f"/fhir/Patient/{self.patient_id}", token=self.revoked_token, expected=401)

    def test_zz_store_unchanged_and_logs_clean(self):
        # Runs last (unittest sorts by name).
        self.assertEqual(self.version_count(), self.versions_before)
        self.assertTrue(self.server.alive())
        logs = "\n".join(self.server.log_lines)
        self.assertNotIn(SECRET_NAME, logs)
        self.assertNotIn("1961-05-17", logs)
        self.assertNotIn(self.token, logs)
        for line in self.server.log_lines:
            json.loads(line)  # every log line is one JSON object

    def test_zzz_token_revoked_while_serving(self):
        # Last: revocation by the command line while the server runs.
        status, _, _ = self.server.request("GET", f"/fhir/Patient/{self.patient_id}", token=self.live_token)
        self.assertEqual(status, 200)
        self.vault.run("token", "revoke", "--data", self.vault.data, "--id", self.live_id)
        self.check("GET", f"/fhir/Patient/{self.patient_id}", token=self.live_token, expected=401)
        status, _, _ = self.server.request("GET", f"/fhir/Patient/{self.patient_id}", token=self.token)
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
