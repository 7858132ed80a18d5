#!/usr/bin/env python3
"""Online guessing is throttled (docs/auth-api.md, "Against guessing"):
1,000 wrong-password attempts spread round-robin over 20 accounts that have
a password and TOTP, sent from one address (127.0.0.1) by 8 client threads,
finish quickly (a throttled attempt is an immediate 429), none succeeds, and
only a handful are really checked: at most 10 per account, and for the
address no more than its 20 free failures plus one per wait that expired
during the attack (waits of 1, 2, 4, ... s). Every attempt has an audit entry
(checked ones as `login`, refused ones as throttled), a flagged
security-event is raised, and the owner of an attacked account still signs in
from another address (127.0.0.2) with the right password and a TOTP code."""
import math
import sys
import threading
import time
import unittest
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authlib import (Account, AuthVault, Client, action, address_of, attempted_name, enrol_totp,  # noqa: E402
                     failed, flagged, is_login_attempt, is_throttled, seq)

ACCOUNTS = 20
ATTEMPTS = 1000
THREADS = 8
TIME_LIMIT_S = 120  # generous: each throttled attempt still waits for its audit entry to be durable
ATTACKER = "127.0.0.1"
OWNER = "127.0.0.2"


class Throttle(unittest.TestCase):
    def test_throttle(self):
        vault = AuthVault()
        try:
            accounts = [Account(f"staff{i:02d}", vault.add_account(f"staff{i:02d}", "physician"))
                        for i in range(ACCOUNTS)]
            server = vault.serve()
            try:
                for a in accounts:
                    enrol_totp(server, a, source="127.0.0.3").logout()
                self.scenario(vault, server, accounts)
            finally:
                self.assertEqual(server.stop(), 0)
        finally:
            vault.close()

    def scenario(self, vault, server, accounts):
        first_seq = vault.audit_size() + 1
        results = []  # (account name, status, headers, body)
        lock = threading.Lock()
        todo = iter(range(ATTEMPTS))

        def attacker():
            c = Client(server, source=ATTACKER)
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                a = accounts[i % ACCOUNTS]
                r = c.login(a.name, a.password + f"-wrong{i}")
                with lock:
                    results.append((a.name, r.status, r.headers, r.body))

        t0 = time.monotonic()
        threads = [threading.Thread(target=attacker) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIME_LIMIT_S * 2)
        elapsed = time.monotonic() - t0
        self.assertEqual(len(results), ATTEMPTS, "every attempt was answered")
        self.assertLess(elapsed, TIME_LIMIT_S, "throttled attempts are answered at once")

        statuses = Counter(s for _, s, _, _ in results)
        self.assertEqual(statuses[200], 0, "no wrong password succeeds")
        self.assertEqual(set(statuses), {401, 429}, statuses)
        throttled = [(h, b) for _, s, h, b in results if s == 429]
        for h, _ in throttled:
            self.assertRegex(h.get("retry-after", ""), r"^[1-9][0-9]*$", "429 says when to come back")
        self.assertEqual(len({b for _, b in throttled}), 1, "one fixed 429 body")
        self.assertEqual(len({b for _, s, _, b in results if s == 401}), 1, "one fixed 401 body")

        # The audit log: one entry per attempt, checked and throttled told apart.
        events = vault.audit_events(first_seq)
        attempts = [e for e in events if is_login_attempt(e) and failed(e) and address_of(e) == ATTACKER]
        self.assertEqual(len(attempts), ATTEMPTS, "every attempt is audited")
        checked = [e for e in attempts if not is_throttled(e)]
        self.assertEqual(len(checked), statuses[401], "checked attempts are the 401s")
        self.assertEqual(len(attempts) - len(checked), statuses[429], "throttled attempts are the 429s")
        self.assertTrue(all(action(e) == "login" for e in checked))

        per_account = defaultdict(list)
        for e in sorted(attempts, key=seq):
            name = attempted_name(e)
            self.assertIn(name, {a.name for a in accounts}, f"audit entry names the account: {e}")
            per_account[name].append(is_throttled(e))
        self.assertEqual(set(per_account), {a.name for a in accounts})
        for name, marks in per_account.items():
            self.assertEqual(len(marks), ATTEMPTS // ACCOUNTS, name)
            before_first = marks.index(True) if True in marks else len(marks)
            self.assertLessEqual(before_first, 10, f"{name}: checked before the first throttled attempt")
            self.assertLessEqual(marks.count(False), 10, f"{name}: checked attempts in all")
        # The address counter: 20 free failures, then one check per expired
        # wait (1 s, 2 s, 4 s, ...: at most log2(elapsed + 1) + 1 of them).
        bound = 20 + int(math.log2(elapsed + 1)) + 1
        self.assertLessEqual(len(checked), bound, f"checked from {ATTACKER} in {elapsed:.1f} s")

        alerts = [e for e in events if action(e) == "security-event" and flagged(e)]
        self.assertTrue(alerts, "a flagged security event for the privacy officer")
        self.assertTrue(any(address_of(e) == ATTACKER for e in alerts))

        # The owner, from another address, with the right password and code.
        victim = accounts[7]
        c = Client(server, source=OWNER)
        r = c.login(victim.name, victim.password, victim.app.fresh())
        self.assertEqual(r.status, 200, f"owner locked out by the attack: {r}")
        self.assertEqual(r.json()["user"], victim.name)
        self.assertEqual(c.request("GET", "/fhir/Patient").status, 200)
        self.assertTrue(server.alive())


if __name__ == "__main__":
    unittest.main()
