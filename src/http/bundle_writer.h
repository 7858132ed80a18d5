// Assembles Bundle JSON around stored resource bytes without re-parsing
// them: stored resources are spliced in verbatim (their numbers keep their
// original text, and serving a page costs no JSON parse).
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace medvault::http {

class BundleWriter {
 public:
  // type: searchset, history, transaction-response, batch-response.
  BundleWriter(std::string_view id, std::string_view type, std::optional<size_t> total,
               const std::vector<std::pair<std::string, std::string>>& links);

  // One entry. resource_json: the resource's JSON text, or empty for none.
  // extra: further entry members (search, request, response) as JSON.
  void add(std::string_view full_url, std::string_view resource_json, const boost::json::object& extra);

  std::string finish() &&;

 private:
  std::string out_;
  bool first_ = true;
};

}  // namespace medvault::http
