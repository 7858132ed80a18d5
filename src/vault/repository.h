// The repository facade: the one way to patient data.
//
// Every operation (1) asks the access policy for a decision, (2) appends the
// audit entry, durably, before any patient data is returned, (3) encrypts or
// decrypts. If the audit log cannot be written the operation fails with
// Errc::unavailable (fail closed). Handlers (http/, cli/) never touch the
// store or the keys: they hold a Repository&.
//
// Thread safety: all methods may be called concurrently from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "access/policy.h"
#include "audit/entry.h"
#include "common/result.h"
#include "fhir/resource.h"

namespace medvault::vault {

// Who asks, why and from where; one per request.
struct RequestContext {
  access::Subject subject;
  std::string purpose = "TREAT";  // purpose of use (v3 ActReason code)
  std::string address = "cli";    // client IP address or "cli"
  std::string workstation;
  std::string request_id;
  // Set by a caller that holds its answer until the audit entries of a read
  // are on disk (the HTTP server): the repository then queues those entries
  // here instead of appending them, and the caller hands them to
  // Vault::audit_async and releases nothing before it reports success.
  // Entries of writes commit with the change and never come here.
  std::vector<audit::Entry>* deferred_audit = nullptr;
  // Set by the same caller: a resource write then commits without waiting
  // for the disk (store::Transaction::commit_unsynced) and sets *this; the
  // caller answers only after audit::Log::append_async (with the entries
  // held, or none) has reported everything committed before it durable.
  bool* unsynced_write = nullptr;
};

// A stored version as handed to callers. `json` is the resource as stored
// (with id, meta.versionId and meta.lastUpdated), empty for a delete marker.
struct StoredResource {
  std::string type;
  std::string id;
  uint64_t version = 0;
  int64_t last_updated_ms = 0;
  bool deleted = false;
  std::string json;
};

// A search: AND across terms, OR within each term's values. Values are
// normalised values as produced for fhir::index_entries(); the facade turns
// them into blind-index tokens.
struct SearchTerm {
  std::string param;
  std::vector<std::string> values;
};

struct SearchRequest {
  std::string type;
  std::vector<SearchTerm> terms;
  std::vector<std::string> ids;                  // _id (OR); empty = any
  std::optional<int64_t> updated_from_ms;        // _lastUpdated, inclusive
  std::optional<int64_t> updated_to_ms;          // _lastUpdated, exclusive
  // Applied to each candidate after decryption (date ranges, prefixes that
  // have no index). Must be pure and thread-safe.
  std::function<bool(const fhir::Resource&)> residual;
  bool newest_first = false;  // _sort=-_lastUpdated; else ordered by id
  size_t offset = 0;          // permitted matches skipped before the page
  size_t count = 20;          // 0: total only (_summary=count); implies accurate_total
  // FHIR _total=accurate: check every candidate so that SearchResult::total
  // is exact. Otherwise candidates are decrypted and decided lazily and the
  // walk stops at the first permitted match after the page.
  bool accurate_total = false;
};

struct SearchResult {
  // The number of matches the caller may see; set only when every candidate
  // was checked (accurate_total, count 0, or the candidates ran out before
  // the page and one more match were found). Hidden resources are never
  // counted, here or in `more` and the page offsets.
  std::optional<size_t> total;
  bool more = false;  // a permitted match follows the page (a `next` link)
  std::vector<StoredResource> page;
};

// One operation of a transaction or batch Bundle.
struct WriteOp {
  enum class Kind { create, update, remove } kind = Kind::create;
  fhir::Resource resource;              // create/update; type+id for remove
  std::optional<uint64_t> if_match;     // expected current version
};

struct ImportStats {
  uint64_t created = 0;
  uint64_t updated = 0;
  uint64_t unchanged = 0;  // identical to the current version: no new version
};

class Repository {
 public:
  virtual ~Repository() = default;

  // Errc::not_found if absent (or hidden by policy), Errc::gone if deleted,
  // Errc::integrity if the ciphertext does not authenticate (the message
  // names type/id/version).
  virtual Result<StoredResource> read(const RequestContext& ctx, const std::string& type,
                                      const std::string& id) = 0;
  virtual Result<StoredResource> vread(const RequestContext& ctx, const std::string& type,
                                       const std::string& id, uint64_t version) = 0;

  // Create with a server-assigned id (r.id is ignored).
  virtual Result<StoredResource> create(const RequestContext& ctx, fhir::Resource r) = 0;
  // Update (or create with the client's id). With if_match, Errc::precondition_failed
  // unless the current version equals it.
  virtual Result<StoredResource> update(const RequestContext& ctx, fhir::Resource r,
                                        std::optional<uint64_t> if_match) = 0;
  // Soft delete: a new version marked deleted; history keeps the old ones.
  virtual Result<StoredResource> remove(const RequestContext& ctx, const std::string& type,
                                        const std::string& id) = 0;

  // History, newest first: instance (type and id), type (id empty), system
  // (both empty).
  virtual Result<std::vector<StoredResource>> history(const RequestContext& ctx,
                                                      const std::string& type,
                                                      const std::string& id,
                                                      std::optional<int64_t> since_ms,
                                                      size_t count) = 0;

  virtual Result<SearchResult> search(const RequestContext& ctx, const SearchRequest& q) = 0;

  // Patient/$everything: the patient and every resource in its compartment.
  virtual Result<std::vector<StoredResource>> everything(const RequestContext& ctx,
                                                         const std::string& patient_id) = 0;

  // All operations in one database transaction: all applied or none. For a
  // batch, call per operation instead.
  virtual Result<std::vector<StoredResource>> transaction(const RequestContext& ctx,
                                                          std::vector<WriteOp> ops) = 0;

  // Import: upsert of already-validated resources with their own ids, in one
  // database transaction (the import's batch boundary). A resource identical
  // to its current version creates no new version.
  virtual Result<ImportStats> import_batch(const RequestContext& ctx,
                                           std::vector<fhir::Resource> batch) = 0;
  // After an import: builds the sealed policy-facts summaries of these
  // patients (vault/access_facts.h), so their first access decrypts one row.
  // Needs the import permission; patient data is not disclosed, so no audit
  // entry. Patients without relationship or consent resources get none.
  virtual Status warm_access_facts(const RequestContext& /*ctx*/, const std::vector<std::string>& /*patient_ids*/) {
    return ok_status();
  }

  // Every current resource, in (type, id) order, decrypted; one audit entry
  // for the export as a whole, written before the first resource is handed
  // out. Stops if fn returns false.
  virtual Status export_all(const RequestContext& ctx,
                            const std::function<bool(const StoredResource&)>& fn) = 0;

  // Break-the-glass (docs/access-policy.md): a physician or nurse asks for
  // emergency access to one patient's record with a reason (required) and a
  // step-up proof (a fresh TOTP code). The grant is stored in the database
  // for `ttl_ms` (0: the configured default, one hour), audited with
  // flagged=true, and a `security-event` entry for the privacy officer is
  // appended. Returns the grant's end. Errc::invalid without a reason,
  // Errc::unauthenticated when step-up fails, Errc::forbidden for other
  // roles, Errc::not_found for an unknown patient.
  virtual Result<int64_t> break_glass(const RequestContext& ctx, const std::string& patient_id,
                                      const std::string& reason, const std::string& step_up_code) {
    (void)ctx, (void)patient_id, (void)reason, (void)step_up_code;
    return make_error(Errc::internal, "break-the-glass is not available");
  }
};

}  // namespace medvault::vault
