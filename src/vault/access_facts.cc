// Facts for the access policy, gathered from the store (vault/access_facts.h).
#include "vault/access_facts.h"

#include <sodium.h>

#include <boost/json.hpp>
#include <algorithm>
#include <chrono>

#include "access/facts.h"
#include "access/facts_codec.h"
#include "auth/totp.h"
#include "crypto/aead.h"
#include "fhir/json.h"
#include "vault/account_data.h"
#include "vault/core.h"

namespace medvault::vault {
namespace {

namespace bj = boost::json;

// A key derived from the session key (itself a master-key derivative) for
// one 8-character context: it exists only while the vault is unsealed and
// changes with the master key.
crypto::SecretKey session_subkey(const Core& c, const char (&context)[9]) {
  uint8_t k[crypto::SecretKey::kSize];
  crypto_kdf_derive_from_key(k, sizeof k, 1, context, c.session_key.data());
  auto key = crypto::SecretKey::from_bytes(k);
  sodium_memzero(k, sizeof k);
  return key;
}

// The key sealing step-up secrets.
crypto::SecretKey step_up_key(const Core& c) { return session_subkey(c, "mvstepup"); }

std::string step_up_ad(const std::string& user) { return "medvault step-up totp v1\n" + user; }

// The key sealing facts summaries.
crypto::SecretKey facts_key(const Core& c) { return session_subkey(c, "mvfacts1"); }

// Associated data of a summary: a row copied under another patient's key
// fails authentication.
std::string facts_ad(const std::string& patient) { return "medvault facts summary v1\n" + patient; }

// Summary plaintext: version byte 1, relationships byte (0/1), the 32-byte
// BLAKE2b of the fact sources, then access::facts_to_json.
constexpr size_t kSummaryHeader = 2 + crypto_generichash_BYTES;

Status put_meta(Core& c, audit::Entry e, const std::string& key, const std::string& value) {
  MV_ASSIGN(auto txn, c.store->begin());
  Status st = txn->put_meta(key, value);
  if (st.ok()) st = c.audit->add(*txn, {std::move(e)});
  if (st.ok()) st = txn->commit();
  c.audit->after_commit(st.ok());
  return st;
}

}  // namespace

namespace {

// What a patient's facts are made from: the current (type, id, version,
// deleted) of the rows Store::compartment gave for access::fact_source_types.
std::string fact_sources(const std::vector<store::VersionRow>& rows) {
  std::string out;
  for (const auto& row : rows)
    out += row.type + '/' + row.id + '/' + std::to_string(row.version) + (row.deleted ? "d\n" : "\n");
  return out;
}

std::string sources_hash(const std::string& sources) {
  std::string h(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<uint8_t*>(h.data()), h.size(),
                     reinterpret_cast<const uint8_t*>(sources.data()), sources.size(), nullptr, 0);
  return h;
}

}  // namespace

AccessFacts::~AccessFacts() {
  {
    std::lock_guard lock(wmu_);
    stop_ = true;
  }
  wcv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::optional<AccessFacts::Summary> AccessFacts::stored_summary(const std::string& patient_id,
                                                                 const std::string& hash, bool relationships) {
  auto row = c_.store->facts_summary(patient_id);
  if (!row.ok() || !row->has_value()) return std::nullopt;
  auto plain = crypto::open(facts_key(c_), facts_ad(patient_id), **row);
  if (!plain.ok() || plain->size() < kSummaryHeader || (*plain)[0] != 1) return std::nullopt;
  const auto flag = static_cast<uint8_t>((*plain)[1]);
  const bool rel = flag == 1;
  if (flag > 1 || (relationships && !rel)) return std::nullopt;
  if (plain->compare(2, hash.size(), hash) != 0) return std::nullopt;  // stale
  auto f = access::facts_from_json(std::string_view(*plain).substr(kSummaryHeader), patient_id);
  if (!f) return std::nullopt;
  return Summary{std::make_shared<const access::PatientFacts>(std::move(*f)), hash, rel};
}

Status AccessFacts::write_summaries(const std::map<std::string, Summary>& batch) {
  if (batch.empty()) return ok_status();
  const auto key = facts_key(c_);
  MV_ASSIGN(auto txn, c_.store->begin());
  for (const auto& [patient, s] : batch) {
    std::string plain;
    plain += '\x01';
    plain += s.relationships ? '\x01' : '\x00';
    plain += s.sources_hash;
    plain += access::facts_to_json(*s.facts);
    MV_TRY(txn->put_facts_summary(patient, crypto::seal(key, facts_ad(patient), plain)));
  }
  return txn->commit();
}

void AccessFacts::enqueue_summary(const std::string& patient_id, Summary s) {
  {
    std::lock_guard lock(wmu_);
    if (stop_) return;
    if (queue_.size() >= kMaxQueuedSummaries) queue_.clear();  // the writer cannot keep up: drop
    queue_[patient_id] = std::move(s);
    if (!writer_.joinable()) writer_ = std::thread([this] { writer_loop(); });
  }
  wcv_.notify_all();
}

void AccessFacts::writer_loop() {
  std::unique_lock lock(wmu_);
  for (;;) {
    wcv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // Let a burst of cold reads gather into one transaction.
    if (!stop_ && queue_.size() < kSummaryBatch)
      wcv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop_ || queue_.size() >= kSummaryBatch; });
    std::map<std::string, Summary> batch;
    while (!queue_.empty() && batch.size() < kSummaryBatch) batch.insert(queue_.extract(queue_.begin()));
    writing_ = true;
    lock.unlock();
    (void)write_summaries(batch);  // a cache: failing to store one is not an error
    lock.lock();
    writing_ = false;
    wcv_.notify_all();
  }
}

