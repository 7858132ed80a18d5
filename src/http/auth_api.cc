// docs/auth-api.md: sign-in, sessions, enrolment, administration.
#include "http/auth_api.h"

#include <algorithm>
#include <boost/json.hpp>

#include "access/policy.h"
#include "auth/webauthn.h"
#include <charconv>

#include "common/clock.h"
#include "fhir/datetime.h"
#include "http/outcome.h"

namespace medvault::http {
namespace {

namespace bj = boost::json;

// Every body here is small; the largest is a passkey registration (an
// attestation object of at most 64 KiB, base64url).
constexpr size_t kMaxAuthBody = 256 * 1024;

Response json_response(int status, const bj::value& v) {
  Response r;
  r.status = status;
  r.set("Content-Type", "application/json");
  r.body = bj::serialize(v);
  return r;
}

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

Response failure(const Error& e, const Request& req, int64_t retry_after_s = 0) {
  Response r = error_response(e, req.request_id);
  if (e.code == Errc::throttled && retry_after_s > 0) r.set("Retry-After", std::to_string(retry_after_s));
  return r;
}

Result<bj::object> body_object(const Request& req) {
  if (req.body.size() > kMaxAuthBody) return make_error(Errc::too_large, "request body larger than 256 KiB");
  if (req.body.empty()) return bj::object();
  boost::system::error_code ec;
  auto v = bj::parse(req.body, ec);
  if (ec || !v.is_object()) return make_error(Errc::invalid, "expected a JSON object");
  return std::move(v.as_object());
}

// A string member ("" when absent); Errc::invalid when present but not a string.
Result<std::string> text(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return make_error(Errc::invalid, "\"" + std::string(key) + "\" must be a string");
  return std::string(v->as_string());
}

// A base64url member, decoded.
Result<std::string> binary(const bj::object& o, std::string_view key, bool required = true) {
  MV_ASSIGN(auto t, text(o, key));
  if (t.empty()) {
    if (required) return make_error(Errc::invalid, "\"" + std::string(key) + "\" is required (base64url)");
    return std::string();
  }
  auto raw = auth::webauthn::base64url_decode(t);
  if (!raw) return make_error(Errc::invalid, "\"" + std::string(key) + "\" is not base64url");
  return std::move(*raw);
}

Result<vault::PasskeyAssertion> assertion_of(const bj::object& o) {
  vault::PasskeyAssertion a;
  MV_ASSIGN(a.ceremony, text(o, "ceremony"));
  MV_ASSIGN(a.credential_id, binary(o, "id"));
  MV_ASSIGN(a.client_data_json, binary(o, "clientDataJSON"));
  MV_ASSIGN(a.authenticator_data, binary(o, "authenticatorData"));
  MV_ASSIGN(a.signature, binary(o, "signature"));
  MV_ASSIGN(a.user_handle, binary(o, "userHandle", false));
  return a;
}

Result<vault::PasskeyAttestation> attestation_of(const bj::object& o) {
  vault::PasskeyAttestation a;
  MV_ASSIGN(a.ceremony, text(o, "ceremony"));
  MV_ASSIGN(a.client_data_json, binary(o, "clientDataJSON"));
  MV_ASSIGN(a.attestation_object, binary(o, "attestationObject"));
  MV_ASSIGN(a.label, text(o, "label"));
  return a;
}

bj::object session_json(const vault::SessionInfo& s, int64_t idle_s) {
  bj::object o;
  o["user"] = s.subject.user;
  o["role"] = s.subject.role;
  // The record the user acts as ("Practitioner/<id>" or ""), for the app to
  // name the user as participant or requester of what they record.
  o["practitioner"] = s.subject.practitioner;
  o["csrf"] = s.csrf;
  o["enrol_required"] = s.enrol_required;
  o["methods"] = {{"password", s.has_password}, {"totp", s.has_totp}, {"passkeys", s.passkeys}};
  o["idle_timeout_s"] = idle_s;
  o["expires"] = format_instant(s.expires_ms);
  return o;
}

std::string cookie(std::string_view value, int64_t max_age_s) {
  return std::string(kSessionCookie) + "=" + std::string(value) +
         "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
}

Response signed_in(vault::Sessions& sessions, const Result<vault::SessionInfo>& s, const Request& req,
                   const vault::SignIn& attempt) {
  if (!s) return failure(s.error(), req, attempt.retry_after_s);
  const auto& cfg = sessions.settings();
  Response r = json_response(200, session_json(*s, cfg.idle_ms / 1000));
  r.set("Set-Cookie", cookie(s->token, cfg.max_ms / 1000));
  return r;
}

Response ceremony_json(const Result<vault::Ceremony>& c, const Request& req, int64_t retry_after_s = 0) {
  if (!c) return failure(c.error(), req, retry_after_s);
  bj::object o;
  o["ceremony"] = c->id;
  o["publicKey"] = bj::parse(c->options_json);
  return json_response(200, o);
}

bool is(const std::vector<std::string>& seg, std::initializer_list<std::string_view> path) {
  if (seg.size() != path.size()) return false;
  size_t i = 0;
  for (auto p : path)
    if (seg[i++] != p) return false;
  return true;
}

Response method_not_allowed(const Request& req, std::string_view allow) {
  Response r = error_response(make_error(Errc::invalid, "use " + std::string(allow)), req.request_id);
  r.status = 405;
  r.set("Allow", std::string(allow));
  return r;
}

// An instant query parameter in ms since the epoch.
Result<int64_t> instant_param(const std::string& v) {
  auto r = fhir::is_fhir_instant(v) || fhir::is_fhir_date(v) ? fhir::parse_time_range(v) : std::nullopt;
  if (!r) return make_error(Errc::invalid, "from and to must be FHIR instants or dates");
  return r->begin_ms;
}

// The filter of GET /api/audit and /api/audit/export.
Result<vault::AuditQuery> audit_query_of(const Params& query) {
  vault::AuditQuery q;
  for (const auto& [k, v] : query) {
    if (k == "patient") q.patient = v;
    else if (k == "user") q.user = v;
    else if (k == "from" || k == "to") {
      MV_ASSIGN(auto ms, instant_param(v));
      (k == "from" ? q.from_ms : q.to_ms) = ms;
    } else if (k == "flagged") q.flagged_only = v == "1" || v == "true";
    else if (k == "limit") {
      size_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size()) return make_error(Errc::invalid, "limit must be a number");
      q.limit = n;
    } else {
      return make_error(Errc::invalid, "unknown parameter \"" + k + "\": patient, user, from, to, flagged, limit");
    }
  }
  return q;
}

// One CSV field (RFC 4180): quoted when it holds a comma, quote or line
// break. A field a spreadsheet would run as a formula (=, +, -, @, tab, CR
// first) gets a leading apostrophe: audit text comes from users.
std::string csv_field(std::string_view v) {
  std::string s;
  if (!v.empty() && std::string_view("=+-@\t\r").find(v.front()) != std::string_view::npos) s = "'";
  s += v;
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

// GET /api/audit/export: what the viewer shows, as a CSV attachment, after
// a step-up code of the privacy officer (the export leaves the vault).
Response audit_export(vault::Vault& vault, vault::Sessions& sessions, const vault::RequestContext& ctx,
                      const Request& req) {
  if (req.method != "GET") return method_not_allowed(req, "GET");
  auto target = parse_target(req.target);
  if (!target) return failure(target.error(), req);
  auto q = audit_query_of(target->query);
  if (!q) return failure(q.error(), req);
  if (ctx.subject.role != "auditor") {
    // Refused before the step-up, so that no code is consumed; the vault's
    // query refuses and audits the attempt like the viewer's.
    auto refused = vault.audit_query(ctx, *q);
    return failure(refused ? make_error(Errc::forbidden, "the audit export is for the auditor") : refused.error(), req);
  }
  if (auto st = sessions.step_up(ctx, req.step_up); !st.ok()) return failure(st.error(), req);
  auto records = vault.audit_query(ctx, *q);
  if (!records) return failure(records.error(), req);
  std::string csv = "seq,time,user,role,action,type,id,patient,purpose,outcome,address,flagged,explanation,detail\r\n";
  for (const auto& r : *records) {
    const auto& e = r.entry;
    const std::string fields[] = {std::to_string(r.seq), format_instant(e.time_ms), e.user, e.role, e.action,
                                  e.type, e.id, e.patient, e.purpose, e.outcome, e.address,
                                  e.flagged ? "true" : "false", e.explanation, e.detail};
    bool first = true;
    for (const auto& f : fields) {
      if (!first) csv += ',';
      first = false;
      csv += csv_field(f);
    }
    csv += "\r\n";
  }
  Response out;
  out.status = 200;
  out.set("Content-Type", "text/csv; charset=utf-8");
  out.set("Content-Disposition", "attachment; filename=\"medvault-audit.csv\"");
  out.body = std::move(csv);
  return out;
}

}  // namespace

Response handle_audit_query(vault::Vault& vault, const vault::RequestContext& ctx, const Request& req,
                            const Params& query) {
  if (req.method != "GET") return method_not_allowed(req, "GET");
  auto q = audit_query_of(query);
  if (!q) return failure(q.error(), req);
  auto records = vault.audit_query(ctx, *q);
  if (!records) return failure(records.error(), req);
  bj::array a;
  for (const auto& r : *records) {
    const auto& e = r.entry;
    a.push_back({{"seq", r.seq},
                 {"time", format_instant(e.time_ms)},
                 {"user", e.user},
                 {"role", e.role},
                 {"action", e.action},
                 {"type", e.type},
                 {"id", e.id},
                 {"patient", e.patient},
                 {"purpose", e.purpose},
                 {"outcome", e.outcome},
                 {"address", e.address},
                 {"flagged", e.flagged},
                 {"explanation", e.explanation},
                 {"detail", e.detail}});
  }
  return json_response(200, bj::object{{"entries", std::move(a)}});
}

std::optional<Response> handle_sign_in(vault::Sessions& sessions, const Request& req,
                                       const std::vector<std::string>& seg) {
  const bool login = is(seg, {"api", "auth", "login"});
  const bool pk_begin = is(seg, {"api", "auth", "passkey", "login", "begin"});
  const bool pk_finish = is(seg, {"api", "auth", "passkey", "login", "finish"});
  const bool cert = is(seg, {"api", "auth", "certificate"});
  if (!login && !pk_begin && !pk_finish && !cert) return std::nullopt;
  if (req.method != "POST") return method_not_allowed(req, "POST");
  auto body = body_object(req);
  if (!body) return failure(body.error(), req);
  vault::SignIn attempt{req.client_address, 0};
  if (login) {
    auto user = text(*body, "username");
    auto pass = text(*body, "password");
    auto code = text(*body, "code");
    if (!user || !pass || !code) return failure(make_error(Errc::invalid, "username, password and code must be strings"), req);
    return signed_in(sessions, sessions.login_password(*user, *pass, *code, attempt), req, attempt);
  }
  if (pk_begin) return ceremony_json(sessions.passkey_login_begin(attempt), req, attempt.retry_after_s);
  if (cert) return signed_in(sessions, sessions.certificate_login(req.client_cert_sha256, attempt), req, attempt);
  auto a = assertion_of(*body);
  if (!a) return failure(a.error(), req);
  return signed_in(sessions, sessions.passkey_login_finish(*a, attempt), req, attempt);
}

Response handle_account_api(vault::Vault& vault, const vault::RequestContext& ctx,
                            const vault::SessionInfo* session, const Request& req,
                            const std::vector<std::string>& seg) {
  vault::Sessions* sessions = vault.sessions();
  if (!sessions) return failure(make_error(Errc::not_found, "no such endpoint"), req);
  auto body = body_object(req);
  if (!body) return failure(body.error(), req);

  if (is(seg, {"api", "audit", "export"})) return audit_export(vault, *sessions, ctx, req);
  if (seg.size() >= 3 && seg[1] == "admin" && seg[2] == "users") {
    if (ctx.subject.role != "it-admin") return failure(make_error(Errc::forbidden, "user administration is for it-admin"), req);
    if (seg.size() == 3) {
      if (req.method != "GET") return method_not_allowed(req, "GET");
      auto users = vault.accounts().list_users(ctx);
      if (!users) return failure(users.error(), req);
      auto live = sessions->active_sessions();
      if (!live) return failure(live.error(), req);
      bj::array a;
      for (const auto& u : *users)
        a.push_back({{"username", u.username},
                     {"sessions", live->count(u.username) ? live->at(u.username) : 0},
                     {"role", u.role},
                     {"disabled", u.disabled},
                     {"expires", u.expires_ms ? bj::value(format_instant(u.expires_ms)) : bj::value(nullptr)},
                     {"created", format_instant(u.created_ms)},
                     {"mfa", {{"password", u.has_password}, {"totp", u.has_totp}, {"passkeys", u.passkeys},
                              {"certificates", u.certificates}}}});
      bj::array roles;
      for (auto r : access::kStaffRoles) roles.emplace_back(r);
      return json_response(200, bj::object{{"users", std::move(a)}, {"staff_roles", std::move(roles)}});
    }
    if (seg.size() != 5 || (seg[4] != "revoke" && seg[4] != "disable" && seg[4] != "enable" && seg[4] != "role"))
      return failure(make_error(Errc::not_found, "no such endpoint"), req);
    if (req.method != "POST") return method_not_allowed(req, "POST");
    std::string role;
    if (seg[4] == "role") {
      const auto* r = body->if_contains("role");
      if (!r || !r->is_string()) return failure(make_error(Errc::invalid, "body must be {\"role\": \"...\"}"), req);
      role = std::string(r->as_string());
      // What is refused whoever asks is refused before the step-up, so that
      // no code is spent on it: the vault's own answer, nothing written.
      if (!access::is_staff_role(role) || seg[3] == ctx.subject.user)
        return failure(vault.accounts().set_role(ctx, seg[3], role).error(), req);
    }
    if (auto st = sessions->step_up(ctx, req.step_up); !st.ok()) return failure(st.error(), req);
    Status st = seg[4] == "revoke" ? vault.accounts().revoke_all(ctx, seg[3])
                : seg[4] == "role" ? vault.accounts().set_role(ctx, seg[3], role)
                                   : vault.accounts().set_disabled(ctx, seg[3], seg[4] == "disable");
    if (!st.ok()) return failure(st.error(), req);
    return no_content();
  }
  if (seg.size() < 3 || seg[1] != "auth") return failure(make_error(Errc::not_found, "no such endpoint"), req);

  if (is(seg, {"api", "auth", "session"})) {
    if (req.method != "GET") return method_not_allowed(req, "GET");
    if (!session) return failure(make_error(Errc::invalid, "no session: this request used a bearer token"), req);
    return json_response(200, session_json(*session, sessions->settings().idle_ms / 1000));
  }
  if (is(seg, {"api", "auth", "logout"}) || is(seg, {"api", "auth", "logout-all"})) {
    if (req.method != "POST") return method_not_allowed(req, "POST");
    const bool all = seg[2] == "logout-all";
    if (!all && !session) return failure(make_error(Errc::invalid, "no session to end: this request used a bearer token"), req);
    Status st = all ? sessions->logout_all(ctx) : sessions->logout(ctx, session->token_id);
    if (!st.ok()) return failure(st.error(), req);
    Response r = no_content();
    r.set("Set-Cookie", cookie("", 0));
    return r;
  }
  if (is(seg, {"api", "auth", "sessions"})) {
    if (req.method != "GET") return method_not_allowed(req, "GET");
    auto list = sessions->list(ctx, session ? session->token_id : "");
    if (!list) return failure(list.error(), req);
    bj::array a;
    for (const auto& s : *list)
      a.push_back({{"id", s.id},
                   {"created", format_instant(s.created_ms)},
                   {"last_used", format_instant(s.last_used_ms)},
                   {"expires", format_instant(s.expires_ms)},
                   {"current", s.current}});
    return json_response(200, bj::object{{"sessions", std::move(a)}});
  }
  if (seg.size() == 4 && seg[2] == "sessions") {
    if (req.method != "DELETE") return method_not_allowed(req, "DELETE");
    if (auto st = sessions->end(ctx, seg[3]); !st.ok()) return failure(st.error(), req);
    return no_content();
  }
  if (req.method != "POST" && seg.size() >= 4 && (seg[2] == "totp" || seg[2] == "passkey" || seg[2] == "step-up"))
    return method_not_allowed(req, "POST");
  if (is(seg, {"api", "auth", "totp", "enrol"})) {
    auto e = sessions->totp_enrol(ctx);
    if (!e) return failure(e.error(), req);
    return json_response(200, bj::object{{"secret", e->secret_base32}, {"uri", e->uri}, {"qr_svg", e->qr_svg}});
  }
  if (is(seg, {"api", "auth", "totp", "confirm"})) {
    auto code = text(*body, "code");
    if (!code) return failure(code.error(), req);
    auto codes = sessions->totp_confirm(ctx, *code);
    if (!codes) return failure(codes.error(), req);
    bj::array a;
    for (auto& c : *codes) a.emplace_back(c);
    return json_response(200, bj::object{{"recovery_codes", std::move(a)}});
  }
  if (is(seg, {"api", "auth", "step-up", "begin"})) return ceremony_json(sessions->step_up_begin(ctx), req);
  if (is(seg, {"api", "auth", "step-up", "finish"})) {
    auto a = assertion_of(*body);
    if (!a) return failure(a.error(), req);
    auto t = sessions->step_up_finish(ctx, *a);
    if (!t) return failure(t.error(), req);
    return json_response(200, bj::object{{"step_up", t->token}, {"expires", format_instant(t->expires_ms)}});
  }
  if (is(seg, {"api", "auth", "passkey", "register", "begin"}))
    return ceremony_json(sessions->passkey_register_begin(ctx), req);
  if (is(seg, {"api", "auth", "passkey", "register", "finish"})) {
    auto a = attestation_of(*body);
    if (!a) return failure(a.error(), req);
    auto id = sessions->passkey_register_finish(ctx, *a);
    if (!id) return failure(id.error(), req);
    return json_response(201, bj::object{{"id", *id}});
  }
  return failure(make_error(Errc::not_found, "no such endpoint"), req);
}

}  // namespace medvault::http
