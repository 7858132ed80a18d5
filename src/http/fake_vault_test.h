// An in-memory Vault for the http tests: the repository contract of
// vault/repository.h (versions, deletes, If-Match, history, search by the
// normalised values of fhir::index_entries, atomic transactions) without
// keys, store or audit. It records the last RequestContext it saw, and can be
// told to fail every call with a given error.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "fhir/json.h"
#include "fhir/resource.h"
#include "http/fhir_handlers.h"
#include "vault/vault.h"

namespace medvault::http::testing {

class FakeRepository final : public vault::Repository {
 public:
  using Key = std::pair<std::string, std::string>;

  std::optional<Error> fail_with;  // every call fails with it when set
  vault::RequestContext last_ctx;
  size_t writes = 0;  // versions written

  size_t version_count() {
    std::lock_guard l(mu_);
    size_t n = 0;
    for (const auto& [k, v] : data_) n += v.size();
    return n;
  }

  Result<vault::StoredResource> read(const vault::RequestContext& ctx, const std::string& type,
                                     const std::string& id) override {
    std::lock_guard l(mu_);
    MV_TRY(enter(ctx));
    auto it = data_.find({type, id});
    if (it == data_.end()) return make_error(Errc::not_found, type + "/" + id + " not found");
    if (it->second.back().deleted) return make_error(Errc::gone, type + "/" + id + " is deleted");
    return it->second.back();
  }

  Result<vault::StoredResource> vread(const vault::RequestContext& ctx, const std::string& type,
                                      const std::string& id, uint64_t version) override {
    std::lock_guard l(mu_);
    MV_TRY(enter(ctx));
    auto it = data_.find({type, id});
    if (it == data_.end() || version == 0 || version > it->second.size())
      return make_error(Errc::not_found, type + "/" + id + " has no such version");
    return it->second[version - 1];
  }

  Result<vault::StoredResource> create(const vault::RequestContext& ctx, fhir::Resource r) override {
    r.id = new_uuid();
    std::vector<vault::WriteOp> ops(1);
    ops[0].kind = vault::WriteOp::Kind::create;
    ops[0].resource = std::move(r);
    MV_ASSIGN(auto out, transaction(ctx, std::move(ops)));
    return std::move(out.front());
  }

  Result<vault::StoredResource> update(const vault::RequestContext& ctx, fhir::Resource r,
                                       std::optional<uint64_t> if_match) override {
    std::vector<vault::WriteOp> ops(1);
    ops[0].kind = vault::WriteOp::Kind::update;
    ops[0].resource = std::move(r);
    ops[0].if_match = if_match;
    MV_ASSIGN(auto out, transaction(ctx, std::move(ops)));
    return std::move(out.front());
  }

  Result<vault::StoredResource> remove(const vault::RequestContext& ctx, const std::string& type,
                                       const std::string& id) override {
    std::vector<vault::WriteOp> ops(1);
    ops[0].kind = vault::WriteOp::Kind::remove;
    ops[0].resource.type = type;
    ops[0].resource.id = id;
    MV_ASSIGN(auto out, transaction(ctx, std::move(ops)));
    return std::move(out.front());
  }

