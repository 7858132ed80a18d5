#!/usr/bin/python3
"""Independent verifier for medvault audit-log checkpoints and proofs.

Written from the specifications only, in a different language from the
server, so that a bug shared by the server's prover and its verifier cannot
hide a forged log:

  * RFC 9162 (Certificate Transparency 2.0), section 2.1: the Merkle tree
    hash with leaf prefix 0x00 and node prefix 0x01, verification of
    inclusion proofs (2.1.3.2) and of consistency proofs (2.1.4.2);
  * C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 signatures;
  * C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint);
  * the verifier-key text form "<name>+<hex key id>+<base64(0x01 || key)>".

Standard library plus python3-cryptography (Debian package) for Ed25519.

  verify.py checkpoint NOTE_FILE VKEY
  verify.py inclusion --leaf-hex HEX --index I --size N --root-b64 R --proof-hex H1,H2,...
  verify.py consistency --old-size M --old-root-b64 R1 --new-size N --new-root-b64 R2 \
                        --proof-hex H1,H2,...
  verify.py selftest

VKEY is the verifier key text or a file holding it. --leaf-hex is the leaf
hash (32 bytes); --leaf-data-hex gives the entry bytes instead, hashed here.
Exit status 0 when valid; 1 with a one-line reason on stderr otherwise.
"""

import argparse
import base64
import hashlib
import os
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 100
EM_DASH_SPACE = "\u2014 "
ED25519_TYPE = 0x01


class Invalid(Exception):
    """The input does not verify; the message says why, on one line."""


# --------------------------------------------------------------------------
# RFC 9162 section 2.1


def sha256(data):
    return hashlib.sha256(data).digest()


def hash_leaf(entry):
    return sha256(b"\x00" + entry)


def hash_children(left, right):
    return sha256(b"\x01" + left + right)


def lsb(x):
    return x & 1 == 1


def verify_inclusion(leaf_hash, leaf_index, tree_size, inclusion_path, root_hash):
    """RFC 9162 2.1.3.2, step by step."""
    # 1.
    if leaf_index >= tree_size:
        raise Invalid("leaf index %d is not smaller than the tree size %d"
                      % (leaf_index, tree_size))
    # 2.
    fn = leaf_index
    sn = tree_size - 1
    # 3.
    r = leaf_hash
    # 4.
    for p in inclusion_path:
        # a.
        if sn == 0:
            raise Invalid("inclusion path is longer than the tree is high")
        # b.
        if lsb(fn) or fn == sn:
            r = hash_children(p, r)
            if not lsb(fn):
                while not lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        # c.
        fn >>= 1
        sn >>= 1
    # 5.
    if sn != 0:
        raise Invalid("inclusion path is shorter than the tree is high")
    if r != root_hash:
        raise Invalid("inclusion path does not lead to the root hash")


def verify_consistency(first, first_hash, second, second_hash, consistency_path):
    """RFC 9162 2.1.4.2, step by step, after the cases the RFC leaves out."""
    if first > second:
        raise Invalid("the old tree (%d) is larger than the new tree (%d)" % (first, second))
    if first == second:
        if consistency_path:
            raise Invalid("a proof between equal tree sizes must be empty")
        if first_hash != second_hash:
            raise Invalid("equal tree sizes but different root hashes")
        return
    if first == 0:
        if consistency_path:
            raise Invalid("a proof from the empty tree must be empty")
        if first_hash != sha256(b""):
            raise Invalid("the old root is not the hash of the empty tree")
        return
    path = list(consistency_path)
    # 1.
    if not path:
        raise Invalid("empty consistency path")
    # 2.
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    # 3.
    fn = first - 1
    sn = second - 1
    # 4.
    while lsb(fn):
        fn >>= 1
        sn >>= 1
    # 5.
    fr = path[0]
    sr = path[0]
    # 6.
    for c in path[1:]:
        # a.
        if sn == 0:
            raise Invalid("consistency path is too long")
        # b.
        if lsb(fn) or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not lsb(fn):
                while not lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        # c.
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise Invalid("consistency path is too short")
    if fr != first_hash:
        raise Invalid("consistency path does not lead to the old root hash")
    if sr != second_hash:
        raise Invalid("consistency path does not lead to the new root hash")


# --------------------------------------------------------------------------
# C2SP signed-note, tlog-checkpoint and verifier keys


def b64decode_strict(text, what):
    """RFC 4648 section 4 base64, padded and canonical."""
    if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) or len(text) % 4 != 0 or not text:
        raise Invalid("%s is not base64" % what)
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise Invalid("%s is not canonical base64" % what)
    return raw


