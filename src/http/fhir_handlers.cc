#include "http/fhir_handlers.h"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "common/clock.h"
#include "fhir/datetime.h"
#include "fhir/resource.h"
#include "fhir/search.h"
#include "http/bundle_writer.h"
#include "http/outcome.h"

namespace medvault::http {

namespace json = boost::json;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits on any of `seps`, trimming each piece.
std::vector<std::string_view> split(std::string_view s, std::string_view seps) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find_first_of(seps, start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(trim(s.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

Response fail(const FhirCall& call, const Error& e) { return error_response(e, call.ctx.request_id); }

std::string ref(std::string_view type, std::string_view id) {
  return std::string(type) + "/" + std::string(id);
}

// The response for one stored version: body per Prefer return, ETag,
// Last-Modified, Location for writes.
Response resource_response(const FhirCall& call, const vault::StoredResource& s, int status,
                           bool location) {
  Response r;
  r.status = status;
  r.set("Content-Type", std::string(kFhirJson));
  r.set("ETag", etag(s.version));
  r.set("Last-Modified", http_date(s.last_updated_ms));
  if (location)
    r.set("Location", call.base + "/" + ref(s.type, s.id) + "/_history/" + std::to_string(s.version));
  const bool write = call.route.kind == RouteKind::create || call.route.kind == RouteKind::update;
  if (write && call.prefer.ret == Prefer::Return::minimal) return r;
  if (write && call.prefer.ret == Prefer::Return::outcome) {
    r.body = json::serialize(operation_outcome(
        {{"information", "informational", ref(s.type, s.id) + " version " + std::to_string(s.version) + " stored", ""}}));
    return r;
  }
  r.body = s.json;
  return r;
}

// Parses a resource body for create/update: content type, limits,
// resourceType matching the URL.
Result<fhir::Resource> parse_body(const FhirCall& call) {
  MV_TRY(check_json_content_type(call.req.content_type));
  if (call.req.body.empty()) return make_error(Errc::invalid, "request body is empty");
  MV_ASSIGN(auto r, fhir::parse_resource(call.req.body, call.limits));
  if (r.type != call.route.type)
    return make_error(Errc::invalid, "resourceType does not match the URL (expected " + call.route.type + ")",
                      "resourceType");
  return r;
}

// Lenient handling ignores unknown parameters; strict refuses them.
Status check_params(const FhirCall& call, std::initializer_list<std::string_view> known) {
  for (const auto& [k, v] : call.target.query) {
    if (k == "_format" || std::find(known.begin(), known.end(), k) != known.end()) continue;
    if (call.prefer.strict) return make_error(Errc::invalid, "unknown or unsupported parameter " + k);
  }
  return ok_status();
}

const std::string* param(const FhirCall& call, std::string_view name) {
  const std::string* found = nullptr;
  for (const auto& [k, v] : call.target.query)
    if (k == name) found = &v;
  return found;
}

Response read(const FhirCall& call) {
  if (auto st = check_params(call, {}); !st) return fail(call, st.error());
  auto s = call.repo.read(call.ctx, call.route.type, call.route.id);
  if (!s) return fail(call, s.error());
  return resource_response(call, *s, 200, false);
}

Response vread(const FhirCall& call) {
  auto version = parse_version(call.route.version);
  if (!version) return fail(call, version.error());
  auto s = call.repo.vread(call.ctx, call.route.type, call.route.id, *version);
  if (!s) return fail(call, s.error());
  if (s->deleted) {
    Response r = fail(call, make_error(Errc::gone, ref(s->type, s->id) + " version " +
                                                       std::to_string(s->version) + " is a deletion"));
    r.set("ETag", etag(s->version));
    return r;
  }
  return resource_response(call, *s, 200, false);
}

Response create(const FhirCall& call) {
  auto r = parse_body(call);
  if (!r) return fail(call, r.error());
  auto s = call.repo.create(call.ctx, std::move(*r));
  if (!s) return fail(call, s.error());
  return resource_response(call, *s, 201, true);
}

Response update(const FhirCall& call) {
  auto r = parse_body(call);
  if (!r) return fail(call, r.error());
  if (r->id.empty()) return fail(call, make_error(Errc::invalid, "resource has no id", "id"));
  if (r->id != call.route.id)
    return fail(call, make_error(Errc::invalid, "resource id does not match the URL", "id"));
  auto if_match = parse_if_match(call.req.if_match);
  if (!if_match) return fail(call, if_match.error());
  auto s = call.repo.update(call.ctx, std::move(*r), *if_match);
  if (!s) return fail(call, s.error());
  const bool created = s->version == 1;
  return resource_response(call, *s, created ? 201 : 200, created);
}

Response remove(const FhirCall& call) {
  auto if_match = parse_if_match(call.req.if_match);
  if (!if_match) return fail(call, if_match.error());
  Result<vault::StoredResource> s = make_error(Errc::internal, "unset");
  if (*if_match) {
    // A version-checked delete: one write operation with its If-Match, atomic.
    std::vector<vault::WriteOp> ops(1);
    ops[0].kind = vault::WriteOp::Kind::remove;
    ops[0].resource.type = call.route.type;
    ops[0].resource.id = call.route.id;
    ops[0].if_match = *if_match;
    auto out = call.repo.transaction(call.ctx, std::move(ops));
    if (!out) return fail(call, out.error());
    s = std::move(out->front());
  } else {
    s = call.repo.remove(call.ctx, call.route.type, call.route.id);
  }
  if (!s) return fail(call, s.error());
  Response r;
  r.status = 200;
  r.set("Content-Type", std::string(kFhirJson));
  r.set("ETag", etag(s->version));
  r.body = json::serialize(operation_outcome(
      {{"information", "informational", ref(s->type, s->id) + " deleted", ""}}));
  return r;
}

Response history(const FhirCall& call) {
  if (auto st = check_params(call, {"_count", "_since"}); !st) return fail(call, st.error());
  size_t count = 100;
  if (const auto* c = param(call, "_count")) {
    auto n = parse_count(*c);
    if (!n) return fail(call, n.error());
    count = std::clamp<size_t>(*n, 1, 1000);
  }
  std::optional<int64_t> since;
  if (const auto* s = param(call, "_since")) {
    auto ms = parse_instant(*s);
    if (!ms) return fail(call, ms.error());
    since = *ms;
  }
  const auto& route = call.route;
  auto h = call.repo.history(call.ctx, route.type, route.id, since, count);
  if (!h) return fail(call, h.error());

  std::string self = call.base;
  if (!route.type.empty()) self += "/" + route.type;
  if (!route.id.empty()) self += "/" + route.id;
  self += "/_history";
  if (!call.target.encoded_query.empty()) self += "?" + call.target.encoded_query;
  // The repository returns the newest `count` versions; the total is known
  // only when they are all of them.
  std::optional<size_t> total;
  if (h->size() < count) total = h->size();
  BundleWriter w(call.ctx.request_id, "history", total, {{"self", self}});
  for (const auto& s : *h) {
    json::object extra;
    json::object request, response;
    const bool created = s.version == 1 && !s.deleted;
    request["method"] = s.deleted ? "DELETE" : created ? "POST" : "PUT";
    request["url"] = created ? s.type : ref(s.type, s.id);
    response["status"] = s.deleted ? "204 No Content" : created ? "201 Created" : "200 OK";
    response["etag"] = etag(s.version);
    response["lastModified"] = format_instant(s.last_updated_ms);
    extra["request"] = std::move(request);
    extra["response"] = std::move(response);
    w.add(call.base + "/" + ref(s.type, s.id), s.deleted ? std::string_view() : s.json, extra);
  }
  Response r;
  r.set("Content-Type", std::string(kFhirJson));
  r.body = std::move(w).finish();
  return r;
}

Response everything(const FhirCall& call) {
  if (auto st = check_params(call, {}); !st) return fail(call, st.error());
  auto all = call.repo.everything(call.ctx, call.route.id);
  if (!all) return fail(call, all.error());
  BundleWriter w(call.ctx.request_id, "searchset", all->size(),
                 {{"self", call.base + "/Patient/" + call.route.id + "/$everything"}});
  const json::object match{{"search", json::object{{"mode", "match"}}}};
  for (const auto& s : *all) w.add(call.base + "/" + ref(s.type, s.id), s.json, match);
  Response r;
  r.set("Content-Type", std::string(kFhirJson));
  r.body = std::move(w).finish();
  return r;
}

// The query of a paging link: the search's parameters (as decoded, minus
// those ignored and any _offset) re-encoded, plus _offset. Everything but
// unreserved characters and ":/," is percent-encoded ('+' included, which a
// query would otherwise read as a space).
std::string paging_url(const FhirCall& call, const Params& params, const std::vector<std::string>& ignored,
                       std::optional<size_t> offset) {
  static constexpr auto kKeep = boost::urls::unreserved_chars + boost::urls::grammar::lut_chars(":/,");
  std::string query;
  auto add = [&](std::string_view k, std::string_view v) {
    if (!query.empty()) query += '&';
    query += boost::urls::encode(k, kKeep);
    query += '=';
    query += boost::urls::encode(v, kKeep);
  };
  for (const auto& [k, v] : params) {
    if (k == "_offset" || std::find(ignored.begin(), ignored.end(), k) != ignored.end()) continue;
    add(k, v);
  }
  if (offset) add("_offset", std::to_string(*offset));
  std::string out = call.base + "/" + call.route.type;
  if (!query.empty()) out += "?" + query;
  return out;
}

Response search(const FhirCall& call) {
  Params params = call.target.query;
  if (call.route.post_search) {
    const std::string media = lower(split(call.req.content_type, ";").front());
    if (media != "application/x-www-form-urlencoded")
      return fail(call, make_error(Errc::unsupported_media,
                                   "POST _search expects application/x-www-form-urlencoded"));
    auto form = parse_form(call.req.body);
    if (!form) return fail(call, form.error());
    params.insert(params.end(), form->begin(), form->end());
  }
  auto parsed = fhir::parse_search(call.route.type, params, call.prefer.strict);
  if (!parsed) return fail(call, parsed.error());

  vault::SearchRequest q;
  q.type = call.route.type;
  for (auto& t : parsed->terms) q.terms.push_back({std::move(t.param), std::move(t.values)});
  q.ids = std::move(parsed->ids);
  q.updated_from_ms = parsed->updated_from_ms;
  q.updated_to_ms = parsed->updated_to_ms;
  q.residual = std::move(parsed->residual);
  q.newest_first = parsed->newest_first;
  q.offset = parsed->offset;
  q.count = parsed->summary_count ? 0 : parsed->count;
  q.accurate_total = parsed->total == fhir::ParsedSearch::Total::accurate;
  auto res = call.repo.search(call.ctx, q);
  if (!res) return fail(call, res.error());
  // Bundle.total only when exact: asked for (_total=accurate, _summary=count,
  // _count=0) or known because the candidates ran out; never with
  // _total=none, unless the count is all the search asks for.
  std::optional<size_t> total = res->total;
  if (parsed->total == fhir::ParsedSearch::Total::none && q.count > 0) total.reset();

  const auto& ignored = parsed->ignored;
  std::vector<std::pair<std::string, std::string>> links;
  links.emplace_back("self", paging_url(call, params, ignored, q.offset ? std::optional<size_t>(q.offset) : std::nullopt));
  if (q.count > 0) {
    links.emplace_back("first", paging_url(call, params, ignored, std::nullopt));
    if (res->more) links.emplace_back("next", paging_url(call, params, ignored, q.offset + q.count));
    if (q.offset > 0)
      links.emplace_back("previous", paging_url(call, params, ignored, q.offset > q.count ? q.offset - q.count : 0));
  }
  BundleWriter w(call.ctx.request_id, "searchset", total, links);
  const json::object match{{"search", json::object{{"mode", "match"}}}};
  for (const auto& s : res->page) w.add(call.base + "/" + ref(s.type, s.id), s.json, match);
  if (!ignored.empty()) {
    std::vector<Issue> issues;
    for (const auto& name : ignored)
      issues.push_back({"warning", "not-supported", "parameter ignored: " + name, ""});
    w.add("", json::serialize(operation_outcome(issues)), json::object{{"search", json::object{{"mode", "outcome"}}}});
  }
  Response r;
  r.set("Content-Type", std::string(kFhirJson));
  r.body = std::move(w).finish();
  return r;
}

}  // namespace

Prefer parse_prefer(std::string_view header) {
  Prefer p;
  for (auto token : split(header, ",;")) {
    const std::string t = lower(token);
    if (t == "return=minimal") p.ret = Prefer::Return::minimal;
    else if (t == "return=representation") p.ret = Prefer::Return::representation;
    else if (t == "return=operationoutcome") p.ret = Prefer::Return::outcome;
    else if (t == "handling=strict") p.strict = true;
    else if (t == "handling=lenient") p.strict = false;
    else continue;
    if (t.starts_with("return=")) p.return_given = true;
  }
  return p;
}

Result<size_t> parse_count(std::string_view s) {
  size_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    return make_error(Errc::invalid, "_count must be a non-negative integer");
  return v;
}

Result<uint64_t> parse_version(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 20 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return make_error(Errc::invalid, "invalid version id");
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0)
    return make_error(Errc::invalid, "invalid version id");
  return v;
}

Result<std::optional<uint64_t>> parse_if_match(std::string_view h) {
  h = trim(h);
  if (h.empty()) return std::optional<uint64_t>();
  if (h.starts_with("W/")) h.remove_prefix(2);
  if (h.size() < 2 || h.front() != '"' || h.back() != '"')
    return make_error(Errc::invalid, "If-Match must be a version ETag such as W/\"3\"");
  auto v = parse_version(h.substr(1, h.size() - 2));
  if (!v) return make_error(Errc::invalid, "If-Match must be a version ETag such as W/\"3\"");
  return std::optional<uint64_t>(*v);
}

Result<int64_t> parse_instant(std::string_view s) {
  auto range = fhir::is_fhir_datetime(s) ? fhir::parse_time_range(s) : std::nullopt;
  if (!range) return make_error(Errc::invalid, "invalid date/time (expected e.g. 2024-01-31T12:00:00Z)");
  return range->begin_ms;
}

std::string http_date(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string etag(uint64_t version) { return "W/\"" + std::to_string(version) + "\""; }

Status check_json_content_type(std::string_view content_type) {
  auto parts = split(content_type, ";");
  const std::string media = lower(parts.front());
  if (media != "application/fhir+json" && media != "application/json" && media != "application/json+fhir")
    return make_error(Errc::unsupported_media,
                      "Content-Type must be application/fhir+json or application/json");
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string p = lower(parts[i]);
    if (p.starts_with("charset=") && p != "charset=utf-8" && p != "charset=\"utf-8\"")
      return make_error(Errc::unsupported_media, "only the UTF-8 charset is supported");
  }
  return ok_status();
}

Status check_accept(std::string_view accept, std::optional<std::string_view> format_param) {
  auto json_media = [](std::string_view m) {
    return m == "json" || m == "application/json" || m == "application/fhir+json" ||
           m == "application/json+fhir" || m == "*/*" || m == "application/*";
  };
  if (format_param) {
    const std::string f = lower(trim(split(*format_param, ";").front()));
    if (!json_media(f)) return make_error(Errc::unsupported_media, "only JSON is supported (_format)");
    return ok_status();
  }
  if (trim(accept).empty()) return ok_status();
  for (auto range : split(accept, ",")) {
    const std::string m = lower(split(range, ";").front());
    if (json_media(m)) return ok_status();
  }
  return make_error(Errc::unsupported_media, "only JSON is supported (Accept)");
}

Status check_type(std::string_view type) {
  if (!fhir::is_known_r4_type(type)) return make_error(Errc::not_found, "unknown resource type");
  if (!fhir::is_supported_type(type))
    return make_error(Errc::not_found, "resource type " + std::string(type) + " is not supported");
  return ok_status();
}

Status check_id(std::string_view id) {
  if (!fhir::is_valid_id(id)) return make_error(Errc::invalid, "invalid resource id");
  return ok_status();
}

std::string new_uuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) std::abort();  // the CSPRNG failing is not recoverable
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                b[14], b[15]);
  return out;
}

Response handle_fhir(const FhirCall& call) {
  const Route& route = call.route;
  if (route.kind == RouteKind::bundle) {
    if (call.in_bundle) return fail(call, make_error(Errc::invalid, "a Bundle entry cannot be a Bundle"));
    return handle_bundle(call);
  }
  if (route.kind != RouteKind::history_system) {
    if (auto st = check_type(route.type); !st) return fail(call, st.error());
  }
  if (!route.id.empty()) {
    if (auto st = check_id(route.id); !st) return fail(call, st.error());
  }
  switch (route.kind) {
    case RouteKind::read: return read(call);
    case RouteKind::vread: return vread(call);
    case RouteKind::create: return create(call);
    case RouteKind::update: return update(call);
    case RouteKind::remove: return remove(call);
    case RouteKind::history_instance:
    case RouteKind::history_type:
    case RouteKind::history_system: return history(call);
    case RouteKind::search: return search(call);
    case RouteKind::everything: return everything(call);
    default: return fail(call, make_error(Errc::not_found, "no such FHIR endpoint"));
  }
}

}  // namespace medvault::http
