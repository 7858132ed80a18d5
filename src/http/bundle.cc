// Transaction and batch Bundles (POST /fhir).
//
// A transaction is applied as one Repository::transaction: all its writes or
// none. Ids of created resources are assigned here, before the repository
// call, so that urn:uuid: references between the entries can be rewritten to
// "Type/id" first; the repository keeps a preset id on create and refuses it
// (conflict) if it exists. GET entries are answered after the commit.
// A batch runs each entry as its own interaction, with its own status.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "common/clock.h"
#include "fhir/resource.h"
#include "http/bundle_writer.h"
#include "http/fhir_handlers.h"
#include "http/outcome.h"

namespace medvault::http {

namespace json = boost::json;

namespace {

constexpr size_t kMaxEntries = 1000;

std::string entry_path(size_t i) { return "Bundle.entry[" + std::to_string(i) + "]"; }

// One entry of the Bundle, its request parsed.
struct Entry {
  std::string method, url, full_url, if_match;
  json::object* resource = nullptr;
  Target target;
  Route route;
  std::optional<Error> broken;  // batch: a malformed entry answered in place
};

Result<Entry> parse_entry(json::value& v, size_t i) {
  const std::string at = entry_path(i);
  if (!v.is_object()) return make_error(Errc::invalid, "entry is not an object", at);
  auto& obj = v.as_object();
  Entry e;
  if (auto* fu = obj.if_contains("fullUrl")) {
    auto s = fhir::as_string(*fu);
    if (!s) return make_error(Errc::invalid, "fullUrl is not a string", at + ".fullUrl");
    e.full_url = std::string(*s);
  }
  if (auto* r = obj.if_contains("resource")) {
    if (!r->is_object()) return make_error(Errc::invalid, "resource is not an object", at + ".resource");
    e.resource = &r->as_object();
  }
  auto* req = obj.if_contains("request");
  if (!req || !req->is_object()) return make_error(Errc::invalid, "entry has no request", at + ".request");
  auto& ro = req->as_object();
  auto str = [&](std::string_view key) -> std::optional<std::string> {
    auto* x = ro.if_contains(key);
    if (!x) return std::nullopt;
    auto s = fhir::as_string(*x);
    return s ? std::optional<std::string>(std::string(*s)) : std::nullopt;
  };
  auto method = str("method"), url = str("url");
  if (!method) return make_error(Errc::invalid, "request.method is missing", at + ".request.method");
  if (!url || url->empty()) return make_error(Errc::invalid, "request.url is missing", at + ".request.url");
  for (std::string_view unsupported : {"ifNoneMatch", "ifModifiedSince", "ifNoneExist"})
    if (ro.contains(unsupported))
      return make_error(Errc::invalid, "conditional operations are not supported",
                        at + ".request." + std::string(unsupported));
  if (auto im = str("ifMatch")) e.if_match = *im;
  e.method = *method;
  e.url = *url;
  if (e.url.front() == '/' || e.url.find("://") != std::string::npos)
    return make_error(Errc::invalid, "request.url must be relative to the FHIR base (e.g. Patient/123)",
                      at + ".request.url");
  auto target = parse_target("/fhir/" + e.url);
  if (!target) return make_error(Errc::invalid, target.error().message, at + ".request.url");
  e.target = std::move(*target);
  e.route = match_route(e.method, e.target.segments);
  if (e.route.kind == RouteKind::bundle)
    return make_error(Errc::invalid, "a Bundle entry cannot be a Bundle", at + ".request.url");
  if (e.route.kind == RouteKind::method_not_allowed || e.route.kind == RouteKind::not_found ||
      e.route.kind == RouteKind::metadata || e.route.kind == RouteKind::api)
    return make_error(Errc::invalid, "unsupported request method or URL", at + ".request");
  if (e.resource) {
    auto* rt = e.resource->if_contains("resourceType");
    if (rt && fhir::as_string(*rt) == std::optional<std::string_view>("Bundle"))
      return make_error(Errc::invalid, "a Bundle entry cannot be a Bundle", at + ".resource");
  }
  return e;
}

// The sub-request for an entry run as its own interaction.
Request sub_request(const FhirCall& call, const Entry& e) {
  Request r;
  r.method = e.method;
  r.target = "/fhir/" + e.url;
  r.content_type = "application/fhir+json";
  r.if_match = e.if_match;
  r.host = call.req.host;
  r.client_address = call.req.client_address;
  r.request_id = call.req.request_id;
  if (e.resource) r.body = fhir::serialize(*e.resource);
  return r;
}

std::string status_line(int status) {
  return std::to_string(status) + " " + std::string(reason_phrase(status));
}

// A Location or fullUrl relative to the base ("Patient/1/_history/2").
std::string relative(const FhirCall& call, std::string_view url) {
  const std::string prefix = call.base + "/";
  return url.starts_with(prefix) ? std::string(url.substr(prefix.size())) : std::string(url);
}

// Runs one entry as its own interaction and records it in the response Bundle.
void run_entry(const FhirCall& call, const Entry& e, BundleWriter& w) {
  Request sub = sub_request(call, e);
  FhirCall sc{call.repo, call.ctx, sub, e.target, e.route, call.base, call.limits, call.prefer, true};
  Response r = handle_fhir(sc);
  json::object response;
  response["status"] = status_line(r.status);
  if (const auto* loc = r.get("Location")) response["location"] = relative(call, *loc);
  if (const auto* tag = r.get("ETag")) response["etag"] = *tag;
  std::string_view resource;
  if (r.status >= 400) {
    boost::system::error_code ec;
    json::value outcome = json::parse(r.body, ec);  // our own OperationOutcome
    if (!ec) response["outcome"] = std::move(outcome);
  } else if (e.method == "GET" || (call.prefer.return_given && call.prefer.ret != Prefer::Return::minimal)) {
    resource = r.body;
  }
  w.add("", resource, json::object{{"response", std::move(response)}});
}

Response transaction(const FhirCall& call, std::vector<Entry>& entries) {
  auto fail = [&](const Error& e) { return error_response(e, call.ctx.request_id); };
  std::unordered_map<std::string, std::string> ids;  // urn:uuid:... -> Type/id
  std::set<std::string> targets, full_urls;
  std::vector<size_t> writes, reads;
  std::vector<vault::WriteOp> ops;

  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    const std::string at = entry_path(i);
    const RouteKind k = e.route.kind;
    if (e.method == "GET") { reads.push_back(i); continue; }
    if (k != RouteKind::create && k != RouteKind::update && k != RouteKind::remove)
      return fail(make_error(Errc::invalid, "unsupported request in a transaction", at + ".request"));
    if (!e.target.query.empty())
      return fail(make_error(Errc::invalid, "conditional operations are not supported", at + ".request.url"));
    if (auto st = check_type(e.route.type); !st) return fail(st.error());
    vault::WriteOp op;
    op.resource.type = e.route.type;
    if (k == RouteKind::create) {
      op.kind = vault::WriteOp::Kind::create;
      op.resource.id = new_uuid();
    } else {
      if (auto st = check_id(e.route.id); !st)
        return fail(make_error(Errc::invalid, "invalid resource id", at + ".request.url"));
      op.kind = k == RouteKind::update ? vault::WriteOp::Kind::update : vault::WriteOp::Kind::remove;
      op.resource.id = e.route.id;
      auto im = parse_if_match(e.if_match);
      if (!im) return fail(make_error(Errc::invalid, im.error().message, at + ".request.ifMatch"));
      op.if_match = *im;
    }
    const std::string target = op.resource.type + "/" + op.resource.id;
    if (!targets.insert(target).second)
      return fail(make_error(Errc::invalid, "two entries of the transaction change " + target, at));
    if (!e.full_url.empty() && !full_urls.insert(e.full_url).second)
      return fail(make_error(Errc::invalid, "duplicate fullUrl", at + ".fullUrl"));
    if (e.full_url.starts_with("urn:uuid:") && k != RouteKind::remove) ids[e.full_url] = target;
    if (k != RouteKind::remove) {
      if (!e.resource) return fail(make_error(Errc::invalid, "entry has no resource", at + ".resource"));
      auto* rt = e.resource->if_contains("resourceType");
      if (!rt || fhir::as_string(*rt) != std::optional<std::string_view>(op.resource.type))
        return fail(make_error(Errc::invalid, "resourceType does not match request.url",
                               at + ".resource.resourceType"));
      if (k == RouteKind::update) {
        auto* id = e.resource->if_contains("id");
        if (id && fhir::as_string(*id) != std::optional<std::string_view>(op.resource.id))
          return fail(make_error(Errc::invalid, "resource id does not match request.url", at + ".resource.id"));
      }
    }
    writes.push_back(i);
    ops.push_back(std::move(op));
  }