def check_key_name(name, what):
    # Non-empty, no Unicode space (str.isspace covers White_Space), no '+'.
    if not name or "+" in name or any(ch.isspace() or ord(ch) < 0x20 for ch in name):
        raise Invalid("%s is not a valid key name" % what)


def key_id(name, public_key):
    digest = sha256(name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + public_key)
    return int.from_bytes(digest[:4], "big")


def parse_vkey(text):
    """'<name>+<8 hex digits>+<base64(0x01 || 32-byte key)>' -> (name, id, key)."""
    text = text.strip()
    name, sep, rest = text.partition("+")
    if not sep:
        raise Invalid("verifier key is not <name>+<id>+<key>")
    check_key_name(name, "verifier key name")
    hex_id, sep, key64 = rest.partition("+")
    if not sep or not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise Invalid("verifier key id is not 8 hexadecimal digits")
    raw = b64decode_strict(key64, "verifier key")
    if len(raw) != 33 or raw[0] != ED25519_TYPE:
        raise Invalid("verifier key is not an Ed25519 key")
    kid = int(hex_id, 16)
    if key_id(name, raw[1:]) != kid:
        raise Invalid("verifier key id does not match its name and key")
    return name, kid, raw[1:]


def open_note(data, vkey):
    """Returns the note text if it carries a valid signature by vkey."""
    name, kid, public_key = vkey
    if len(data) > MAX_NOTE_BYTES:
        raise Invalid("note is too large")
    try:
        note = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Invalid("note is not valid UTF-8") from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise Invalid("note contains a control character")
    if not note.endswith("\n"):
        raise Invalid("note does not end in a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise Invalid("note has no blank line before its signatures")
    text = note[: cut + 1]
    lines = note[cut + 2 :].split("\n")[:-1]
    if not lines:
        raise Invalid("note has no signature")
    if len(lines) > MAX_SIGNATURES:
        raise Invalid("note has too many signatures")
    found = False
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    for number, line in enumerate(lines, 1):
        if not line.startswith(EM_DASH_SPACE):
            raise Invalid("signature line %d does not start with an em dash" % number)
        signer, sep, sig64 = line[len(EM_DASH_SPACE) :].partition(" ")
        if not sep:
            raise Invalid("signature line %d has no signature" % number)
        check_key_name(signer, "signature line %d key name" % number)
        sig = b64decode_strict(sig64, "signature line %d" % number)
        if len(sig) < 5:
            raise Invalid("signature line %d is too short" % number)
        if signer != name or int.from_bytes(sig[:4], "big") != kid:
            continue  # another key (a witness, an old key): ignored
        try:
            if len(sig) != 4 + 64:
                raise InvalidSignature()
            verifier.verify(sig[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise Invalid("signature by %s+%08x does not verify" % (name, kid)) from None
        found = True
    if not found:
        raise Invalid("no signature by %s+%08x" % (name, kid))
    return text


def parse_checkpoint(text):
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise Invalid("checkpoint has fewer than three lines")
    if any(line == "" for line in lines):
        raise Invalid("checkpoint has an empty line")
    origin, size_line, root_line = lines[:3]
    if not re.fullmatch(r"0|[1-9][0-9]*", size_line) or int(size_line) >= 2**64:
        raise Invalid("checkpoint tree size is not a decimal number below 2^64")
    root = b64decode_strict(root_line, "checkpoint root hash")
    if len(root) != 32:
        raise Invalid("checkpoint root hash is not 32 bytes")
    return origin, int(size_line), root, lines[3:]


# --------------------------------------------------------------------------
# Command line


def hash_arg(text, what):
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise Invalid("%s is not hexadecimal" % what) from None
    if len(raw) != 32:
        raise Invalid("%s is not 32 bytes" % what)
    return raw


def proof_arg(text):
    if text.strip() == "":
        return []
    return [hash_arg(h, "proof hash %d" % (i + 1)) for i, h in enumerate(text.split(","))]


def root_arg(text, what):
    root = b64decode_strict(text, what)
    if len(root) != 32:
        raise Invalid("%s is not 32 bytes" % what)
    return root


def read_vkey(arg):
    if os.path.isfile(arg):
        with open(arg, encoding="utf-8") as f:
            return f.read()
    return arg


def cmd_checkpoint(args):
    with open(args.note, "rb") as f:
        data = f.read(MAX_NOTE_BYTES + 1)
    text = open_note(data, parse_vkey(read_vkey(args.vkey)))
    origin, size, root, _ = parse_checkpoint(text)
    print("origin %s" % origin)
    print("size %d" % size)
    print("root %s" % base64.b64encode(root).decode("ascii"))


def cmd_inclusion(args):
    if (args.leaf_hex is None) == (args.leaf_data_hex is None):
        raise Invalid("give exactly one of --leaf-hex and --leaf-data-hex")
    if args.leaf_hex is not None:
        leaf = hash_arg(args.leaf_hex, "leaf hash")
    else:
        try:
            leaf = hash_leaf(bytes.fromhex(args.leaf_data_hex))
        except ValueError:
            raise Invalid("leaf data is not hexadecimal") from None
    verify_inclusion(leaf, args.index, args.size, proof_arg(args.proof_hex),
                     root_arg(args.root_b64, "root hash"))
    print("inclusion of leaf %d in the tree of %d: valid" % (args.index, args.size))


def cmd_consistency(args):
    verify_consistency(args.old_size, root_arg(args.old_root_b64, "old root hash"),
                       args.new_size, root_arg(args.new_root_b64, "new root hash"),
                       proof_arg(args.proof_hex))
    print("tree of %d is a prefix of the tree of %d: valid" % (args.old_size, args.new_size))


def cmd_selftest(_args):
    """Published known answers: RFC 6962 reference tree (certificate-transparency
    merkle_tree_test.cc, transparency-dev/merkle) and a golang.org/x/mod signed
    note. A verifier that cannot pass them must not be trusted."""
    inputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
    leaves = [hash_leaf(bytes.fromhex(i)) for i in inputs]
    roots = [bytes.fromhex(h) for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]]
    h = bytes.fromhex
    paths = [  # (0-based index, size, path)
        (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    ]
    for index, size, path in paths:
        path = [h(p) for p in path]
        verify_inclusion(leaves[index], index, size, path, roots[size - 1])
        bad = list(path)
        bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
        expect_invalid(lambda: verify_inclusion(leaves[index], index, size, bad, roots[size - 1]))
    proofs = [
        (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
        (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    ]
    for m, n, proof in proofs:
        proof = [h(p) for p in proof]
        verify_consistency(m, roots[m - 1], n, roots[n - 1], proof)
        expect_invalid(lambda: verify_consistency(m, roots[n - 1], n, roots[m - 1], proof))
    verify_consistency(1, roots[0], 1, roots[0], [])

    vkey = parse_vkey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    text = ("If you think cryptography is the answer to your problem,\n"
            "then you don't know what your problem is.\n")
    sig = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
           "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
    if open_note((text + "\n" + sig).encode("utf-8"), vkey) != text:
        raise Invalid("selftest: the reference note text was not returned")
    expect_invalid(lambda: open_note((text.upper() + "\n" + sig).encode("utf-8"), vkey))
    print("selftest: all known answers verified")


def expect_invalid(fn):
    try:
        fn()
    except Invalid:
        return
    raise Invalid("selftest: a tampered known answer verified")


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Invalid("usage: " + message)


def main(argv):
    parser = Parser(description="Independent verifier for medvault checkpoints and proofs.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("checkpoint", help="verify a signed checkpoint")
    p.add_argument("note")
    p.add_argument("vkey")
    p.set_defaults(run=cmd_checkpoint)
    p = sub.add_parser("inclusion", help="verify an inclusion proof")
    p.add_argument("--leaf-hex")
    p.add_argument("--leaf-data-hex")
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--root-b64", required=True)
    p.add_argument("--proof-hex", required=True)
    p.set_defaults(run=cmd_inclusion)
    p = sub.add_parser("consistency", help="verify a consistency proof")
    p.add_argument("--old-size", type=int, required=True)
    p.add_argument("--old-root-b64", required=True)
    p.add_argument("--new-size", type=int, required=True)
    p.add_argument("--new-root-b64", required=True)
    p.add_argument("--proof-hex", required=True)
    p.set_defaults(run=cmd_consistency)
    p = sub.add_parser("selftest", help="check the verifier against published known answers")
    p.set_defaults(run=cmd_selftest)
    try:
        args = parser.parse_args(argv)
        for name in ("index", "size", "old_size", "new_size"):
            if getattr(args, name, 0) is not None and getattr(args, name, 0) < 0:
                raise Invalid("--%s must not be negative" % name.replace("_", "-"))
        args.run(args)
    except Invalid as e:
        print("invalid: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("invalid: cannot read input: %s" % (e.strerror or e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
