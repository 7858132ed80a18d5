#include "fhir/search.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <memory>
#include <unordered_set>

#include "fhir/datetime.h"
#include "fhir/text.h"

namespace medvault::fhir {
namespace bj = boost::json;

namespace {

enum class ParamKind { string, token, date, reference };

// Where a date parameter reads its value: elements tried in order, each a
// date/dateTime/instant string or a Period.
struct DateSource {
  std::string_view type;
  std::string_view elements[3];
};

constexpr DateSource kDateSources[] = {
    {"Patient", {"birthDate"}},
    {"Encounter", {"period"}},
    {"Condition", {"onsetDateTime", "onsetPeriod"}},
    {"Observation", {"effectiveDateTime", "effectivePeriod", "effectiveInstant"}},
    {"MedicationRequest", {"authoredOn"}},
    {"AllergyIntolerance", {"recordedDate"}},
    {"Immunization", {"occurrenceDateTime"}},
    {"Procedure", {"performedDateTime", "performedPeriod"}},
    {"DocumentReference", {"date"}},
    {"Appointment", {"start"}},
};

struct ParamDef {
  std::string_view name;
  ParamKind kind;
};

constexpr ParamDef kPatientParams[] = {
    {"name", ParamKind::string},        {"family", ParamKind::string},
    {"given", ParamKind::string},       {"birthdate", ParamKind::date},
    {"gender", ParamKind::token},       {"identifier", ParamKind::token},
    {"telecom", ParamKind::token},      {"address-postalcode", ParamKind::string},
    {"address-city", ParamKind::string},
};

struct ClinicalParams {
  std::string_view type;
  bool subject;   // has a subject element (else patient only)
  bool category;  // has a category-like element
};
constexpr ClinicalParams kClinical[] = {
    {"AllergyIntolerance", false, true}, {"Appointment", false, true},  {"Condition", true, true},
    {"DocumentReference", true, true},   {"Encounter", true, false},    {"Immunization", false, false},
    {"MedicationRequest", true, true},   {"Observation", true, true},   {"Procedure", true, true},
};

std::vector<ParamDef> params_of(std::string_view type) {
  std::vector<ParamDef> out;
  if (type == "Patient") return {std::begin(kPatientParams), std::end(kPatientParams)};
  for (const auto& c : kClinical) {
    if (c.type != type) continue;
    out.push_back({"patient", ParamKind::reference});
    if (c.subject) out.push_back({"subject", ParamKind::reference});
    out.push_back({"code", ParamKind::token});
    out.push_back({"date", ParamKind::date});
    out.push_back({"status", ParamKind::token});
    if (c.category) out.push_back({"category", ParamKind::token});
    if (type == "Encounter") out.push_back({"class", ParamKind::token});
  }
  return out;
}

constexpr std::string_view kCommon[] = {"_id", "_lastUpdated", "_count", "_offset", "_sort", "_summary", "_total"};

using Predicate = std::function<bool(const Resource&)>;

Error bad(std::string_view param, std::string what) {
  return make_error(Errc::invalid, "search parameter \"" + std::string(param) + "\": " + what);
}

// A parameter name that may be quoted back: printable, short, no quotes.
bool quotable(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == ':' || c == '.'))
      return false;
  return true;
}

// Splits on commas not escaped with a backslash; "\," "\|" "\$" and "\\"
// stand for the character itself. Pipes stay escaped for the token parser.
std::vector<std::string> split_or(std::string_view v) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && i + 1 < v.size()) {
      char n = v[++i];
      if (n == '|') out.back().append("\\|");
      else out.back().push_back(n);
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

// "system|code" at the first unescaped pipe; unescapes both halves.
std::pair<std::optional<std::string>, std::string> split_token(std::string_view v) {
  std::string left, right;
  bool pipe = false;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string& cur = pipe ? right : left;
    if (v[i] == '\\' && i + 1 < v.size()) {
      cur.push_back(v[++i]);
    } else if (v[i] == '|' && !pipe) {
      pipe = true;
    } else {
      cur.push_back(v[i]);
    }
  }
  if (!pipe) return {std::nullopt, left};
  return {left, right};
}