  Result<std::vector<vault::StoredResource>> history(const vault::RequestContext& ctx, const std::string& type,
                                                     const std::string& id, std::optional<int64_t> since_ms,
                                                     size_t count) override {
    std::lock_guard l(mu_);
    MV_TRY(enter(ctx));
    std::vector<vault::StoredResource> out;
    for (const auto& [k, versions] : data_) {
      if (!type.empty() && k.first != type) continue;
      if (!id.empty() && k.second != id) continue;
      for (const auto& v : versions)
        if (!since_ms || v.last_updated_ms >= *since_ms) out.push_back(v);
    }
    if (!id.empty() && out.empty() && !data_.count({type, id})) return make_error(Errc::not_found, "not found");
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.last_updated_ms > b.last_updated_ms; });
    if (out.size() > count) out.resize(count);
    return out;
  }

  Result<vault::SearchResult> search(const vault::RequestContext& ctx, const vault::SearchRequest& q) override {
    std::lock_guard l(mu_);
    MV_TRY(enter(ctx));
    last_search = q;
    std::vector<const vault::StoredResource*> hits;
    for (const auto& [k, versions] : data_) {
      const auto& cur = versions.back();
      if (k.first != q.type || cur.deleted) continue;
      if (!q.ids.empty() && std::find(q.ids.begin(), q.ids.end(), k.second) == q.ids.end()) continue;
      if (q.updated_from_ms && cur.last_updated_ms < *q.updated_from_ms) continue;
      if (q.updated_to_ms && cur.last_updated_ms >= *q.updated_to_ms) continue;
      auto r = fhir::parse_resource(cur.json);
      if (!r) return r.take_error();
      const auto entries = fhir::index_entries(*r);
      bool all = true;
      for (const auto& term : q.terms) {
        bool any = false;
        for (const auto& e : entries)
          if (e.param == term.param && std::find(term.values.begin(), term.values.end(), e.value) != term.values.end())
            any = true;
        all = all && any;
      }
      if (all && (!q.residual || q.residual(*r))) hits.push_back(&cur);
    }
    std::sort(hits.begin(), hits.end(), [&](auto* a, auto* b) {
      return q.newest_first ? a->last_updated_ms > b->last_updated_ms : a->id < b->id;
    });
    // As the repository: the total is known when asked for (or count 0) or
    // when the matches end within the page plus one.
    vault::SearchResult res;
    res.more = hits.size() > q.offset + q.count;
    if (q.accurate_total || q.count == 0 || !res.more) res.total = hits.size();
    for (size_t i = q.offset; i < hits.size() && i < q.offset + q.count; ++i) res.page.push_back(*hits[i]);
    return res;
  }

  Result<std::vector<vault::StoredResource>> everything(const vault::RequestContext& ctx,
                                                        const std::string& patient_id) override {
    std::lock_guard l(mu_);
    MV_TRY(enter(ctx));
    auto it = data_.find({"Patient", patient_id});
    if (it == data_.end() || it->second.back().deleted) return make_error(Errc::not_found, "not found");
    std::vector<vault::StoredResource> out;
    for (const auto& [k, versions] : data_) {
      if (versions.back().deleted) continue;
      auto r = fhir::parse_resource(versions.back().json);
      if (r && fhir::patient_of(*r) == patient_id) out.push_back(versions.back());
    }
    return out;
  }

  Result<std::vector<vault::StoredResource>> transaction(const vault::RequestContext& ctx,
                                                         std::vector<vault::WriteOp> ops) override {
    std::lock_guard l(mu_);
    MV_TRY(enter(ctx));
    auto saved = data_;
    auto saved_clock = clock_;
    std::vector<vault::StoredResource> out;
    for (auto& op : ops) {
      auto r = apply(op);
      if (!r) {
        data_ = std::move(saved);
        clock_ = saved_clock;
        return r.take_error();
      }
      out.push_back(std::move(*r));
    }
    return out;
  }

  Result<vault::ImportStats> import_batch(const vault::RequestContext&, std::vector<fhir::Resource>) override {
    return make_error(Errc::internal, "not in the fake");
  }
  Status export_all(const vault::RequestContext&, const std::function<bool(const vault::StoredResource&)>&) override {
    return make_error(Errc::internal, "not in the fake");
  }

  std::optional<vault::SearchRequest> last_search;

 private:
  Status enter(const vault::RequestContext& ctx) {
    last_ctx = ctx;
    if (fail_with) return *fail_with;
    return ok_status();
  }

  Result<vault::StoredResource> apply(vault::WriteOp& op) {
    auto& r = op.resource;
    auto& versions = data_[{r.type, r.id}];
    const uint64_t cur = versions.size();
    if (op.if_match && *op.if_match != cur) {
      if (versions.empty()) data_.erase({r.type, r.id});
      return make_error(Errc::precondition_failed, r.type + "/" + r.id + " is at version " + std::to_string(cur));
    }
    vault::StoredResource s{r.type, r.id, cur + 1, ++clock_, false, ""};
    if (op.kind == vault::WriteOp::Kind::remove) {
      if (versions.empty()) {
        data_.erase({r.type, r.id});
        return make_error(Errc::not_found, r.type + "/" + r.id + " not found");
      }
      if (versions.back().deleted) return versions.back();
      s.deleted = true;
    } else {
      if (op.kind == vault::WriteOp::Kind::create && !versions.empty())
        return make_error(Errc::conflict, r.type + "/" + r.id + " already exists");
      if (!fhir::is_supported_type(r.type)) return make_error(Errc::not_found, "type not supported");
      MV_TRY(fhir::validate(r));
      const std::string id = r.id;  // set_meta assigns r.id: do not pass a view of it
      fhir::set_meta(r, id, s.version, format_instant(s.last_updated_ms));
      s.json = fhir::serialize(r.json);
    }
    ++writes;
    versions.push_back(s);
    return s;
  }

  std::mutex mu_;
  std::map<Key, std::vector<vault::StoredResource>> data_;
  int64_t clock_ = 1'700'000'000'000;
};

