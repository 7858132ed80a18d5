"""Checkpoints every T seconds while the server runs, handed to a witness:
`medvault serve --checkpoint-interval 1 --witness-file F` keeps F holding the
newest signed checkpoint; it verifies against the log, a log rolled back
below it is caught, and a quiet server signs nothing new."""
import os
import sqlite3
import time
import unittest

from auditlib import Vault, auditfiles, copy_vault, verify, INTEGRITY_EXIT


def wait_for(pred, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def note_size(path):
    """The tree size of a C2SP checkpoint note: its second line."""
    with open(path) as f:
        return int(f.read().split("\n")[1])


class WitnessTimer(unittest.TestCase):
    def test_server_hands_fresh_checkpoints_to_the_witness(self):
        v = Vault()
        try:
            v.add_user("dr-w", "physician")
            token, _ = v.token("dr-w")
            witness = os.path.join(v.tmp, "witness.note")
            srv = v.serve("--checkpoint-interval", "1", "--witness-file", witness)
            try:
                for i in range(5):
                    st, _, _ = srv.request("POST", "/fhir/Patient", body=b'{"resourceType":"Patient","gender":"female"}',
                                           token=token, content_type="application/fhir+json")
                    self.assertEqual(st, 201)
                self.assertTrue(wait_for(lambda: os.path.exists(witness)), "no checkpoint reached the witness file")
                n = auditfiles.size(v.data)
                self.assertTrue(wait_for(lambda: note_size(witness) >= n), "the witness never got the newest entries")
                first = note_size(witness)
                mtime = os.stat(witness).st_mtime_ns
                time.sleep(2.5)  # a quiet server: nothing new to sign
                self.assertEqual(os.stat(witness).st_mtime_ns, mtime)
                self.assertEqual(note_size(witness), first)
            finally:
                srv.stop()

            rc, out, err = verify(v, v.data, "--checkpoint", witness)
            self.assertEqual(rc, 0, err)
            self.assertIn("extends the exported checkpoint", out)

            # Rolled back below what the witness holds (and the stored
            # checkpoints that would show it removed too): caught.
            bad = copy_vault(v, "rolled-back")
            size = note_size(witness)
            auditfiles.write(bad, auditfiles.rows(bad)[:size - 2])
            with sqlite3.connect(os.path.join(bad, "vault.db")) as c:
                c.execute("DELETE FROM audit_checkpoint WHERE size > ?", (size - 2,))
            rc, out, err = verify(v, bad, "--checkpoint", witness)
            self.assertEqual(rc, INTEGRITY_EXIT, out + err)
        finally:
            v.close()


if __name__ == "__main__":
    unittest.main()