const bj::value* member(const bj::object& o, std::string_view key) {
  return o.if_contains(bj::string_view(key.data(), key.size()));
}

// ---- dates ---------------------------------------------------------------

enum class Prefix { eq, ne, gt, lt, ge, le, sa, eb, ap };

struct DateCriterion {
  Prefix prefix = Prefix::eq;
  TimeRange range;
  std::string text;  // the value without prefix
};

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kDayMs = 86'400'000;

Result<DateCriterion> parse_date_value(std::string_view param, std::string_view v) {
  static constexpr std::pair<std::string_view, Prefix> kPrefixes[] = {
      {"eq", Prefix::eq}, {"ne", Prefix::ne}, {"gt", Prefix::gt}, {"lt", Prefix::lt}, {"ge", Prefix::ge},
      {"le", Prefix::le}, {"sa", Prefix::sa}, {"eb", Prefix::eb}, {"ap", Prefix::ap}};
  DateCriterion c;
  for (const auto& [name, p] : kPrefixes)
    if (v.starts_with(name)) {
      c.prefix = p;
      v.remove_prefix(2);
      break;
    }
  auto r = parse_time_range(v);
  if (!r) return bad(param, "invalid date (expected YYYY, YYYY-MM, YYYY-MM-DD or a dateTime, optionally "
                            "prefixed by eq, ne, gt, lt, ge, le, sa, eb or ap)");
  c.range = *r;
  c.text = std::string(v);
  return c;
}

// R4 search semantics of a prefix, comparing the range of the resource's
// value (r) with the range of the search value (p). See the R4 search page,
// section "date".
bool date_matches(const DateCriterion& c, const TimeRange& r) {
  const TimeRange& p = c.range;
  bool eq = p.begin_ms <= r.begin_ms && r.end_ms <= p.end_ms;
  switch (c.prefix) {
    case Prefix::eq: return eq;
    case Prefix::ne: return !eq;
    case Prefix::gt: return r.end_ms > p.end_ms;
    case Prefix::lt: return r.begin_ms < p.begin_ms;
    case Prefix::ge: return r.end_ms > p.end_ms || eq;
    case Prefix::le: return r.begin_ms < p.begin_ms || eq;
    case Prefix::sa: return r.begin_ms >= p.end_ms;
    case Prefix::eb: return r.end_ms <= p.begin_ms;
    case Prefix::ap: {
      // "Approximately": the search range widened by 10% of its width, at
      // least one day, on each side, overlaps the value.
      int64_t w = std::max<int64_t>((p.end_ms - p.begin_ms) / 10, kDayMs);
      int64_t lo = p.begin_ms > kMin + w ? p.begin_ms - w : kMin;
      int64_t hi = p.end_ms < kMax - w ? p.end_ms + w : kMax;
      return r.begin_ms < hi && r.end_ms > lo;
    }
  }
  return false;
}

// The time ranges a resource's date parameter denotes.
std::vector<TimeRange> date_values(const bj::object& o, const DateSource& src) {
  std::vector<TimeRange> out;
  for (std::string_view el : src.elements) {
    if (el.empty()) break;
    const bj::value* v = member(o, el);
    if (!v) continue;
    if (auto s = as_string(*v)) {
      if (auto r = parse_time_range(*s)) out.push_back(*r);
    } else if (v->is_object()) {  // Period: an open end reaches to infinity
      auto bound = [&](std::string_view key) -> std::optional<TimeRange> {
        const bj::value* b = member(v->get_object(), key);
        return b ? parse_time_range(as_string(*b).value_or("")) : std::nullopt;
      };
      auto start = bound("start");
      auto end = bound("end");
      if (start || end) out.push_back({start ? start->begin_ms : kMin, end ? end->end_ms : kMax});
    }
  }
  return out;
}

