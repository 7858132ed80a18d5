// FHIR R4 search queries: which parameters each type supports, and the
// translation of a query into blind-index terms plus a residual predicate
// for what an equality index cannot answer. docs/fhir-search.md has the
// table of parameters and the R4 elements behind them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "fhir/resource.h"

namespace medvault::fhir {

inline constexpr size_t kDefaultSearchCount = 20;
inline constexpr size_t kMaxSearchCount = 1000;

// One index lookup: a resource matches when index_entries() produced, for
// `param`, at least one of `values` (OR). Terms are ANDed.
struct SearchTerm {
  std::string param;
  std::vector<std::string> values;
};
using Term = SearchTerm;

struct ParsedSearch {
  std::vector<SearchTerm> terms;
  std::vector<std::string> ids;            // _id values (OR); empty = any id
  std::optional<int64_t> updated_from_ms;  // _lastUpdated lower bound, inclusive
  std::optional<int64_t> updated_to_ms;    // _lastUpdated upper bound, exclusive
  // The conjunction of the criteria that terms, ids and the _lastUpdated
  // bounds do not answer exactly (date comparisons, :exact, long prefixes,
  // _lastUpdated=ne...). Empty when there are none, so that the caller
  // need not decrypt candidates to filter them. Pure and thread-safe.
  std::function<bool(const Resource&)> residual;
  bool newest_first = false;  // _sort=-_lastUpdated
  size_t count = kDefaultSearchCount;  // _count, capped at kMaxSearchCount
  size_t offset = 0;                   // _offset: the paging token of next/previous links
  bool summary_count = false;          // _summary=count
  // _total (FHIR R4 Bundle.total may be omitted): `accurate` asks for an
  // exact total, which checks every candidate; `none` for no total;
  // absent or `estimate`: the total only when it comes free (the candidates
  // ran out before the page was full plus one). Any other value is an error.
  enum class Total { when_free, none, accurate } total = Total::when_free;
  // Parameters dropped in lenient mode (unknown names, unsupported _sort or
  // _summary values), for the caller to report.
  std::vector<std::string> ignored;
};

// Parses the (already URL-decoded) parameters of a search on `type`.
// Repeated parameters are ANDed, comma-separated values ORed ("\," is a
// literal comma). Errors (Errc::invalid, naming the parameter): an unknown
// parameter when `strict` (Prefer: handling=strict), an unsupported
// modifier, a malformed date, number, id or reference. Errc::not_found for a
// type medvault does not store.
Result<ParsedSearch> parse_search(std::string_view type,
                                  const std::vector<std::pair<std::string, std::string>>& params, bool strict);

// The search parameters supported for `type`, type-specific ones first,
// then the common ones (_id, _lastUpdated, ...). For the CapabilityStatement.
std::vector<std::string> search_params(std::string_view type);

// The FHIR type of a search parameter ("string", "token", "date",
// "reference", "number", "special"), for the CapabilityStatement; empty if
// `param` is not supported for `type`.
std::string search_param_type(std::string_view type, std::string_view param);

}  // namespace medvault::fhir
