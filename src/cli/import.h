#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "vault/repository.h"

namespace medvault::cli {

struct ImportSummary {
  uint64_t accepted = 0;  // valid resources handed to the vault
  uint64_t created = 0, updated = 0, unchanged = 0;
  uint64_t rejected = 0;  // lines or entries refused (each reported on stderr)
  double seconds = 0;
};

// Imports the files; each rejected line is reported on stderr as
// "FILE:LINE: reason". An error return means the vault refused a batch
// (storage or audit failure): earlier batches stay committed.
Result<ImportSummary> run_import(vault::Repository& repo, const vault::RequestContext& ctx,
                                 const std::vector<std::string>& files);

}  // namespace medvault::cli