std::optional<TimeRange> last_updated(const Resource& r) {
  const bj::value* meta = member(r.json, "meta");
  if (!meta || !meta->is_object()) return std::nullopt;
  const bj::value* lu = member(meta->get_object(), "lastUpdated");
  return lu ? parse_time_range(as_string(*lu).value_or("")) : std::nullopt;
}

// ---- strings -------------------------------------------------------------

enum class StringField { name, family, given };

// The raw strings of a Patient's name parts a string parameter searches.
std::vector<std::string> name_strings(const Resource& r, StringField f) {
  std::vector<std::string> out;
  const bj::value* names = member(r.json, "name");
  if (!names || !names->is_array()) return out;
  for (const auto& n : names->get_array()) {
    if (!n.is_object()) continue;
    const bj::object& o = n.get_object();
    if (f != StringField::given)
      if (const bj::value* fam = member(o, "family"))
        if (auto s = as_string(*fam)) out.emplace_back(*s);
    if (f != StringField::family)
      if (const bj::value* given = member(o, "given"); given && given->is_array())
        for (const auto& g : given->get_array())
          if (auto s = as_string(g)) out.emplace_back(*s);
    if (f == StringField::name)
      if (const bj::value* text = member(o, "text"))
        if (auto s = as_string(*text)) out.emplace_back(*s);
  }
  return out;
}

// True when every query word is a prefix of some word of the field.
bool words_match(const std::vector<std::string>& query_words, const std::vector<std::string>& field) {
  std::vector<std::string> norm;
  for (const auto& s : field) norm.push_back(normalise_text(s));
  for (const auto& q : query_words) {
    bool found = false;
    for (const auto& n : norm)
      for (auto w : split_words(n))
        if (w.starts_with(q)) found = true;
    if (!found) return false;
  }
  return true;
}

// ---- the parser ----------------------------------------------------------

class Parser {
 public:
  Parser(std::string_view type, bool strict) : type_(type), strict_(strict), defs_(params_of(type)) {
    for (const auto& d : kDateSources)
      if (d.type == type) dates_ = &d;
  }

  Status add(const std::string& full_name, const std::string& value) {
    std::string_view name = full_name;
    std::string_view modifier;
    if (size_t colon = name.find(':'); colon != std::string_view::npos) {
      modifier = name.substr(colon + 1);
      name = name.substr(0, colon);
    }
    if (name == "_format" || name == "_pretty") return ok_status();  // handled by the HTTP layer
    if (!name.empty() && name[0] == '_') return common(full_name, name, modifier, value);
    const ParamDef* def = nullptr;
    for (const auto& d : defs_)
      if (d.name == name) def = &d;
    if (!def) return unknown(full_name);
    if (value.empty()) return ok_status();  // FHIR: an empty value is ignored
    switch (def->kind) {
      case ParamKind::string: return string_param(name, modifier, value);
      case ParamKind::token: return token_param(name, modifier, value);
      case ParamKind::date: return date_param(name, modifier, value);
      case ParamKind::reference: return reference_param(name, modifier, value);
    }
    return ok_status();
  }

  ParsedSearch finish() {
    if (!preds_.empty()) {
      auto preds = std::make_shared<const std::vector<Predicate>>(std::move(preds_));
      out_.residual = [preds](const Resource& r) {
        for (const auto& p : *preds)
          if (!p(r)) return false;
        return true;
      };
    }
    return std::move(out_);
  }

 private:
  Status unknown(const std::string& name) {
    if (strict_)
      return make_error(Errc::invalid, quotable(name) ? "unknown search parameter \"" + name + "\" for " + type_
                                                      : "unknown search parameter for " + type_);
    out_.ignored.push_back(name);
    return ok_status();
  }

  Status no_modifier(std::string_view name, std::string_view modifier) {
    if (modifier.empty()) return ok_status();
    return bad(name, quotable(modifier) ? "unsupported modifier \":" + std::string(modifier) + "\""
                                        : std::string("unsupported modifier"));
  }

