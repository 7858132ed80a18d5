"""The audit log of a SQLite vault, DATA/vault.db-audit/NNNNNNNNNN.log,
read and written from its specification (docs/formats/audit.md, section 3),
not from medvault's code: tests read the entries the server wrote, and tamper
with them as a forger who knows the format (but not the MAC key) would.

Segment k holds entries k*65536+1 .. (k+1)*65536: the 16-byte header
b"MVAUDIT1" + u64 first seq, then records, little-endian:
    u32 length (of the whole record), u64 check = BLAKE2b-64 of the bytes
    after it, u64 seq, i64 time (ms), u32 entry length, u16 patient length,
    u16 user length, 32-byte leaf hash, 32-byte chain, patient, user, entry.
"""
import hashlib
import os
import struct

SEGMENT = 1 << 16
MAGIC = b"MVAUDIT1"
FIXED = struct.Struct("<QqIHH")  # seq, time, entry, patient, user lengths
HEADER = 4 + 8 + FIXED.size + 64


def log_dir(data):
    return os.path.join(data, "vault.db-audit")


def segments(data):
    d = log_dir(data)
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".log") and len(n) == 14)


def check(body):
    return hashlib.blake2b(body, digest_size=8).digest()


def parse(blob, start=16):
    """The records of one segment's bytes: (offset, row) pairs, up to the
    first record that is incomplete or fails its check."""
    out, pos = [], start
    while pos + 4 <= len(blob):
        (length,) = struct.unpack_from("<I", blob, pos)
        if length < HEADER or pos + length > len(blob):
            break
        rec = blob[pos:pos + length]
        if check(rec[12:]) != rec[4:12]:
            break
        seq, time, elen, plen, ulen = FIXED.unpack_from(rec, 12)
        q = 12 + FIXED.size
        leaf, chain = rec[q:q + 32], rec[q + 32:q + 64]
        q += 64
        out.append((pos, {"seq": seq, "time": time, "patient": rec[q:q + plen].decode(),
                          "user": rec[q + plen:q + plen + ulen].decode(),
                          "entry": rec[q + plen + ulen:q + plen + ulen + elen], "leaf_hash": leaf,
                          "chain": chain}))
        pos += length
    return out


def rows(data):
    """Every entry, in file order."""
    out = []
    for path in segments(data):
        with open(path, "rb") as f:
            out += [r for _, r in parse(f.read())]
    return out


def size(data):
    """The number of entries (MAX(seq) of the old table)."""
    r = rows(data)
    return r[-1]["seq"] if r else 0


def encode(row):
    body = FIXED.pack(row["seq"], row["time"], len(row["entry"]), len(row["patient"].encode()),
                      len(row["user"].encode()))
    body += row["leaf_hash"] + row["chain"] + row["patient"].encode() + row["user"].encode() + row["entry"]
    return struct.pack("<I", 12 + len(body)) + check(body) + body


def write(data, all_rows):
    """Replaces the log with these rows, 65536 per segment, in the order
    given (sequence numbers as they are)."""
    for path in segments(data):
        os.remove(path)
    for k in range(max(1, (len(all_rows) + SEGMENT - 1) // SEGMENT)):
        part = all_rows[k * SEGMENT:(k + 1) * SEGMENT]
        with open(os.path.join(log_dir(data), "%010d.log" % k), "wb") as f:
            f.write(MAGIC + struct.pack("<Q", k * SEGMENT + 1) + b"".join(encode(r) for r in part))
