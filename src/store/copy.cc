// Engine-to-engine copy (`medvault migrate`) and the location dispatch.
#include <string_view>

#include "store/store.h"

namespace medvault::store {

bool is_postgres_url(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

namespace {

constexpr size_t kAuditBatch = 10000;

Status require_empty(Store& to) {
  MV_ASSIGN(auto metas, to.metas());
  MV_ASSIGN(const uint64_t audit, to.audit_size());
  MV_ASSIGN(const uint64_t resources, to.count_current(""));
  MV_ASSIGN(auto keks, to.keks());
  if (!metas.empty() || audit != 0 || resources != 0 || !keks.empty())
    return make_error(Errc::conflict, "the destination store is not empty");
  return ok_status();
}

}  // namespace

Status copy_all(Store& from, Store& to) {
  MV_TRY(require_empty(to));
  MV_ASSIGN(auto txn, to.begin());
  Status failed = ok_status();
  auto keep = [&](Status st) {
    if (!st.ok()) failed = std::move(st);
    return failed.ok();
  };

  MV_ASSIGN(auto metas, from.metas());
  for (const auto& [k, v] : metas) MV_TRY(txn->put_meta(k, v));
  MV_ASSIGN(auto keks, from.keks());
  for (const auto& k : keks) MV_TRY(txn->put_kek(k));
  MV_ASSIGN(auto deks, from.deks());
  for (const auto& d : deks) {
    MV_ASSIGN(const uint64_t id, txn->put_dek(d));
    if (id != d.key_id) return make_error(Errc::integrity, "data key ids changed while copying");
  }

  MV_TRY(from.for_each_version([&](const VersionRow& v) { return keep(txn->put_version(v)); }));
  MV_TRY(failed);

  // Tokens arrive grouped by resource: one set_index per resource.
  std::string type, id;
  std::vector<IndexToken> tokens;
  MV_TRY(from.for_each_index_token(
      [&](const std::string& t, const std::string& i, const IndexToken& tok) {
        if ((t != type || i != id) && !tokens.empty()) {
          if (!keep(txn->set_index(type, id, tokens))) return false;
          tokens.clear();
        }
        type = t;
        id = i;
        tokens.push_back(tok);
        return true;
      }));
  MV_TRY(failed);
  if (!tokens.empty()) MV_TRY(txn->set_index(type, id, tokens));

  std::vector<AuditRow> batch;
  batch.reserve(kAuditBatch);
  MV_ASSIGN(const uint64_t audit_n, from.audit_size());
  MV_TRY(from.audit_scan(1, audit_n, [&](const AuditRowView& r) {
    batch.push_back(AuditRow{r.seq, r.time_ms, std::string(r.patient), std::string(r.user),
                             std::string(r.entry), std::string(r.leaf_hash), std::string(r.chain)});
    if (batch.size() < kAuditBatch) return true;
    if (!keep(txn->append_audit(batch))) return false;
    batch.clear();
    return true;
  }));
  MV_TRY(failed);
  if (!batch.empty()) MV_TRY(txn->append_audit(batch));
  MV_ASSIGN(auto checkpoints, from.audit_checkpoints());
  for (const auto& c : checkpoints) MV_TRY(txn->put_audit_checkpoint(c));

  MV_ASSIGN(auto accounts, from.accounts());
  for (const auto& a : accounts) MV_TRY(txn->put_account(a));
  MV_ASSIGN(auto toks, from.tokens());
  for (const auto& t : toks) MV_TRY(txn->put_token(t));
  return txn->commit();
}

}  // namespace medvault::store