  static Result<size_t> non_negative(std::string_view name, std::string_view v, size_t max) {
    size_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec == std::errc::result_out_of_range) {
      if (ec == std::errc::result_out_of_range) return max;
      return bad(name, "expected a non-negative integer");
    }
    if (ec != std::errc() || p != v.data() + v.size()) return bad(name, "expected a non-negative integer");
    return std::min(n, max);
  }

  Status common(const std::string& full, std::string_view name, std::string_view modifier, const std::string& value) {
    if (std::find(std::begin(kCommon), std::end(kCommon), name) == std::end(kCommon)) return unknown(full);
    MV_TRY(no_modifier(name, modifier));
    if (name == "_id") {
      std::vector<std::string> ids;
      for (auto& v : split_or(value)) {
        if (!is_valid_id(v)) return bad(name, "invalid id");
        ids.push_back(std::move(v));
      }
      if (!ids_set_) {
        out_.ids = std::move(ids);
        ids_set_ = true;
      } else {  // _id repeated: both must hold
        std::unordered_set<std::string> keep(ids.begin(), ids.end());
        std::erase_if(out_.ids, [&](const std::string& id) { return !keep.contains(id); });
        if (out_.ids.empty()) out_.ids.push_back(impossible_id());
      }
      return ok_status();
    }
    if (name == "_count") {
      MV_ASSIGN(out_.count, non_negative(name, value, kMaxSearchCount));
      return ok_status();
    }
    if (name == "_offset") {
      MV_ASSIGN(out_.offset, non_negative(name, value, 1'000'000'000));
      return ok_status();
    }
    if (name == "_sort") {
      if (value == "_lastUpdated") out_.newest_first = false;
      else if (value == "-_lastUpdated") out_.newest_first = true;
      else if (strict_) return bad(name, "only _lastUpdated and -_lastUpdated are supported");
      else out_.ignored.push_back(full);
      return ok_status();
    }
    if (name == "_total") {  // always an error when wrong: ignoring it could cost a full walk or the total
      if (value == "none") out_.total = ParsedSearch::Total::none;
      else if (value == "estimate") out_.total = ParsedSearch::Total::when_free;
      else if (value == "accurate") out_.total = ParsedSearch::Total::accurate;
      else return bad(name, "expected none, estimate or accurate");
      return ok_status();
    }
    if (name == "_summary") {
      if (value == "count") out_.summary_count = true;
      else if (value == "false") out_.summary_count = false;
      else if (strict_) return bad(name, "only count and false are supported");
      else out_.ignored.push_back(full);
      return ok_status();
    }
    return last_updated_param(name, value);  // _lastUpdated
  }

  // An id no resource has (ids are at most 64 characters), for an _id
  // conjunction that cannot match.
  static std::string impossible_id() { return std::string(65, '0'); }

  Status last_updated_param(std::string_view name, const std::string& value) {
    std::vector<DateCriterion> crits;
    for (const auto& v : split_or(value)) {
      MV_ASSIGN(auto c, parse_date_value(name, v));
      crits.push_back(std::move(c));
    }
    if (crits.size() == 1 && crits[0].prefix != Prefix::ne && crits[0].prefix != Prefix::ap) {
      // An instant compared with a range reduces to bounds on the instant.
      const DateCriterion& c = crits[0];
      std::optional<int64_t> from, to;
      switch (c.prefix) {
        case Prefix::eq: from = c.range.begin_ms, to = c.range.end_ms; break;
        case Prefix::gt:
        case Prefix::sa: from = c.range.end_ms; break;
        case Prefix::ge: from = c.range.begin_ms; break;
        case Prefix::lt:
        case Prefix::eb: to = c.range.begin_ms; break;
        case Prefix::le: to = c.range.end_ms; break;
        default: break;
      }
      if (from) out_.updated_from_ms = std::max(out_.updated_from_ms.value_or(kMin), *from);
      if (to) out_.updated_to_ms = std::min(out_.updated_to_ms.value_or(kMax), *to);
      return ok_status();
    }
    preds_.push_back([crits = std::move(crits)](const Resource& r) {
      auto lu = last_updated(r);
      if (!lu) return false;
      for (const auto& c : crits)
        if (date_matches(c, *lu)) return true;
      return false;
    });
    return ok_status();
  }

  Status date_param(std::string_view name, std::string_view modifier, const std::string& value) {
    MV_TRY(no_modifier(name, modifier));
    std::vector<DateCriterion> crits;
    for (const auto& v : split_or(value)) {
      MV_ASSIGN(auto c, parse_date_value(name, v));
      crits.push_back(std::move(c));
    }
    // Patient.birthDate is indexed by day, month and year, so equality on
    // a date of those precisions needs no residual check.
    if (name == "birthdate") {
      std::vector<std::string> values;
      for (const auto& c : crits) {
        if (c.prefix != Prefix::eq || c.text.size() > 10) break;
        values.push_back(c.text.size() == 4 ? "y:" + c.text : c.text.size() == 7 ? "m:" + c.text : c.text);
      }
      if (values.size() == crits.size()) {
        out_.terms.push_back({std::string(name), std::move(values)});
        return ok_status();
      }
    }
    const DateSource* src = dates_;
    preds_.push_back([src, crits = std::move(crits)](const Resource& r) {
      if (!src) return false;
      auto values = date_values(r.json, *src);
      for (const auto& c : crits)
        for (const auto& v : values)
          if (date_matches(c, v)) return true;
      return false;
    });
    return ok_status();
  }

  Status string_param(std::string_view name, std::string_view modifier, const std::string& value) {
    bool exact = modifier == "exact";
    if (!exact) MV_TRY(no_modifier(name, modifier));
    bool name_part = name == "name" || name == "family" || name == "given";
    if (!name_part) {  // address-postalcode, address-city: normalised equality
      if (exact) return bad(name, "unsupported modifier \":exact\"");
      std::vector<std::string> values;
      for (const auto& v : split_or(value))
        if (auto n = normalise_text(v); !n.empty()) values.push_back(std::move(n));
      if (!values.empty()) out_.terms.push_back({std::string(name), std::move(values)});
      return ok_status();
    }
    StringField field = name == "name" ? StringField::name : name == "family" ? StringField::family : StringField::given;
    std::vector<std::vector<std::string>> alts;  // normalised words of each alternative
    std::vector<std::string> raw;
    for (auto& v : split_or(value)) {
      std::vector<std::string> words;
      const std::string norm = normalise_text(v);
      for (auto w : split_words(norm)) words.emplace_back(w);
      if (words.empty()) continue;
      alts.push_back(std::move(words));
      raw.push_back(std::move(v));
    }
    if (alts.empty()) return ok_status();
    bool needs_check = exact;
    if (alts.size() == 1) {
      for (const auto& w : alts[0]) {
        auto capped = cap_prefix(w);
        needs_check |= capped.size() != w.size();
        out_.terms.push_back({std::string(name), {std::string(capped)}});
      }
    } else {
      SearchTerm t{std::string(name), {}};
      for (const auto& words : alts) {
        // The longest word narrows best; the others are checked after.
        auto longest = *std::max_element(words.begin(), words.end(),
                                         [](const auto& a, const auto& b) { return a.size() < b.size(); });
        auto capped = cap_prefix(longest);
        needs_check |= words.size() > 1 || capped.size() != longest.size();
        t.values.emplace_back(capped);
      }
      out_.terms.push_back(std::move(t));
    }
    if (!needs_check) return ok_status();
    preds_.push_back([field, exact, alts = std::move(alts), raw = std::move(raw)](const Resource& r) {
      auto strings = name_strings(r, field);
      for (size_t i = 0; i < alts.size(); ++i) {
        if (exact ? std::find(strings.begin(), strings.end(), raw[i]) != strings.end() : words_match(alts[i], strings))
          return true;
      }
      return false;
    });
    return ok_status();
  }

  Status token_param(std::string_view name, std::string_view modifier, const std::string& value) {
    MV_TRY(no_modifier(name, modifier));
    SearchTerm t{std::string(name), {}};
    for (const auto& v : split_or(value)) {
      auto [system, code] = split_token(v);
      if (system && (system->empty() || code.empty()))
        return bad(name, "a token needs a code (\"system|code\" or \"code\"); \"|code\" and \"system|\" are not "
                         "supported");
      if (code.empty()) continue;
      if (name == "telecom") {
        std::string norm = normalise_telecom(system.value_or(""), code);
        if (norm.empty()) continue;
        t.values.push_back(system ? *system + "|" + norm : norm);
      } else {
        t.values.push_back(system ? *system + "|" + code : code);
      }
    }
    if (!t.values.empty()) out_.terms.push_back(std::move(t));
    return ok_status();
  }

  Status reference_param(std::string_view name, std::string_view modifier, const std::string& value) {
    if (!modifier.empty() && modifier != "Patient") MV_TRY(no_modifier(name, modifier));
    SearchTerm t{std::string(name), {}};
    for (const auto& v : split_or(value)) {
      std::string_view ref = v;
      // Absolute URLs: keep the trailing Type/id.
      if (ref.starts_with("http://") || ref.starts_with("https://")) {
        size_t h = ref.find("/_history/");
        if (h != std::string_view::npos) ref = ref.substr(0, h);
        size_t last = ref.rfind('/');
        size_t prev = last == std::string_view::npos || last == 0 ? std::string_view::npos : ref.rfind('/', last - 1);
        if (prev == std::string_view::npos) return bad(name, "invalid reference");
        ref = ref.substr(prev + 1);
      }
      std::string_view rtype = modifier.empty() ? std::string_view() : modifier;
      std::string_view id = ref;
      if (size_t slash = ref.find('/'); slash != std::string_view::npos) {
        rtype = ref.substr(0, slash);
        id = ref.substr(slash + 1);
        if (size_t h = id.find("/_history/"); h != std::string_view::npos) id = id.substr(0, h);
        if (!is_known_r4_type(rtype)) return bad(name, "invalid reference");
      }
      if (!is_valid_id(id)) return bad(name, "invalid reference");
      if (!rtype.empty() && rtype != "Patient") {
        if (name == "patient") return bad(name, "must reference a Patient");
        continue;  // only Patient subjects are indexed: this value matches nothing
      }
      t.values.emplace_back(id);
    }
    if (t.values.empty()) t.values.push_back(impossible_id());
    out_.terms.push_back(std::move(t));
    return ok_status();
  }

  std::string type_;
  bool strict_;
  std::vector<ParamDef> defs_;
  const DateSource* dates_ = nullptr;
  ParsedSearch out_;
  std::vector<Predicate> preds_;
  bool ids_set_ = false;
};

}  // namespace