  // Rewrite references once every id is known, then validate.
  for (size_t n = 0; n < ops.size(); ++n) {
    auto& op = ops[n];
    Entry& e = entries[writes[n]];
    if (op.kind == vault::WriteOp::Kind::remove) continue;
    json::value v(std::move(*e.resource));
    const std::string at = entry_path(writes[n]) + ".resource";
    if (auto st = rewrite_references(v, ids, at); !st) return fail(st.error());
    op.resource.json = std::move(v.as_object());
    op.resource.json["id"] = op.resource.id;
    if (auto st = fhir::validate(op.resource); !st) {
      Error err = st.error();
      // "Patient.birthDate" -> "Bundle.entry[2].resource.birthDate"
      const size_t dot = err.path.find('.');
      err.path = at + (dot == std::string::npos ? "" : err.path.substr(dot));
      return fail(err);
    }
  }

  std::vector<vault::StoredResource> stored;
  if (!ops.empty()) {
    auto done = call.repo.transaction(call.ctx, std::move(ops));
    if (!done) return fail(done.error());
    stored = std::move(*done);
  }

  // Entries answer in the order of the request.
  std::vector<std::optional<size_t>> stored_of(entries.size());
  for (size_t n = 0; n < writes.size(); ++n) stored_of[writes[n]] = n;
  BundleWriter w(call.ctx.request_id, "transaction-response", std::nullopt, {});
  const bool with_resource = call.prefer.return_given && call.prefer.ret == Prefer::Return::representation;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!stored_of[i]) { run_entry(call, entries[i], w); continue; }
    const auto& s = stored[*stored_of[i]];
    const RouteKind k = entries[i].route.kind;
    json::object response;
    const bool created = k == RouteKind::create || (k == RouteKind::update && s.version == 1);
    response["status"] = status_line(created ? 201 : 200);
    if (k != RouteKind::remove)
      response["location"] = s.type + "/" + s.id + "/_history/" + std::to_string(s.version);
    response["etag"] = etag(s.version);
    response["lastModified"] = format_instant(s.last_updated_ms);
    w.add(k == RouteKind::remove ? "" : call.base + "/" + s.type + "/" + s.id,
          with_resource && !s.deleted ? std::string_view(s.json) : std::string_view(),
          json::object{{"response", std::move(response)}});
  }
  Response r;
  r.set("Content-Type", std::string(kFhirJson));
  r.body = std::move(w).finish();
  return r;
}

}  // namespace

