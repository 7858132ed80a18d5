#!/usr/bin/env python3
"""A sign-in with an unknown user name cannot be told from a wrong password
for a real account (docs/auth-api.md): same status, same body byte for byte,
same headers that matter, and the same time.

Method. 200 attempts of each kind, interleaved in pairs whose order is
random (so drift in machine load hits both kinds alike). Each attempt is
timed from just before the request is written to just after the whole
response body is read, with time.perf_counter, on a kept-alive TLS
connection that has just answered an untimed GET /healthz (which reopens it
if the server closed it while idle), so no TLS handshake is measured. The medians of the two kinds must differ by less
than 10 %.

Throttling would answer 429 at once and spoil the comparison, so no
counter may pass its free failures (5 per account and address, 20 per
address, 50 per account): the attempts come from 40 source addresses
127.0.1.1-40 (10 per address: 5 of each kind), go to 8 real accounts and 8
unknown names (25 each), and no account or name is tried twice from one
address. Runs with MEDVAULT_TEST_FAST_KDF=1 like every e2e test: a real and
a dummy verification then cost the same small Argon2id work, and any
difference left (a database lookup, an early return) shows all the more."""
import random
import statistics
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authlib import AuthVault, Client  # noqa: E402

PER_KIND = 200
ADDRESSES = [f"127.0.1.{i}" for i in range(1, 41)]
USERS = [f"clin{i}" for i in range(8)]
UNKNOWN = [f"nobody{i}" for i in range(8)]
MAX_RELATIVE_DIFF = 0.10


def plan(names):
    """PER_KIND (name, address) pairs: each address gets 5 distinct names."""
    out = []
    for k in range(PER_KIND):
        addr = k % len(ADDRESSES)
        out.append((names[(k // len(ADDRESSES) + addr) % len(names)], ADDRESSES[addr]))
    return out


class Timing(unittest.TestCase):
    def test_unknown_user_vs_wrong_password(self):
        vault = AuthVault()
        try:
            for u in USERS:
                vault.add_account(u, "physician")
            server = vault.serve()
            try:
                self.scenario(server)
            finally:
                self.assertEqual(server.stop(), 0)
        finally:
            vault.close()

    def scenario(self, server):
        clients = {a: Client(server, source=a) for a in ADDRESSES}
        rng = random.Random(4)
        wrong = plan(USERS)
        unknown = plan(UNKNOWN)
        for k in range(len(ADDRESSES)):  # no (name, address) pair twice
            self.assertEqual(len({p for p in wrong if p[1] == ADDRESSES[k]}), 5)

        times = {"wrong": [], "unknown": []}
        answers = {"wrong": set(), "unknown": set()}
        password = "Wrong-guess-" + "x" * 12

        def attempt(kind, name, addr):
            c = clients[addr]
            self.assertEqual(c.request("GET", "/healthz").status, 200)
            t = time.perf_counter()
            r = c.request("POST", "/api/auth/login", {"username": name, "password": password}, cookie=False)
            times[kind].append(time.perf_counter() - t)
            self.assertEqual(r.status, 401, f"{kind} {name} from {addr}: {r}")
            answers[kind].add((r.status, r.body, r.headers.get("content-type"),
                               r.headers.get("content-length"), tuple(r.set_cookies()),
                               "retry-after" in r.headers))

        for (wn, wa), (un, ua) in zip(wrong, unknown):
            pair = [("wrong", wn, wa), ("unknown", un, ua)]
            rng.shuffle(pair)
            for kind, name, addr in pair:
                attempt(kind, name, addr)

        self.assertEqual(len(answers["wrong"]), 1, "one answer for every wrong password")
        self.assertEqual(answers["wrong"], answers["unknown"], "unknown user: the same answer")
        mw, mu = statistics.median(times["wrong"]), statistics.median(times["unknown"])
        diff = abs(mw - mu) / min(mw, mu)
        print(f"median wrong password {mw * 1000:.2f} ms, unknown user {mu * 1000:.2f} ms, "
              f"difference {diff:.1%}", file=sys.stderr)
        self.assertLess(diff, MAX_RELATIVE_DIFF, f"wrong password {mw * 1000:.2f} ms vs unknown {mu * 1000:.2f} ms")
        self.assertTrue(server.alive())


if __name__ == "__main__":
    unittest.main()
