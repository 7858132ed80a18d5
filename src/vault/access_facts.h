// The facts the access policy decides on, gathered from the store inside the
// vault (docs/access-policy.md): a patient's care relationships and consent
// directives, and break-the-glass grants. Internal to the vault module.
//
// Caching: a patient's facts are cached and dropped when this process writes
// a relationship-bearing resource or a Consent of that patient; entries also
// expire after kFactsTtlMs so that writes made by another node (PostgreSQL)
// are seen within that time.
//
// Sealed summaries: facts computed from the stored resources are also kept in
// the store (table facts_summary, one row per patient; docs/architecture.md
// "Policy facts"), sealed under a master-key derivative with the patient id
// as associated data, with a hash of the fact sources they were made from.
// A patient not in memory costs the compartment index query plus one
// decryption when the summary's hash matches the current sources; otherwise
// the facts are computed from the resources as before and a new summary is
// queued. Summaries are written off the request thread by a writer thread
// (kSummaryBatch per transaction; the queue is dropped past
// kMaxQueuedSummaries) and a failure to read, open or write one is never an
// error: the facts are then computed from the resources. Grants live in the store's meta table
// ("break-glass/<user>/<patient>": {"until": ms, "entry": "..."}), so every
// node sees them; they are looked up only when a decision could use one.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "access/policy.h"
#include "common/result.h"
#include "store/store.h"

namespace medvault::vault {

struct Core;

inline constexpr int64_t kFactsTtlMs = 5'000;
inline constexpr size_t kSummaryBatch = 256;
inline constexpr size_t kMaxQueuedSummaries = 8'192;

class AccessFacts {
 public:
  // `open` decrypts a stored version to its JSON text.
  using Opener = std::function<Result<std::string>(const store::VersionRow&)>;
  AccessFacts(Core& core, Opener open) : c_(core), open_(std::move(open)) {}
  // Writes the summaries still queued (best effort), then stops the writer.
  ~AccessFacts();
  AccessFacts(const AccessFacts&) = delete;
  AccessFacts& operator=(const AccessFacts&) = delete;

  // With `relationships` false the facts may hold the consents only (cheap
  // when cold: relationship resources are not decrypted); see
  // access::needs_relationships.
  Result<std::shared_ptr<const access::PatientFacts>> patient(const std::string& patient_id,
                                                               bool relationships = true);
  Result<std::optional<access::BreakGlassGrant>> grant(const std::string& user, const std::string& patient_id);

  // Computes and stores the summary (with relationships) of every patient
  // listed that has no fresh one, kSummaryBatch patients per write
  // transaction, on the calling thread (after an import, so that a new vault
  // is warm). Errors are the store's.
  Status build_summaries(const std::vector<std::string>& patient_ids);
  // Blocks until every summary queued so far is written (or dropped).
  void flush_summaries();

  void invalidate(const std::string& patient_id);
  void clear();
  void invalidate_grant(const std::string& user, const std::string& patient_id);

  static std::string grant_key(const std::string& user, const std::string& patient_id) {
    return "break-glass/" + user + "/" + patient_id;
  }

 private:
  // Facts younger than kFactsTtlMs are used as they are. Older ones are
  // checked against the compartment's current rows (one index query, no
  // decryption): they are reloaded only if a relationship or consent
  // resource was added, changed or deleted since, by this node or another.
  struct Cached {
    std::shared_ptr<const access::PatientFacts> facts;
    int64_t loaded_ms = 0;
    std::string sources;  // the (type, id, version) of what they were made from
    bool relationships = true;  // false: consents only
  };
  struct CachedGrant {
    std::optional<access::BreakGlassGrant> grant;
    int64_t loaded_ms = 0;
  };
  // Facts from the fact-source rows of a compartment (Consents alone, or
  // Consents and relationship resources: access::fact_source_types).
  Result<std::shared_ptr<const access::PatientFacts>> load(const std::string& patient_id,
                                                            const std::vector<store::VersionRow>& rows);

  // A summary waiting to be sealed and written.
  struct Summary {
    std::shared_ptr<const access::PatientFacts> facts;
    std::string sources_hash;  // BLAKE2b-256 of fact_sources()
    bool relationships = true;
  };
  // The stored summary of `patient_id` if it opens, matches `sources_hash`
  // and holds relationships when `relationships` is asked for.
  std::optional<Summary> stored_summary(const std::string& patient_id, const std::string& sources_hash,
                                        bool relationships);
  Status write_summaries(const std::map<std::string, Summary>& batch);
  void enqueue_summary(const std::string& patient_id, Summary s);
  void writer_loop();

  Core& c_;
  Opener open_;
  std::mutex mu_;
  std::map<std::string, Cached> facts_;       // GUARDED_BY(mu_)
  std::map<std::string, CachedGrant> grants_;  // GUARDED_BY(mu_)

  std::mutex wmu_;
  std::condition_variable wcv_;
  std::map<std::string, Summary> queue_;  // GUARDED_BY(wmu_), by patient id
  bool writing_ = false;                  // GUARDED_BY(wmu_)
  bool stop_ = false;                     // GUARDED_BY(wmu_)
  std::thread writer_;                    // started on the first summary queued
};

// Step-up authentication for break-the-glass (the hook the auth module will
// replace with its own TOTP/passkey check): a TOTP code from the
// authenticator enrolled with `medvault user step-up-enroll`. The secret is
// kept sealed in the meta row "step-up/<user>"; a code is accepted once.
// Errc::unauthenticated for a missing or wrong code or no enrolment.
struct RequestContext;
Status step_up_ok(Core& core, const RequestContext& ctx, std::string_view code);
// Enrols (or replaces) the user's step-up TOTP secret; returns it in base32
// for the authenticator app. Administrator only; audited.
Result<std::string> enroll_step_up(Core& core, const RequestContext& ctx, const std::string& user);

}  // namespace medvault::vault