Result<ParsedSearch> parse_search(std::string_view type,
                                  const std::vector<std::pair<std::string, std::string>>& params, bool strict) {
  if (!is_supported_type(type))
    return make_error(Errc::not_found, "resource type " + std::string(type) + " is not supported");
  Parser p(type, strict);
  for (const auto& [name, value] : params) MV_TRY(p.add(name, value));
  return p.finish();
}

std::vector<std::string> search_params(std::string_view type) {
  std::vector<std::string> out;
  if (!is_supported_type(type)) return out;
  for (const auto& d : params_of(type)) out.emplace_back(d.name);
  for (auto c : kCommon) out.emplace_back(c);
  return out;
}

std::string search_param_type(std::string_view type, std::string_view param) {
  if (!is_supported_type(type)) return {};
  for (const auto& d : params_of(type))
    if (d.name == param) {
      switch (d.kind) {
        case ParamKind::string: return "string";
        case ParamKind::token: return "token";
        case ParamKind::date: return "date";
        case ParamKind::reference: return "reference";
      }
    }
  if (param == "_id") return "token";
  if (param == "_lastUpdated") return "date";
  if (param == "_count" || param == "_offset") return "number";
  if (param == "_sort" || param == "_summary" || param == "_total") return "special";
  return {};
}

}  // namespace medvault::fhir
