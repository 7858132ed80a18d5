// Where the command line gets secrets from: a file, the environment or a
// prompt on the terminal — never argv.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/secret.h"
#include "vault/vault.h"

namespace medvault::cli {

struct SecretSources {
  std::string passphrase_file;
  std::string key_file;
  std::vector<std::string> share_files;
};

// Reads a passphrase: from `file` (first line) if given, else the
// environment variable `env`, else a no-echo prompt on /dev/tty (asked twice
// when `confirm`). Errc::invalid if none is available or it is empty.
Result<crypto::SecretString> read_passphrase(const std::string& file, const char* env,
                                             const char* prompt, bool confirm);

// How to unseal the vault, from the options (shares, then key file, then
// passphrase from file/environment/prompt).
Result<vault::Unsealer> unsealer_from(const SecretSources& s);

}  // namespace medvault::cli
