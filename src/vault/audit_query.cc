// The privacy officer's audit viewer (docs/admin-api.md).
#include "common/clock.h"
#include "vault/core.h"

namespace medvault::vault {

Result<std::vector<AuditRecord>> query_audit(Core& c, const RequestContext& ctx, const AuditQuery& q) {
  if (ctx.subject.role != "auditor" && ctx.subject.role != "system") {
    auto refused = c.entry(ctx, "audit-query");
    refused.outcome = "4";
    MV_TRY(c.audit->append(std::move(refused)));
    return make_error(Errc::forbidden, "the audit log is for the privacy officer (role auditor)");
  }
  const int given = !q.patient.empty() + !q.user.empty() + (q.from_ms != 0 || q.to_ms != 0);
  if (given != 1) return make_error(Errc::invalid, "give exactly one of patient, user, or from and to");
  if ((q.from_ms || q.to_ms) && q.from_ms >= q.to_ms) return make_error(Errc::invalid, "from must be before to");
  if (q.limit < 1 || q.limit > 500) return make_error(Errc::invalid, "limit must be 1 to 500");

  auto e = c.entry(ctx, "audit-query");
  e.patient = q.patient;
  e.detail = !q.patient.empty() ? "by patient"
             : !q.user.empty()  ? "by user " + q.user
                                : "from " + format_instant(q.from_ms) + " to " + format_instant(q.to_ms);
  if (q.flagged_only) e.detail += ", flagged only";
  MV_TRY(c.audit->append(std::move(e)));

  // Flagged entries are rare: read more rows than asked and keep those.
  const size_t fetch = q.flagged_only ? 20 * q.limit : q.limit;
  MV_ASSIGN(auto rows, !q.patient.empty() ? c.store->audit_by_patient(q.patient, fetch)
                      : !q.user.empty()    ? c.store->audit_by_user(q.user, fetch)
                                           : c.store->audit_in_window(q.from_ms, q.to_ms, fetch));

  std::vector<AuditRecord> out;
  for (const auto& row : rows) {
    AuditRecord r;
    r.seq = row.seq;
    MV_TRY(audit::parse_canonical(row.entry, r.entry));
    if (q.flagged_only && !r.entry.flagged) continue;
    if (!r.entry.detail.empty()) {
      MV_ASSIGN(r.entry.detail, c.audit->open_detail(r.entry.detail));
    }
    out.push_back(std::move(r));
    if (out.size() == q.limit) break;
  }
  return out;
}

}  // namespace medvault::vault
