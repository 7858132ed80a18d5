// Compact JSON of PatientFacts (access/facts_codec.h).
#include "access/facts_codec.h"

#include <boost/json.hpp>
#include <limits>

namespace medvault::access {
namespace {

namespace bj = boost::json;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr RelationshipKind kKinds[] = {
    RelationshipKind::general_practitioner, RelationshipKind::care_team, RelationshipKind::appointment,
    RelationshipKind::referral,             RelationshipKind::encounter, RelationshipKind::episode_of_care};

void put_window(bj::object& o, int64_t from, int64_t to) {
  if (from != kMin) o["f"] = from;
  if (to != kMax) o["t"] = to;
}

void put_list(bj::object& o, std::string_view key, const std::vector<std::string>& list) {
  if (list.empty()) return;
  bj::array a;
  for (const auto& s : list) a.emplace_back(s);
  o[key] = std::move(a);
}

bj::object rule_json(const ConsentRule& r) {
  bj::object o;
  if (!r.deny) o["d"] = false;
  put_list(o, "a", r.actors);
  put_list(o, "ro", r.roles);
  put_list(o, "l", r.labels);
  put_list(o, "p", r.purposes);
  put_window(o, r.from_ms, r.to_ms);
  return o;
}

// Readers: false on a member of the wrong type; absent members keep the default.
bool get_string(const bj::object& o, std::string_view key, std::string& out) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return false;
  out.assign(v->as_string().data(), v->as_string().size());
  return true;
}

bool get_int(const bj::object& o, std::string_view key, int64_t& out) {
  const auto* v = o.if_contains(key);
  if (!v) return true;
  if (!v->is_int64()) return false;
  out = v->as_int64();
  return true;
}

bool get_list(const bj::object& o, std::string_view key, std::vector<std::string>& out) {
  const auto* v = o.if_contains(key);
  if (!v) return true;
  if (!v->is_array()) return false;
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) return false;
    out.emplace_back(e.as_string().data(), e.as_string().size());
  }
  return true;
}

bool get_rule(const bj::value& v, ConsentRule& r) {
  if (!v.is_object()) return false;
  const auto& o = v.as_object();
  if (const auto* d = o.if_contains("d")) {
    if (!d->is_bool()) return false;
    r.deny = d->as_bool();
  }
  return get_list(o, "a", r.actors) && get_list(o, "ro", r.roles) && get_list(o, "l", r.labels) &&
         get_list(o, "p", r.purposes) && get_int(o, "f", r.from_ms) && get_int(o, "t", r.to_ms);
}

bool get_relationship(const bj::value& v, Relationship& r) {
  if (!v.is_object()) return false;
  const auto& o = v.as_object();
  std::string kind;
  if (!get_string(o, "k", kind) || !get_string(o, "a", r.actor) || !get_string(o, "s", r.source)) return false;
  bool known = false;
  for (auto k : kKinds)
    if (relationship_name(k) == kind) {
      r.kind = k;
      known = true;
    }
  return known && get_int(o, "f", r.from_ms) && get_int(o, "t", r.to_ms);
}

}  // namespace

std::string facts_to_json(const PatientFacts& facts) {
  bj::array rels;
  for (const auto& r : facts.relationships) {
    bj::object o;
    o["k"] = relationship_name(r.kind);
    o["a"] = r.actor;
    o["s"] = r.source;
    put_window(o, r.from_ms, r.to_ms);
    rels.emplace_back(std::move(o));
  }
  bj::array consents;
  for (const auto& c : facts.consents) {
    bj::object o;
    o["s"] = c.source;
    o["b"] = rule_json(c.base);
    if (!c.exceptions.empty()) {
      bj::array x;
      for (const auto& e : c.exceptions) x.emplace_back(rule_json(e));
      o["x"] = std::move(x);
    }
    consents.emplace_back(std::move(o));
  }
  bj::object out;
  out["r"] = std::move(rels);
  out["c"] = std::move(consents);
  return bj::serialize(out);
}

std::optional<PatientFacts> facts_from_json(std::string_view text, const std::string& patient) {
  if (text.size() > kMaxFactsJson) return std::nullopt;
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto* rels = o.if_contains("r");
  const auto* consents = o.if_contains("c");
  if (!rels || !rels->is_array() || !consents || !consents->is_array()) return std::nullopt;
  PatientFacts f;
  f.patient = patient;
  for (const auto& e : rels->as_array()) {
    Relationship r;
    if (!get_relationship(e, r)) return std::nullopt;
    f.relationships.push_back(std::move(r));
  }
  for (const auto& e : consents->as_array()) {
    if (!e.is_object()) return std::nullopt;
    const auto& co = e.as_object();
    ConsentDirective d;
    const auto* base = co.if_contains("b");
    if (!get_string(co, "s", d.source) || !base || !get_rule(*base, d.base)) return std::nullopt;
    if (const auto* x = co.if_contains("x")) {
      if (!x->is_array()) return std::nullopt;
      for (const auto& xe : x->as_array()) {
        ConsentRule r;
        if (!get_rule(xe, r)) return std::nullopt;
        d.exceptions.push_back(std::move(r));
      }
    }
    f.consents.push_back(std::move(d));
  }
  return f;
}

}  // namespace medvault::access