void AccessFacts::flush_summaries() {
  std::unique_lock lock(wmu_);
  wcv_.notify_all();
  wcv_.wait(lock, [&] { return (queue_.empty() && !writing_) || !writer_.joinable(); });
}

Status AccessFacts::build_summaries(const std::vector<std::string>& patient_ids) {
  std::map<std::string, Summary> batch;
  for (const auto& id : patient_ids) {
    MV_ASSIGN(auto rows, c_.store->compartment(id, access::fact_source_types(true)));
    const std::string sources = fact_sources(rows);
    if (sources.empty()) continue;  // nothing to open: facts are free
    std::string hash = sources_hash(sources);
    if (stored_summary(id, hash, true)) continue;  // already fresh
    MV_ASSIGN(auto f, load(id, rows));
    batch[id] = Summary{std::move(f), std::move(hash), true};
    if (batch.size() >= kSummaryBatch) {
      MV_TRY(write_summaries(batch));
      batch.clear();
    }
  }
  return write_summaries(batch);
}

Result<std::shared_ptr<const access::PatientFacts>> AccessFacts::patient(const std::string& patient_id,
                                                                         bool relationships) {
  const int64_t now = c_.clock->now_ms();
  std::shared_ptr<const access::PatientFacts> old;
  std::string old_sources;
  {
    std::lock_guard lock(mu_);
    auto it = facts_.find(patient_id);
    // Facts with relationships serve every caller; consents-only facts only
    // callers that do not need relationships.
    if (it != facts_.end() && (it->second.relationships || !relationships)) {
      if (now - it->second.loaded_ms < kFactsTtlMs) return it->second.facts;
      old = it->second.facts;
      old_sources = it->second.sources;
      relationships = it->second.relationships;
    }
  }
  // Only the rows the facts are made from: one index seek per type.
  MV_ASSIGN(auto rows, c_.store->compartment(patient_id, access::fact_source_types(relationships)));
  std::string sources = fact_sources(rows);
  std::shared_ptr<const access::PatientFacts> f;
  if (old && sources == old_sources) {
    f = std::move(old);  // nothing they depend on changed: still true
  } else if (!relationships || rows.empty()) {
    // Consents only (a patient has a few, often none), or nothing to open:
    // opening them directly costs what opening a summary would.
    MV_ASSIGN(f, load(patient_id, rows));
  } else {
    std::string hash = sources_hash(sources);
    if (auto s = stored_summary(patient_id, hash, relationships)) {
      f = std::move(s->facts);
    } else {
      MV_ASSIGN(f, load(patient_id, rows));
      enqueue_summary(patient_id, Summary{f, std::move(hash), relationships});
    }
  }
  std::lock_guard lock(mu_);
  if (facts_.size() > 100'000) facts_.clear();  // bound memory; facts reload on demand
  auto& slot = facts_[patient_id];
  // Never replace fuller facts by consents-only ones loaded meanwhile.
  if (!relationships && slot.facts && slot.relationships) return f;
  slot = {f, now, std::move(sources), relationships};
  return f;
}

Result<std::shared_ptr<const access::PatientFacts>> AccessFacts::load(const std::string& patient_id,
                                                                      const std::vector<store::VersionRow>& rows) {
  auto f = std::make_shared<access::PatientFacts>();
  f->patient = patient_id;
  for (const auto& row : rows) {
    const bool consent = row.type == "Consent";
    MV_ASSIGN(auto full, c_.store->version(row.type, row.id, row.version));
    if (!full || full->deleted) continue;
    MV_ASSIGN(auto json, open_(*full));
    auto v = fhir::parse_json(json);
    if (!v.ok() || !v->is_object()) continue;
    if (consent) {
      if (auto d = access::parse_consent(row.id, v->as_object())) f->consents.push_back(std::move(*d));
    } else {
      access::relationships_of(row.type, row.id, v->as_object(), f->relationships);
    }
  }
  return std::shared_ptr<const access::PatientFacts>(std::move(f));
}

Result<std::optional<access::BreakGlassGrant>> AccessFacts::grant(const std::string& user,
                                                                  const std::string& patient_id) {
  const int64_t now = c_.clock->now_ms();
  const std::string key = grant_key(user, patient_id);
  {
    std::lock_guard lock(mu_);
    auto it = grants_.find(key);
    if (it != grants_.end() && now - it->second.loaded_ms < kFactsTtlMs) return it->second.grant;
  }
  MV_ASSIGN(auto value, c_.store->meta(key));
  std::optional<access::BreakGlassGrant> g;
  if (value) {
    boost::system::error_code ec;
    auto v = bj::parse(*value, ec);
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      const auto* until = o.if_contains("until");
      const auto* entry = o.if_contains("entry");
      if (until && until->is_int64()) g = access::BreakGlassGrant{until->as_int64(), ""};
      if (g && entry && entry->is_string()) g->note = std::string(entry->as_string());
    }
  }
  std::lock_guard lock(mu_);
  if (grants_.size() > 100'000) grants_.clear();
  grants_[key] = {g, now};
  return g;
}

void AccessFacts::invalidate(const std::string& patient_id) {
  std::lock_guard lock(mu_);
  facts_.erase(patient_id);
}

void AccessFacts::clear() {
  std::lock_guard lock(mu_);
  facts_.clear();
}

void AccessFacts::invalidate_grant(const std::string& user, const std::string& patient_id) {
  std::lock_guard lock(mu_);
  grants_.erase(grant_key(user, patient_id));
}

Status step_up_ok(Core& c, const RequestContext& ctx, std::string_view code) {
  const std::string& user = ctx.subject.user;
  const Error refused = make_error(Errc::unauthenticated, "step-up authentication failed");
  if (code.empty()) return refused;
  // A passkey step-up token (Sessions::step_up_finish) is checked and consumed there.
  if (code.starts_with(kStepUpTokenPrefix)) return c.sessions ? c.sessions->step_up(ctx, code) : Status(refused);
  MV_ASSIGN(auto value, c.store->meta("step-up/" + user));
  // Without a step-up authenticator of its own, the account's sign-in TOTP serves.
  if (!value) return c.sessions ? c.sessions->step_up(ctx, code) : Status(refused);
  boost::system::error_code ec;
  auto v = bj::parse(*value, ec);
  if (ec || !v.is_object()) return refused;
  auto& o = v.as_object();
  const auto* sealed = o.if_contains("totp");
  const auto* last = o.if_contains("last_step");
  if (!sealed || !sealed->is_string() || !last || !last->is_int64()) return refused;
  auto blob = unb64(std::string_view(sealed->as_string().data(), sealed->as_string().size()));
  if (!blob) return refused;
  auto secret = crypto::open(step_up_key(c), step_up_ad(user), *blob);
  if (!secret.ok()) return refused;
  auto step = auth::totp_verify(*secret, code, c.clock->now_ms() / 1000, last->as_int64());
  sodium_memzero(secret->data(), secret->size());
  if (!step.ok()) return refused;
  // Record the used step so the code works once.
  o["last_step"] = *step;
  auto e = c.entry(ctx, "step-up");
  return put_meta(c, std::move(e), "step-up/" + user, bj::serialize(o));
}

Result<std::string> enroll_step_up(Core& c, const RequestContext& ctx, const std::string& user) {
  MV_ASSIGN(auto acct, c.store->account(user));
  if (!acct) return make_error(Errc::not_found, "no user " + user);
  std::string secret = auth::totp_new_secret();
  bj::object o;
  o["totp"] = b64(crypto::seal(step_up_key(c), step_up_ad(user), secret));
  o["last_step"] = int64_t{-1};
  auto e = c.entry(ctx, "step-up-enroll");
  e.detail = user;
  MV_TRY(put_meta(c, std::move(e), "step-up/" + user, bj::serialize(o)));
  std::string out = auth::base32_encode(secret);
  sodium_memzero(secret.data(), secret.size());
  return out;
}

}  // namespace medvault::vault
