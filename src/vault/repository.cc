// The repository facade: policy, then audit, then crypto, for every access.
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>

#include "access/facts.h"
#include "access/redact.h"
#include "common/clock.h"
#include <boost/json.hpp>

#include "crypto/aead.h"
#include "fhir/json.h"
#include "vault/access_facts.h"
#include "vault/core.h"

namespace medvault::vault {

audit::Entry Core::entry(const RequestContext& ctx, std::string_view action) const {
  audit::Entry e;
  e.time_ms = clock->now_ms();
  e.user = ctx.subject.user;
  e.role = ctx.subject.role;
  e.action = std::string(action);
  e.purpose = ctx.purpose;
  e.address = ctx.address;
  e.workstation = ctx.workstation;
  e.outcome = "0";
  return e;
}

std::string Core::hash_token(std::string_view token) const {
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), session_key.data(),
                     session_key.size());
  return out;
}

Error Core::refuse_credential(const std::string& user, const std::string& address, std::string reason,
                              Error refusal) const {
  audit::Entry e;
  e.time_ms = clock->now_ms();
  e.user = user;
  e.action = "authenticate";
  e.address = address;
  e.outcome = "4";
  e.detail = std::move(reason);
  if (!audit->append(std::move(e)).ok()) return make_error(Errc::unavailable, "audit log unavailable; request refused");
  return refusal;
}

