// Streaming reader of import files: FHIR NDJSON (one resource per line) or a
// single JSON Bundle (collection, batch, transaction, searchset). Reads with a
// bounded buffer: a line longer than the limit is skipped without holding it
// in memory and reported as too large.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "fhir/resource.h"

namespace medvault::fhir {

struct ImportItem {
  std::string file;     // path as given
  uint64_t line = 0;    // 1-based line (NDJSON) or entry index + 1 (Bundle)
  Result<Resource> resource = make_error(Errc::internal, "unset");
  // For transaction Bundles: every item of the Bundle carries the same
  // group number and must be committed atomically with the others.
  uint64_t transaction_group = 0;  // 0 = none
};

class ImportReader {
 public:
  // Detects the format from the first non-blank line: a Bundle that spans
  // the whole file (on one line or pretty-printed over several) is read as a
  // Bundle, a single pretty-printed resource as one item, anything else as
  // NDJSON. Errors concern the whole file: Errc::io (cannot read),
  // Errc::too_large (a multi-line document over limits.max_bytes),
  // Errc::invalid (such a document malformed, a Bundle type other than
  // collection/batch/transaction/searchset/document, entry not an array).
  // In a Bundle, an entry whose fullUrl is "urn:uuid:<uuid>" and whose
  // resource has no id gets the uuid as id, and references to such fullUrls
  // become "Type/id".
  static Result<std::unique_ptr<ImportReader>> open(const std::filesystem::path& path,
                                                    const ParseLimits& limits = {});
  virtual ~ImportReader() = default;
  // Next item, or nullopt at end of file. Per-line problems (malformed JSON,
  // invalid UTF-8, unknown resourceType, missing id, too large) are items whose
  // `resource` holds the error; reading continues with the next line. Every
  // resource is also validated (validate()): a failure is an item whose error
  // message starts with the path ("Patient.birthDate: invalid date").
  // Blank lines are skipped (but counted).
  virtual std::optional<ImportItem> next() = 0;
  // Bytes consumed so far and total size, for progress display.
  virtual uint64_t bytes_read() const = 0;
  virtual uint64_t bytes_total() const = 0;
};

}  // namespace medvault::fhir
