#include "http/api.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>

#include "access/policy.h"
#include "common/clock.h"
#include "http/auth_api.h"
#include "http/fhir_handlers.h"
#include "http/log.h"
#include "http/outcome.h"
#include "http/router.h"
#include "http/static_files.h"

namespace medvault::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Purpose of use: a v3 ActReason code, upper-case letters only.
bool is_purpose_code(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s)
    if (c < 'A' || c > 'Z') return false;
  return true;
}

// Constant-time comparison of two secrets (the CSRF token).
bool same_secret(std::string_view a, std::string_view b) {
  return !a.empty() && a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Response unauthenticated(const Request& req, bool token_given) {
  Response r = error_response(
      make_error(Errc::unauthenticated, token_given ? "invalid or expired bearer token"
                                                    : "authentication required (Authorization: Bearer)"),
      req.request_id);
  r.set("WWW-Authenticate",
        token_given ? "Bearer realm=\"medvault\", error=\"invalid_token\"" : "Bearer realm=\"medvault\"");
  return r;
}

}  // namespace

void add_security_headers(Response& r, std::string_view request_id) {
  r.set("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
  r.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  r.set("X-Content-Type-Options", "nosniff");
  r.set("X-Frame-Options", "DENY");
  r.set("Referrer-Policy", "no-referrer");
  r.set("Cache-Control", "no-store");
  r.set("X-Request-Id", std::string(request_id));
}

bool is_loopback(std::string_view a) {
  if (a.starts_with("::ffff:")) a.remove_prefix(7);
  return a.starts_with("127.") || a == "::1";
}

std::string_view bearer_token(std::string_view h) {
  if (h.size() < 7 || !iequals(h.substr(0, 6), "Bearer") || h[6] != ' ') return {};
  h.remove_prefix(7);
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  size_t i = 0;
  while (i < h.size() && (std::isalnum(static_cast<unsigned char>(h[i])) || std::string_view("-._~+/").find(h[i]) != std::string_view::npos))
    ++i;
  const size_t body = i;
  while (i < h.size() && h[i] == '=') ++i;
  if (body == 0 || i != h.size() || h.size() > 512) return {};
  return h;
}

bool is_safe_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  size_t end = host.size();
  if (host.front() == '[') {
    end = host.find(']');
    if (end == std::string_view::npos) return false;
    for (char c : host.substr(1, end - 1))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    ++end;
  } else {
    end = host.find(':');
    if (end == std::string_view::npos) end = host.size();
    if (end == 0) return false;
    for (char c : host.substr(0, end))
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  if (end == host.size()) return true;
  if (host[end] != ':' || end + 1 == host.size() || host.size() - end - 1 > 5) return false;
  for (char c : host.substr(end + 1))
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// POST /api/break-glass {"patient": id, "reason": text} with X-Step-Up: a
// TOTP code. 201 {"patient", "until"} or an OperationOutcome (400 without a
// reason, 401 when step-up fails, 403 for roles that cannot break the glass,
// 404 for an unknown patient). docs/access-policy.md.
Response Api::break_glass(const vault::RequestContext& ctx, const Request& req) {
  boost::system::error_code ec;
  auto v = boost::json::parse(req.body, ec);
  if (ec || !v.is_object() || req.body.size() > 16384)
    return error_response(make_error(Errc::invalid, "expected a JSON object {patient, reason}"), req.request_id);
  const auto& o = v.as_object();
  auto text = [&](const char* k) -> std::string {
    const auto* x = o.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  auto until = vault_.repository().break_glass(ctx, text("patient"), text("reason"), req.step_up);
  if (!until) return error_response(until.error(), req.request_id);
  Response r;
  r.status = 201;
  r.set("Content-Type", "application/json");
  boost::json::object out;
  out["patient"] = text("patient");
  out["until"] = format_instant(*until);
  r.body = boost::json::serialize(out);
  return r;
}

Api::Api(vault::Vault& vault, Metrics& metrics, ApiOptions opts)
    : vault_(vault), metrics_(metrics), opts_(std::move(opts)) {}

Response Api::handle(const Request& req) {
  Response r;
  try {
    r = dispatch(req);
  } catch (const std::exception& e) {
    // A third-party exception escaped a handler: answer 500 and log the type
    // of failure only (what() could quote input).
    log::event(log::Level::error, {{"event", "exception"}, {"request_id", req.request_id}});
    r = error_response(make_error(Errc::internal, "unexpected exception"), req.request_id);
  }
  add_security_headers(r, req.request_id);
  return r;
}

Response Api::dispatch(const Request& req) {
  auto target = parse_target(req.target);
  if (!target) return error_response(target.error(), req.request_id);
  const Route route = match_route(req.method, target->segments);

  Response r;
  r.route = std::string(route.tmpl);
  auto finish = [&](Response out) {
    out.route = std::string(route.tmpl);
    return out;
  };
  switch (route.kind) {
    case RouteKind::not_found:
      return finish(error_response(make_error(Errc::not_found, "no such endpoint"), req.request_id));
    case RouteKind::method_not_allowed: {
      // 405 is not in the error catalogue: no repository call can cause it.
      Response out;
      out.status = 405;
      out.set("Content-Type", std::string(kFhirJson));
      out.set("Allow", std::string(route.allow));
      out.body = boost::json::serialize(operation_outcome(
          {{"error", "not-supported", "method not allowed here; allowed: " + std::string(route.allow), ""}}));
      return finish(std::move(out));
    }
    case RouteKind::healthz:
      r.set("Content-Type", "application/json");
      r.body = R"({"status":"ok"})";
      return r;
    case RouteKind::web: {
      // The staff web app: public files, no subject, nothing audited; the
      // data comes later from the authenticated API.
      const StaticFile* f = find_static(route.id.empty() ? "/" : "/static/" + route.id);
      if (!f) return finish(error_response(make_error(Errc::not_found, "no such file"), req.request_id));
      r.set("Content-Type", std::string(f->content_type));
      r.body = std::string(f->body);
      return r;
    }
    default:
      break;
  }

  std::optional<std::string_view> format;
  for (const auto& [k, v] : target->query)
    if (k == "_format") format = v;
  if (route.kind != RouteKind::metrics) {
    if (auto st = check_accept(req.accept, format); !st)
      return finish(error_response(st.error(), req.request_id));
  }
  if (route.kind == RouteKind::metadata) {
    r.set("Content-Type", std::string(kFhirJson));
    r.body = capability_statement();
    return r;
  }

  // A browser request made by another site's page: refused whatever it is
  // (with SameSite=Strict cookies it would carry no session anyway).
  if (!req.origin.empty() && !opts_.origin.empty() && req.origin != opts_.origin)
    return finish(error_response(make_error(Errc::forbidden, "cross-origin request refused"), req.request_id));
  vault::Sessions* sessions = vault_.sessions();
  if (route.kind == RouteKind::api && sessions)
    if (auto r = handle_sign_in(*sessions, req, target->segments)) return finish(std::move(*r));

  // A FHIR GET reads in one snapshot, from authentication to the last
  // resource: one read transaction instead of one per query (it writes only
  // what it never reads back: audit entries, policy-facts summaries).
  std::unique_ptr<store::ReadScope> snapshot;
  if (req.method == "GET" && route.kind != RouteKind::api && route.kind != RouteKind::metrics)
    snapshot = vault_.read_scope();

  // Everything below needs a subject (metrics only off loopback): a bearer
  // token, else a session cookie.
  const std::string_view token = bearer_token(req.authorization);
  std::optional<access::Subject> subject;
  std::optional<vault::SessionInfo> session;
  const bool need_subject = route.kind != RouteKind::metrics || !req.client_loopback;
  if (need_subject && req.authorization.empty() && !req.session_cookie.empty() && sessions) {
    auto s = sessions->session(req.session_cookie, req.client_address);
    if (!s) return finish(error_response(s.error(), req.request_id));
    // Cookie-authenticated writes must prove they come from our own page.
    if (req.method != "GET" && !same_secret(req.csrf, s->csrf))
      return finish(error_response(make_error(Errc::forbidden, "missing or wrong X-CSRF-Token"), req.request_id));
    const bool auth_path = target->segments.size() >= 2 && target->segments[1] == "auth";
    if (s->enrol_required && !(route.kind == RouteKind::api && auth_path))
      return finish(error_response(
          make_error(Errc::forbidden, "set up a second factor (authenticator app or passkey) first"),
          req.request_id));
    subject = s->subject;
    session = std::move(*s);
  } else if (need_subject) {
    // Every failed authentication, a missing or non-Bearer credential
    // included, is audited (with the client address) by authenticate_bearer.
    auto s = vault_.accounts().authenticate_bearer(token, req.client_address);
    if (!s) {
      if (s.error().code != Errc::unauthenticated) return finish(error_response(s.error(), req.request_id));
      return finish(unauthenticated(req, !req.authorization.empty()));
    }
    subject = std::move(*s);
  }
  if (route.kind == RouteKind::metrics) {
    if (subject && subject->role != "it-admin")
      return finish(error_response(make_error(Errc::forbidden, "metrics are for it-admin"), req.request_id));
    r.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = metrics_.render();
    return r;
  }
  vault::RequestContext ctx;
  ctx.subject = std::move(*subject);
  ctx.address = req.client_address;
  ctx.request_id = req.request_id;
  ctx.purpose = std::string(access::default_purpose(ctx.subject.role));
  if (route.kind == RouteKind::api) {
    if (target->segments.size() == 2 && target->segments[1] == "break-glass") {
      if (req.method != "POST") {
        Response out = error_response(make_error(Errc::invalid, "use POST"), req.request_id);
        out.status = 405;
        out.set("Allow", "POST");
        return finish(std::move(out));
      }
      return finish(break_glass(ctx, req));
    }
    if (target->segments.size() == 2 && target->segments[1] == "audit")
      return finish(handle_audit_query(vault_, ctx, req, target->query));
    return finish(handle_account_api(vault_, ctx, session ? &*session : nullptr, req, target->segments));
  }
  if (!req.purpose_of_use.empty()) {
    if (!is_purpose_code(req.purpose_of_use))
      return finish(error_response(make_error(Errc::invalid, "X-Purpose-Of-Use must be a PurposeOfUse code such as TREAT"),
                                   req.request_id));
    ctx.purpose = req.purpose_of_use;
  }
  FhirCall call{vault_.repository(),
                ctx,
                req,
                *target,
                route,
                "https://" + (is_safe_host(req.host) ? req.host : opts_.default_host) + "/fhir",
                fhir::ParseLimits{},
                parse_prefer(req.prefer)};
  call.limits.max_bytes = opts_.max_body;
  std::vector<audit::Entry> held;
  bool unsynced = false;
  if (req.hold_for_audit) {
    ctx.deferred_audit = &held;
    ctx.unsynced_write = &unsynced;
  }
  Response out = handle_fhir(call);
  out.held_audit = std::move(held);
  out.held_sync = unsynced;
  return finish(std::move(out));
}

}  // namespace medvault::http