class FakeAccounts final : public vault::Accounts {
 public:
  std::map<std::string, access::Subject> tokens;
  // Every authentication attempt (token, client address): the real Accounts
  // audits each failed one, so the API must make one for every request that
  // needs a subject, credential or not.
  std::vector<std::pair<std::string, std::string>> attempts;

  Status add_user(const vault::RequestContext&, const std::string&, const std::string&,
                  const std::vector<std::string>&) override { return make_error(Errc::internal, "fake"); }
  Result<std::vector<vault::AccountInfo>> list_users(const vault::RequestContext&) override {
    return make_error(Errc::internal, "fake");
  }
  Status set_disabled(const vault::RequestContext&, const std::string&, bool) override {
    return make_error(Errc::internal, "fake");
  }
  Result<vault::IssuedToken> issue_token(const vault::RequestContext&, const std::string&, int64_t) override {
    return make_error(Errc::internal, "fake");
  }
  Status revoke_token(const vault::RequestContext&, const std::string& token) override {
    std::lock_guard l(mu_);
    tokens.erase(token);
    return ok_status();
  }
  Status revoke_all(const vault::RequestContext&, const std::string&) override { return make_error(Errc::internal, "fake"); }
  Result<access::Subject> authenticate_bearer(std::string_view token, const std::string& address) override {
    std::lock_guard l(mu_);
    attempts.emplace_back(std::string(token), address);
    auto it = tokens.find(std::string(token));
    if (it == tokens.end()) return make_error(Errc::unauthenticated, "invalid token");
    return it->second;
  }

 private:
  std::mutex mu_;
};

class FakeVault final : public vault::Vault {
 public:
  FakeVault() {
    accounts_.tokens["mvt_doctor"] = {"drhouse", "physician", {}};
    accounts_.tokens["mvt_admin"] = {"root", "it-admin", {}};
  }
  const std::filesystem::path& dir() const override { return dir_; }
  vault::Repository& repository() override { return repo; }
  vault::Accounts& accounts() override { return accounts_; }
  Status rotate_kek(const vault::RequestContext&) override { return make_error(Errc::internal, "fake"); }
  Status change_passphrase(const vault::RequestContext&, const crypto::SecretString&,
                           const crypto::Argon2Params&) override {
    return make_error(Errc::internal, "fake");
  }
  Result<vault::VaultStatus> status() override { return make_error(Errc::internal, "fake"); }
  Status verify() override { return ok_status(); }

  FakeRepository repo;
  std::filesystem::path dir_ = "/nonexistent";

 private:
  FakeAccounts accounts_;
};

}  // namespace medvault::http::testing