Status rewrite_references(json::value& v, const std::unordered_map<std::string, std::string>& ids,
                          const std::string& path) {
  if (v.is_array()) {
    auto& arr = v.as_array();
    for (size_t i = 0; i < arr.size(); ++i)
      MV_TRY(rewrite_references(arr[i], ids, path + "[" + std::to_string(i) + "]"));
  } else if (v.is_object()) {
    for (auto& kv : v.as_object()) {
      const std::string child = path + "." + std::string(kv.key());
      if (kv.key() == "reference") {
        auto s = fhir::as_string(kv.value());
        if (s && s->starts_with("urn:uuid:")) {
          auto it = ids.find(std::string(*s));
          if (it == ids.end())
            return make_error(Errc::invalid, "reference to a urn:uuid: that no entry of the transaction has",
                              child);
          kv.value() = json::string(it->second);
        }
        continue;
      }
      MV_TRY(rewrite_references(kv.value(), ids, child));
    }
  }
  return ok_status();
}

Response handle_bundle(const FhirCall& call) {
  auto fail = [&](const Error& e) { return error_response(e, call.ctx.request_id); };
  if (auto st = check_json_content_type(call.req.content_type); !st) return fail(st.error());
  auto doc = fhir::parse_json(call.req.body, call.limits);
  if (!doc) return fail(doc.error());
  if (!doc->is_object()) return fail(make_error(Errc::invalid, "body is not a JSON object"));
  auto& bundle = doc->as_object();
  auto* rt = bundle.if_contains("resourceType");
  if (!rt || fhir::as_string(*rt) != std::optional<std::string_view>("Bundle"))
    return fail(make_error(Errc::invalid, "POST to the base expects a Bundle", "resourceType"));
  auto* type = bundle.if_contains("type");
  auto type_s = type ? fhir::as_string(*type) : std::nullopt;
  if (type_s != std::optional<std::string_view>("transaction") && type_s != std::optional<std::string_view>("batch"))
    return fail(make_error(Errc::invalid, "Bundle.type must be transaction or batch", "Bundle.type"));
  const bool is_transaction = *type_s == "transaction";

  std::vector<Entry> entries;
  if (auto* ev = bundle.if_contains("entry")) {
    if (!ev->is_array()) return fail(make_error(Errc::invalid, "Bundle.entry is not an array", "Bundle.entry"));
    auto& arr = ev->as_array();
    if (arr.size() > kMaxEntries)
      return fail(make_error(Errc::too_large, "at most " + std::to_string(kMaxEntries) + " entries per Bundle"));
    for (size_t i = 0; i < arr.size(); ++i) {
      auto e = parse_entry(arr[i], i);
      if (!e) {
        if (is_transaction) return fail(e.error());
        Entry broken;
        broken.broken = e.take_error();
        entries.push_back(std::move(broken));
        continue;
      }
      entries.push_back(std::move(*e));
    }
  }
  if (is_transaction) return transaction(call, entries);

  BundleWriter w(call.ctx.request_id, "batch-response", std::nullopt, {});
  for (const Entry& e : entries) {
    if (e.broken) {
      json::object response{{"status", status_line(400)},
                            {"outcome", operation_outcome({issue_for(*e.broken, call.ctx.request_id)})}};
      w.add("", "", json::object{{"response", std::move(response)}});
      continue;
    }
    run_entry(call, e, w);
  }
  Response r;
  r.set("Content-Type", std::string(kFhirJson));
  r.body = std::move(w).finish();
  return r;
}

}  // namespace medvault::http