namespace {

using access::Action;

constexpr size_t kMaxHistory = 1000;

std::string new_uuid() {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

std::string ref(const std::string& type, const std::string& id) { return type + "/" + id; }

// The resource without the elements the server sets (meta.versionId,
// meta.lastUpdated), serialised: what "unchanged" compares.
std::string content_of(boost::json::object obj) {
  if (auto* m = obj.if_contains("meta"); m && m->is_object()) {
    auto& meta = m->as_object();
    meta.erase("versionId");
    meta.erase("lastUpdated");
    if (meta.empty()) obj.erase("meta");
  }
  return fhir::serialize(obj);
}

class RepositoryImpl final : public Repository {
 public:
  explicit RepositoryImpl(Core& core)
      : c_(core), facts_(core, [this](const store::VersionRow& row) -> Result<std::string> {
          MV_ASSIGN(auto sr, open_row(row));
          return std::move(sr.json);
        }) {
    // Tests shorten grants; production keeps the default hour.
    if (const char* m = std::getenv("MEDVAULT_BREAK_GLASS_MINUTES"); m && std::atoll(m) > 0)
      break_glass_ms_ = std::atoll(m) * 60'000LL;
  }

  Result<StoredResource> read(const RequestContext& ctx, const std::string& type,
                              const std::string& id) override {
    auto e = c_.entry(ctx, "read");
    e.type = type;
    e.id = id;
    MV_TRY(check_type_and_id(type, id));
    MV_ASSIGN(auto row, c_.store->current(type, id));
    if (!row) return refuse(ctx, std::move(e), "4", make_error(Errc::not_found, ref(type, id) + " not found"));
    e.patient = row->compartment;
    MV_TRY(authorize(ctx, Action::read, {type, id, row->compartment, nullptr}, e, true));
    return finish_read(ctx, Action::read, std::move(e), *row);
  }

  Result<StoredResource> vread(const RequestContext& ctx, const std::string& type,
                               const std::string& id, uint64_t version) override {
    auto e = c_.entry(ctx, "vread");
    e.type = type;
    e.id = id;
    MV_TRY(check_type_and_id(type, id));
    MV_ASSIGN(auto row, c_.store->version(type, id, version));
    if (!row)
      return refuse(ctx, std::move(e), "4",
                    make_error(Errc::not_found, ref(type, id) + " has no version " +
                                                    std::to_string(version)));
    e.patient = row->compartment;
    MV_TRY(authorize(ctx, Action::vread, {type, id, row->compartment, nullptr}, e, true));
    return finish_read(ctx, Action::vread, std::move(e), *row);
  }

  Result<StoredResource> create(const RequestContext& ctx, fhir::Resource r) override {
    r.id = new_uuid();
    return write(ctx, std::move(r), Action::create, std::nullopt);
  }

  Result<StoredResource> update(const RequestContext& ctx, fhir::Resource r,
                                std::optional<uint64_t> if_match) override {
    if (!fhir::is_valid_id(r.id)) return make_error(Errc::invalid, "invalid resource id");
    return write(ctx, std::move(r), Action::update, if_match);
  }

  Result<StoredResource> remove(const RequestContext& ctx, const std::string& type,
                                const std::string& id) override {
    MV_TRY(check_type_and_id(type, id));
    WriteOp op;
    op.kind = WriteOp::Kind::remove;
    op.resource.type = type;
    op.resource.id = id;
    std::vector<WriteOp> ops;
    ops.push_back(std::move(op));
    MV_ASSIGN(auto out, apply(ctx, std::move(ops), Action::remove));
    return std::move(out.front());
  }

  Result<std::vector<StoredResource>> history(const RequestContext& ctx, const std::string& type,
                                              const std::string& id,
                                              std::optional<int64_t> since_ms,
                                              size_t count) override {
    auto e = c_.entry(ctx, "history");
    e.type = type;
    e.id = id;
    if (!type.empty() && !fhir::is_supported_type(type))
      return make_error(Errc::not_found, "resource type " + type + " is not supported");
    if (!id.empty() && !fhir::is_valid_id(id)) return make_error(Errc::invalid, "invalid resource id");
    MV_ASSIGN(auto rows, c_.store->history(type, id, since_ms, std::min(count, kMaxHistory)));
    if (!id.empty() && rows.empty())
      return refuse(ctx, std::move(e), "4", make_error(Errc::not_found, ref(type, id) + " not found"));
    if (!id.empty()) e.patient = rows.front().compartment;
    // Type and system history: the caller sees only what the policy lets it
    // see, and is told nothing of the rest.
    std::vector<StoredResource> out;
    std::set<std::string> patients;
    bool any_permit = false;
    // A version is shown when the policy permits it with its own labels and
    // the resource's current version may be seen too: a now-restricted
    // resource shows none of its history.
    std::map<std::string, bool> current_ok;
    for (const auto& row : rows) {
      MV_ASSIGN(auto d, decide(ctx, Action::history, {row.type, row.id, row.compartment, nullptr}));
      if (!d.permit) continue;
      const std::string key = ref(row.type, row.id);
      auto it = current_ok.find(key);
      if (it == current_ok.end()) {
        MV_ASSIGN(bool ok, current_admitted(ctx, Action::history, row.type, row.id));
        it = current_ok.emplace(key, ok).first;
      }
      if (!it->second) continue;
      MV_ASSIGN(auto sr, open_row(row));
      MV_ASSIGN(bool shown, admit(ctx, Action::history, sr, row.compartment));
      if (!shown) continue;
      any_permit = true;
      e.explanation = d.explanation;
      e.flagged = e.flagged || d.flagged;
      out.push_back(std::move(sr));
      if (!row.compartment.empty()) patients.insert(row.compartment);
    }
    if (!id.empty() && !any_permit) {
      MV_ASSIGN(auto d, decide(ctx, Action::history, {type, id, e.patient, nullptr}));
      e.explanation = d.explanation;
      return refuse(ctx, std::move(e), "4", make_error(Errc::not_found, ref(type, id) + " not found"));
    }
    MV_TRY(record_for_patients(ctx, std::move(e), patients));
    return out;
  }

  Result<SearchResult> search(const RequestContext& ctx, const SearchRequest& q) override {
    auto e = c_.entry(ctx, "search");
    e.type = q.type;
    if (!fhir::is_supported_type(q.type))
      return make_error(Errc::not_found, "resource type " + q.type + " is not supported");
    MV_TRY(authorize(ctx, Action::search, {q.type, "", "", nullptr}, e));

    store::ScanFilter f;
    f.type = q.type;
    f.ids = q.ids;
    f.updated_from_ms = q.updated_from_ms;
    f.updated_to_ms = q.updated_to_ms;
    f.newest_first = q.newest_first;
    for (const auto& t : q.terms) {
      store::IndexTerm term{t.param, {}};
      for (const auto& v : t.values) {
        auto tok = c_.indexer->token(q.type, t.param, v);
        term.tokens.emplace_back(reinterpret_cast<const char*>(tok.data()), tok.size());
      }
      f.terms.push_back(std::move(term));
    }

    // Candidates are walked in the scan's order and checked one by one (the
    // coarse decision, then decryption for the residual filter and the
    // security labels), so only matches the caller may see are counted: the
    // offset, the page, `more` and `total` never reveal a hidden resource.
    // Unless every candidate must be counted, the walk stops at the first
    // permitted match after the page (issue 8: a name prefix has hundreds of
    // candidates, each a decryption and a patient's policy facts).
    const bool count_all = q.accurate_total || q.count == 0;
    const size_t page_end = q.count > SIZE_MAX - q.offset ? SIZE_MAX : q.offset + q.count;
    SearchResult res;
    size_t matched = 0;
    bool exhausted = true;
    std::set<std::string> patients;
    // The visitor returns false to stop the scan; an error stops it too and
    // is kept for after.
    Status failed = ok_status();
    auto visit = [&](const store::VersionRow& row) -> Result<bool> {
      MV_ASSIGN(auto d, decide(ctx, Action::search, {row.type, row.id, row.compartment, nullptr}));
      if (!d.permit) return true;
      MV_ASSIGN(auto full, c_.store->version(row.type, row.id, row.version));
      if (!full) return true;  // replaced since the scan: skip
      MV_ASSIGN(auto sr, open_row(*full));
      if (q.residual) {
        auto parsed = fhir::parse_resource(sr.json);
        if (!parsed.ok()) return make_error(Errc::integrity, ref(row.type, row.id) + ": stored JSON does not parse");
        if (!q.residual(*parsed)) return true;
      }
      const bool on_page = matched >= q.offset && matched < page_end;
      if (on_page) {
        MV_ASSIGN(bool shown, admit(ctx, Action::search, sr, row.compartment));  // labels, redaction
        if (!shown) return true;
      } else if (sr.json.find("\"security\"") != std::string::npos) {
        MV_ASSIGN(bool shown, admit_labels(ctx, Action::search, sr, row.compartment));
        if (!shown) return true;
      }
      e.flagged = e.flagged || d.flagged;
      if (matched++ >= page_end) {
        res.more = true;
        if (!count_all) {
          exhausted = false;
          return false;
        }
      }
      if (on_page) {
        res.page.push_back(std::move(sr));
        if (!row.compartment.empty()) patients.insert(row.compartment);
      }
      return true;
    };
    MV_TRY(c_.store->scan(f, [&](const store::VersionRow& row) {
      auto go_on = visit(row);
      if (!go_on.ok()) failed = go_on.error();
      return go_on.ok() && *go_on;
    }));
    MV_TRY(failed);
    if (exhausted) res.total = matched;
    // An early stop knows a lower bound only.
    e.detail = (exhausted ? "total=" : "total>=") + std::to_string(matched);
    MV_TRY(record_for_patients(ctx, std::move(e), patients));
    return res;
  }

  Result<std::vector<StoredResource>> everything(const RequestContext& ctx,
                                                 const std::string& patient_id) override {
    auto e = c_.entry(ctx, "everything");
    e.type = "Patient";
    e.id = patient_id;
    e.patient = patient_id;
    MV_TRY(check_type_and_id("Patient", patient_id));
    MV_ASSIGN(auto patient, c_.store->current("Patient", patient_id));
    if (!patient || patient->deleted)
      return refuse(ctx, std::move(e), "4", make_error(Errc::not_found, "Patient/" + patient_id + " not found"));
    MV_TRY(authorize(ctx, Action::everything, {"Patient", patient_id, patient_id, nullptr}, e, true));
    MV_ASSIGN(auto rows, c_.store->compartment(patient_id, {}));
    std::vector<StoredResource> out;
    for (const auto& row : rows) {
      MV_ASSIGN(auto d, decide(ctx, Action::everything, {row.type, row.id, row.compartment, nullptr}));
      if (!d.permit) continue;
      MV_ASSIGN(auto full, c_.store->version(row.type, row.id, row.version));
      if (!full) continue;
      MV_ASSIGN(auto sr, open_row(*full));
      MV_ASSIGN(bool shown, admit(ctx, Action::everything, sr, row.compartment));
      if (!shown) continue;
      out.push_back(std::move(sr));
    }
    MV_TRY(record(ctx, std::move(e)));
    return out;
  }

  Result<std::vector<StoredResource>> transaction(const RequestContext& ctx,
                                                  std::vector<WriteOp> ops) override {
    return apply(ctx, std::move(ops), Action::transaction);
  }

  Result<ImportStats> import_batch(const RequestContext& ctx,
                                   std::vector<fhir::Resource> batch) override {
    ImportStats stats;
    auto probe = c_.entry(ctx, "import");
    MV_TRY(authorize(ctx, Action::import, {"", "", "", nullptr}, probe));
    c_.store->expect_bulk_writes();
    MV_ASSIGN(auto txn, c_.store->begin());
    KeyManager::Staging staging(*c_.keys);
    std::vector<audit::Entry> entries;
    entries.reserve(batch.size());
    const int64_t now = c_.clock->now_ms();
    for (auto& r : batch) {
      MV_ASSIGN(auto cur, txn->current(r.type, r.id));
      uint64_t version = 1;
      if (cur) {
        version = cur->version + 1;
        if (!cur->deleted) {
          MV_ASSIGN(auto stored, c_.store->version(r.type, r.id, cur->version));
          if (stored) {
            MV_ASSIGN(auto sr, open_row(*stored));
            auto old = fhir::parse_json(sr.json);
            if (old.ok() && old->is_object() &&
                content_of(old->as_object()) == content_of(r.json)) {
              ++stats.unchanged;
              continue;
            }
          }
        }
      }
      auto e = c_.entry(ctx, "import");
      e.explanation = probe.explanation;
      MV_ASSIGN(auto sr, write_version(*txn, staging, r, version, false, "", now, e));
      (void)sr;
      entries.push_back(std::move(e));
      ++(version == 1 ? stats.created : stats.updated);
    }
    MV_TRY(commit(*txn, staging, std::move(entries)));
    facts_.clear();  // an import may bring relationships and consents of any patient
    return stats;
  }

  Status warm_access_facts(const RequestContext& ctx, const std::vector<std::string>& patient_ids) override {
    auto probe = c_.entry(ctx, "import");
    MV_TRY(authorize(ctx, Action::import, {"", "", "", nullptr}, probe));
    return facts_.build_summaries(patient_ids);
  }

  Status export_all(const RequestContext& ctx,
                    const std::function<bool(const StoredResource&)>& fn) override {
    auto e = c_.entry(ctx, "export");
    MV_TRY(authorize(ctx, Action::export_all, {"", "", "", nullptr}, e));
    MV_TRY(record(ctx, std::move(e)));  // durable before the first byte leaves
    Status inner = ok_status();
    MV_TRY(c_.store->for_each_current([&](const store::VersionRow& row) {
      auto d = decide(ctx, Action::export_all, {row.type, row.id, row.compartment, nullptr});
      if (!d.ok()) {
        inner = d.take_error();
        return false;
      }
      if (!d->permit) return true;  // refused by the patient for this purpose
      auto sr = open_row(row);
      if (!sr.ok()) {
        inner = sr.take_error();
        return false;
      }
      auto shown = admit(ctx, Action::export_all, *sr, row.compartment);
      if (!shown.ok()) {
        inner = shown.take_error();
        return false;
      }
      return !*shown || fn(*sr);
    }));
    return inner;
  }

  Result<int64_t> break_glass(const RequestContext& ctx, const std::string& patient_id,
                              const std::string& reason, const std::string& step_up_code) override {
    auto e = c_.entry(ctx, "break-glass");
    e.type = "Patient";
    e.id = patient_id;
    e.patient = patient_id;
    e.flagged = true;
    const std::string& role = ctx.subject.role;
    if (role != "physician" && role != "nurse")
      return refuse(ctx, e, "4", make_error(Errc::forbidden, "break-the-glass is for physicians and nurses"));
    if (!fhir::is_valid_id(patient_id)) return make_error(Errc::invalid, "invalid patient id");
    const auto first = reason.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || reason.size() > 2000)
      return refuse(ctx, e, "4", make_error(Errc::invalid, "break-the-glass needs a reason (at most 2000 characters)"));
    MV_ASSIGN(auto patient, c_.store->current("Patient", patient_id));
    if (!patient || patient->deleted)
      return refuse(ctx, e, "4", make_error(Errc::not_found, "Patient/" + patient_id + " not found"));
    if (auto st = step_up_ok(c_, ctx, step_up_code); !st.ok()) {
      e.explanation = "step-up authentication failed";
      return refuse(ctx, e, "4", st.error());
    }
    const int64_t now = c_.clock->now_ms();
    const int64_t until = now + break_glass_ms_;
    e.explanation = "break-the-glass grant until " + format_instant(until);
    e.detail = "reason: " + reason;  // encrypted in the entry (audit detail key)
    // The privacy officer's event, for the monitoring rules to route.
    auto event = c_.entry(ctx, "security-event");
    event.patient = patient_id;
    event.flagged = true;
    event.explanation = "break-the-glass";
    event.detail = "break-the-glass by " + ctx.subject.user + " for Patient/" + patient_id + " until " +
                   format_instant(until);
    boost::json::object grant;
    grant["until"] = until;
    grant["entry"] = "granted " + format_instant(now);
    {
      MV_ASSIGN(auto txn, c_.store->begin());
      Status st = txn->put_meta(AccessFacts::grant_key(ctx.subject.user, patient_id), boost::json::serialize(grant));
      if (st.ok()) st = c_.audit->add(*txn, {std::move(e), std::move(event)});
      if (st.ok()) st = txn->commit();
      c_.audit->after_commit(st.ok());
      if (!st.ok()) return make_error(Errc::unavailable, "break-the-glass grant not recorded");
    }
    facts_.invalidate_grant(ctx.subject.user, patient_id);
    return until;
  }

 private:
  static Status check_type_and_id(const std::string& type, const std::string& id) {
    if (!fhir::is_supported_type(type))
      return make_error(Errc::not_found, "resource type " + type + " is not supported");
    if (!fhir::is_valid_id(id)) return make_error(Errc::invalid, "invalid resource id");
    return ok_status();
  }

  // Decrypts a stored version. The error names the record, never its content.
  Result<StoredResource> open_row(const store::VersionRow& row) {
    const std::string name = ref(row.type, row.id) + " version " + std::to_string(row.version);
    auto key = c_.keys->dek(row.key_id);
    if (!key.ok()) return make_error(Errc::integrity, name + ": " + key.error().message);
    auto pt = crypto::open(**key, crypto::record_ad(row.type, row.id, row.version, row.key_id),
                           row.body);
    if (!pt.ok())
      return make_error(Errc::integrity,
                        name + ": integrity check failed (record altered, truncated or swapped)");
    StoredResource sr{row.type, row.id, row.version, row.last_updated_ms, row.deleted,
                      std::move(pt).value()};
    if (row.deleted) sr.json.clear();
    return sr;
  }

  // Durable audit append; fail closed. A caller that holds its answer until
  // the entries are durable (RequestContext::deferred_audit) gets them queued
  // there instead.
  Status record(const RequestContext& ctx, std::vector<audit::Entry> entries) {
    if (ctx.deferred_audit != nullptr) {
      for (auto& e : entries) ctx.deferred_audit->push_back(std::move(e));
      return ok_status();
    }
    auto st = c_.audit->append(std::move(entries));
    if (!st.ok()) return make_error(Errc::unavailable, "audit log unavailable; request refused");
    return ok_status();
  }
  Status record(const RequestContext& ctx, audit::Entry e) {
    std::vector<audit::Entry> one;
    one.push_back(std::move(e));
    return record(ctx, std::move(one));
  }

  // One entry per patient whose data is in the answer (so the patient's
  // access history is complete), or one without patient.
  Status record_for_patients(const RequestContext& ctx, audit::Entry e, const std::set<std::string>& patients) {
    if (patients.empty()) return record(ctx, std::move(e));
    std::vector<audit::Entry> entries;
    entries.reserve(patients.size());
    for (const auto& p : patients) {
      entries.push_back(e);
      entries.back().patient = p;
    }
    return record(ctx, std::move(entries));
  }

  // Records a refused or failed request and returns its error.
  Error refuse(const RequestContext& ctx, audit::Entry e, const char* outcome, Error err) {
    e.outcome = outcome;
    if (!record(ctx, std::move(e)).ok())
      return make_error(Errc::unavailable, "audit log unavailable; request refused");
    return err;
  }

  // The policy decision with the facts it needs: the patient's facts
  // (cached) when the target is patient data, then this subject's
  // break-the-glass grant, looked up only when a grant could change the
  // answer.
  Result<access::Decision> decide(const RequestContext& ctx, Action a, access::Target t) {
    t.now_ms = c_.clock->now_ms();
    const std::string& role = ctx.subject.role;
    std::shared_ptr<const access::PatientFacts> facts;
    if (!t.patient.empty() && role != "it-admin" && role != "auditor" &&
        (role != "system" || a == Action::export_all)) {
      MV_ASSIGN(facts, facts_.patient(t.patient, access::needs_relationships(ctx.subject, t)));
      t.facts = facts.get();
    }
    auto d = c_.policy->decide(ctx.subject, a, t, ctx.purpose);
    if (!d.permit && d.glass_breakable && !t.patient.empty()) {
      MV_ASSIGN(auto g, facts_.grant(ctx.subject.user, t.patient));
      if (g) {
        t.grant = &*g;
        d = c_.policy->decide(ctx.subject, a, t, ctx.purpose);
      }
    }
    return d;
  }

  // A denial answers 404 (`hide`: reads of an instance the subject may not
  // know exists) or 403 (type-level refusals and writes, where the subject
  // named what it wanted); docs/access-policy.md.
  Status authorize(const RequestContext& ctx, Action a, const access::Target& t, audit::Entry& e,
                   bool hide = false) {
    MV_ASSIGN(auto d, decide(ctx, a, t));
    e.explanation = d.explanation;
    e.flagged = e.flagged || d.flagged;
    if (!d.permit)
      return refuse(ctx, e, "4", hide ? make_error(Errc::not_found, ref(t.type, t.id) + " not found")
                                 : make_error(Errc::forbidden, "access denied"));
    return ok_status();
  }

  // The final check of a decrypted version before it is handed out: its
  // security labels (the earlier decision could not see them), then the
  // redaction of what the role may not see. False: hidden.
  Result<bool> admit(const RequestContext& ctx, Action a, StoredResource& sr, const std::string& compartment,
                     audit::Entry* e = nullptr) {
    if (sr.deleted || sr.json.empty()) return true;
    const bool labelled = sr.json.find("\"security\"") != std::string::npos;
    const bool redacted = access::redacts(ctx.subject.role, sr.type);
    if (!labelled && !redacted) return true;
    auto v = fhir::parse_json(sr.json);
    if (!v.ok() || !v->is_object())
      return make_error(Errc::integrity, ref(sr.type, sr.id) + ": stored JSON does not parse");
    auto& obj = v->as_object();
    if (labelled) {
      MV_ASSIGN(auto d, decide(ctx, a, {sr.type, sr.id, compartment, &obj}));
      if (e) {
        e->explanation = d.explanation;
        e->flagged = e->flagged || d.flagged;
      }
      if (!d.permit) return false;
    }
    if (redacted && access::redact(ctx.subject.role, sr.type, obj)) sr.json = fhir::serialize(obj);
    return true;
  }

  // The labels check of admit() alone (no redaction), for candidates that
  // are counted but may not be on the page.
  Result<bool> admit_labels(const RequestContext& ctx, Action a, const StoredResource& sr,
                            const std::string& compartment) {
    auto v = fhir::parse_json(sr.json);
    if (!v.ok() || !v->is_object())
      return make_error(Errc::integrity, ref(sr.type, sr.id) + ": stored JSON does not parse");
    MV_ASSIGN(auto d, decide(ctx, a, {sr.type, sr.id, compartment, &v->as_object()}));
    return d.permit;
  }

  // Whether the current version of a resource may be seen: an older version
  // is never shown once the resource is restricted (labelled or refused).
  Result<bool> current_admitted(const RequestContext& ctx, Action a, const std::string& type,
                                const std::string& id) {
    MV_ASSIGN(auto cur, c_.store->current(type, id));
    if (!cur || cur->deleted) return true;
    MV_ASSIGN(auto d, decide(ctx, a, {type, id, cur->compartment, nullptr}));
    if (!d.permit) return false;
    MV_ASSIGN(auto full, c_.store->version(type, id, cur->version));
    if (!full) return true;
    MV_ASSIGN(auto sr, open_row(*full));
    return admit(ctx, a, sr, full->compartment);
  }

  Result<StoredResource> finish_read(const RequestContext& ctx, Action a, audit::Entry e,
                                     const store::VersionRow& row) {
    auto sr = open_row(row);
    if (!sr.ok()) return refuse(ctx, std::move(e), "8", sr.take_error());
    if (sr->deleted)
      return refuse(ctx, std::move(e), "4", make_error(Errc::gone, ref(row.type, row.id) + " was deleted"));
    MV_ASSIGN(bool ok, admit(ctx, a, *sr, row.compartment, &e));
    if (ok && a == Action::vread) {
      MV_ASSIGN(ok, current_admitted(ctx, a, row.type, row.id));
    }
    if (!ok) return refuse(ctx, std::move(e), "4", make_error(Errc::not_found, ref(row.type, row.id) + " not found"));
    MV_TRY(record(ctx, std::move(e)));
    return sr;
  }

  // Encrypts and stores one version inside txn; fills the audit entry.
  Result<StoredResource> write_version(store::Transaction& txn, KeyManager::Staging& staging,
                                       fhir::Resource& r, uint64_t version, bool deleted,
                                       const std::string& old_compartment, int64_t now,
                                       audit::Entry& e) {
    std::string json;
    std::string compartment = old_compartment;
    if (!deleted) {
      fhir::set_meta(r, r.id, version, format_instant(now));
      json = fhir::serialize(r.json);
      compartment = fhir::patient_of(r).value_or("");
    }
    MV_ASSIGN(auto dek, staging.dek_for(txn, compartment));
    store::VersionRow row;
    row.type = r.type;
    row.id = r.id;
    row.version = version;
    row.key_id = dek.first;
    row.last_updated_ms = now;
    row.deleted = deleted;
    row.compartment = compartment;
    row.body = crypto::seal(*dek.second, crypto::record_ad(r.type, r.id, version, dek.first), json);
    MV_TRY(txn.put_version(row));
    std::vector<store::IndexToken> tokens;
    if (!deleted) {
      for (const auto& ie : fhir::index_entries(r)) {
        auto tok = c_.indexer->token(r.type, ie.param, ie.value);
        tokens.push_back({ie.param, std::string(reinterpret_cast<const char*>(tok.data()), tok.size())});
      }
    }
    MV_TRY(txn.set_index(r.type, r.id, tokens));
    e.type = r.type;
    e.id = r.id;
    e.patient = compartment;
    return StoredResource{r.type, r.id, version, now, deleted, std::move(json)};
  }

  // Commits a change with its audit entries. For a caller that answers only
  // once the change is durable (RequestContext::unsynced_write), without
  // waiting for the disk.
  Status commit(store::Transaction& txn, KeyManager::Staging& staging,
                std::vector<audit::Entry> entries, bool* unsynced = nullptr) {
    Status st = c_.audit->add(txn, std::move(entries));
    if (st.ok()) st = unsynced ? txn.commit_unsynced() : txn.commit();
    c_.audit->after_commit(st.ok());
    if (!st.ok()) return st;
    if (unsynced) *unsynced = true;
    staging.commit();
    return ok_status();
  }

  Result<StoredResource> write(const RequestContext& ctx, fhir::Resource r, Action a,
                               std::optional<uint64_t> if_match) {
    WriteOp op;
    op.kind = a == Action::create ? WriteOp::Kind::create : WriteOp::Kind::update;
    op.resource = std::move(r);
    op.if_match = if_match;
    std::vector<WriteOp> ops;
    ops.push_back(std::move(op));
    MV_ASSIGN(auto out, apply(ctx, std::move(ops), a));
    return std::move(out.front());
  }

  // Applies write operations in one database transaction, all or nothing.
  Result<std::vector<StoredResource>> apply(const RequestContext& ctx, std::vector<WriteOp> ops,
                                            Action overall) {
    // Validate and authorise everything before touching the store.
    std::vector<std::pair<std::string, bool>> explained;  // explanation, flagged: per op
    for (size_t i = 0; i < ops.size(); ++i) {
      auto& op = ops[i];
      Action a = op.kind == WriteOp::Kind::create   ? Action::create
                 : op.kind == WriteOp::Kind::update ? Action::update
                                                    : Action::remove;
      auto e = c_.entry(ctx, access::action_name(a));
      e.type = op.resource.type;
      e.id = op.resource.id;
      if (op.kind == WriteOp::Kind::create) op.resource.id = op.resource.id.empty() ? new_uuid() : op.resource.id;
      if (op.kind != WriteOp::Kind::remove) {
        if (!fhir::is_supported_type(op.resource.type))
          return make_error(Errc::not_found, "resource type " + op.resource.type + " is not supported");
        auto v = fhir::validate(op.resource);
        if (!v.ok()) return v.take_error();
      }
      std::string patient = op.kind == WriteOp::Kind::remove ? "" : fhir::patient_of(op.resource).value_or("");
      if (op.kind == WriteOp::Kind::remove) {
        MV_ASSIGN(auto cur, c_.store->current(op.resource.type, op.resource.id));
        if (cur) patient = cur->compartment;
      }
      e.patient = patient;
      // Overwriting or deleting needs the right to see what is there: a
      // hidden resource is "not found" for a delete and forbidden for an
      // update (docs/access-policy.md, "404 or 403").
      if (op.kind != WriteOp::Kind::create) {
        MV_ASSIGN(auto cur, c_.store->current(op.resource.type, op.resource.id));
        if (cur && !cur->deleted) {
          MV_ASSIGN(bool visible, current_admitted(ctx, a, op.resource.type, op.resource.id));
          if (!visible) {
            e.patient = cur->compartment;
            e.explanation = "the existing resource is hidden from the subject";
            return refuse(ctx, e, "4", op.kind == WriteOp::Kind::remove
                                      ? make_error(Errc::not_found, ref(op.resource.type, op.resource.id) + " not found")
                                      : make_error(Errc::forbidden, "access denied"));
          }
          if (op.kind == WriteOp::Kind::update && access::redacts(ctx.subject.role, op.resource.type)) {
            MV_ASSIGN(auto full, c_.store->version(op.resource.type, op.resource.id, cur->version));
            if (full) {
              MV_ASSIGN(auto sr, open_row(*full));
              auto old = fhir::parse_json(sr.json);
              if (old.ok() && old->is_object())
                access::keep_hidden(ctx.subject.role, op.resource.type, old->as_object(), op.resource.json);
            }
          }
        }
      }
      MV_TRY(authorize(ctx, a, {op.resource.type, op.resource.id, patient, &op.resource.json}, e));
      if (overall == Action::transaction)
        MV_TRY(authorize(ctx, Action::transaction, {op.resource.type, op.resource.id, patient, &op.resource.json}, e));
      explained.emplace_back(e.explanation, e.flagged);
    }

    MV_ASSIGN(auto txn, c_.store->begin());
    KeyManager::Staging staging(*c_.keys);
    std::vector<audit::Entry> entries;
    std::vector<StoredResource> out;
    const int64_t now = c_.clock->now_ms();
    std::set<std::string> touched;  // patients whose access facts change
    for (size_t i = 0; i < ops.size(); ++i) {
      auto& op = ops[i];
      auto& r = op.resource;
      MV_ASSIGN(auto cur, txn->current(r.type, r.id));
      const uint64_t cur_version = cur ? cur->version : 0;
      auto e = c_.entry(ctx, op.kind == WriteOp::Kind::remove ? "delete" : cur_version == 0 ? "create" : "update");
      e.type = r.type;
      e.id = r.id;
      e.explanation = explained[i].first;
      e.flagged = explained[i].second;
      if (r.type == "Consent" || access::is_relationship_type(r.type)) {
        if (cur) touched.insert(cur->compartment);
        if (op.kind != WriteOp::Kind::remove) touched.insert(fhir::patient_of(r).value_or(""));
      }
      e.patient = cur                                ? cur->compartment
                  : op.kind == WriteOp::Kind::remove ? ""
                                                     : fhir::patient_of(r).value_or("");
      // A refused write is audited too (outcome 4), once the transaction is
      // rolled back: the audit append takes the writer lock itself.
      auto refuse_write = [&](Error err) {
        txn.reset();
        return refuse(ctx, std::move(e), "4", std::move(err));
      };
      if (op.if_match && *op.if_match != cur_version)
        return refuse_write(make_error(Errc::precondition_failed,
                                       ref(r.type, r.id) + " is at version " + std::to_string(cur_version) +
                                           ", not " + std::to_string(*op.if_match)));
      if (op.kind == WriteOp::Kind::remove) {
        if (!cur) return refuse_write(make_error(Errc::not_found, ref(r.type, r.id) + " not found"));
        if (cur->deleted) {  // deleting a deleted resource changes nothing, but is an access
          out.push_back({r.type, r.id, cur_version, cur->last_updated_ms, true, ""});
          entries.push_back(std::move(e));
          continue;
        }
        MV_ASSIGN(auto sr, write_version(*txn, staging, r, cur_version + 1, true, cur->compartment, now, e));
        out.push_back(std::move(sr));
      } else {
        if (op.kind == WriteOp::Kind::create && cur)
          return refuse_write(make_error(Errc::conflict, ref(r.type, r.id) + " already exists"));
        MV_ASSIGN(auto sr, write_version(*txn, staging, r, cur_version + 1, false, "", now, e));
        out.push_back(std::move(sr));
      }
      entries.push_back(std::move(e));
    }
    MV_TRY(commit(*txn, staging, std::move(entries), ctx.unsynced_write));
    for (const auto& p : touched) facts_.invalidate(p);
    return out;
  }

  Core& c_;
  AccessFacts facts_;
  int64_t break_glass_ms_ = 60 * 60'000LL;  // default grant: one hour
};

}  // namespace

std::unique_ptr<Repository> make_repository(Core& core) {
  return std::make_unique<RepositoryImpl>(core);
}

}  // namespace medvault::vault
