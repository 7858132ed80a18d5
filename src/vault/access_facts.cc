// Facts for the access policy, gathered from the store (vault/access_facts.h).
#include "vault/access_facts.h"

#include <sodium.h>

#include <boost/json.hpp>

#include "access/facts.h"
#include "auth/totp.h"
#include "crypto/aead.h"
#include "fhir/json.h"
#include "vault/account_data.h"
#include "vault/core.h"

namespace medvault::vault {
namespace {

namespace bj = boost::json;

// The key sealing step-up secrets: derived from the session key (itself a
// master-key derivative), so it exists only while the vault is unsealed.
crypto::SecretKey step_up_key(const Core& c) {
  uint8_t k[crypto::SecretKey::kSize];
  crypto_kdf_derive_from_key(k, sizeof k, 1, "mvstepup", c.session_key.data());
  auto key = crypto::SecretKey::from_bytes(k);
  sodium_memzero(k, sizeof k);
  return key;
}

std::string step_up_ad(const std::string& user) { return "medvault step-up totp v1\n" + user; }

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

bool is_fact_source(const store::VersionRow& row) {
  return row.type == "Consent" || access::is_relationship_type(row.type);
}

// What a patient's facts are made from: the current (type, id, version,
// deleted) of every relationship and consent resource in the compartment.
std::string fact_sources(const std::vector<store::VersionRow>& rows) {
  std::string out;
  for (const auto& row : rows)
    if (is_fact_source(row))
      out += row.type + '/' + row.id + '/' + std::to_string(row.version) + (row.deleted ? "d\n" : "\n");
  return out;
}

}  // namespace

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
  MV_ASSIGN(auto rows, c_.store->compartment(patient_id));
  std::string sources = fact_sources(rows);
  std::shared_ptr<const access::PatientFacts> f;
  if (old && sources == old_sources) {
    f = std::move(old);  // nothing they depend on changed: still true
  } else {
    MV_ASSIGN(f, load(patient_id, rows, relationships));
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
                                                                      const std::vector<store::VersionRow>& rows,
                                                                      bool relationships) {
  auto f = std::make_shared<access::PatientFacts>();
  f->patient = patient_id;
  for (const auto& row : rows) {
    const bool consent = row.type == "Consent";
    if (!is_fact_source(row) || (!consent && !relationships)) continue;
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
