// Unit-test helper: a new vault in `dir`/v, initialised and unsealed with a
// test passphrase and interactive Argon2id parameters. The caller removes
// `dir`. Header only, for *_test.cc files.
#pragma once

#include <filesystem>
#include <memory>

#include "vault/vault.h"

namespace medvault::vault::testing {

inline Result<std::unique_ptr<Vault>> make_test_vault(const std::filesystem::path& dir,
                                                      const Clock& clock = SystemClock::instance()) {
  InitOptions o;
  o.dir = dir / "v";
  o.passphrase = crypto::SecretString("test passphrase for unit tests");
  o.argon2 = crypto::Argon2Params::interactive();
  MV_TRY(Vault::init(o));
  Unsealer u;
  u.passphrase = crypto::SecretString("test passphrase for unit tests");
  return Vault::open(o.dir, u, clock);
}

}  // namespace medvault::vault::testing
