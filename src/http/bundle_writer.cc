#include "http/bundle_writer.h"

#include <boost/json/serialize.hpp>

#include "common/clock.h"
#include "http/outcome.h"

namespace medvault::http {

BundleWriter::BundleWriter(std::string_view id, std::string_view type, std::optional<size_t> total,
                           const std::vector<std::pair<std::string, std::string>>& links) {
  out_.reserve(4096);
  out_ += R"({"resourceType":"Bundle","id":)";
  out_ += json_quote(id);
  out_ += R"(,"meta":{"lastUpdated":)";
  out_ += json_quote(format_instant(SystemClock::instance().now_ms()));
  out_ += R"(},"type":)";
  out_ += json_quote(type);
  if (total) out_ += R"(,"total":)" + std::to_string(*total);
  if (!links.empty()) {
    out_ += R"(,"link":[)";
    for (size_t i = 0; i < links.size(); ++i) {
      if (i) out_ += ',';
      out_ += R"({"relation":)" + json_quote(links[i].first) + R"(,"url":)" + json_quote(links[i].second) + "}";
    }
    out_ += ']';
  }
}

void BundleWriter::add(std::string_view full_url, std::string_view resource_json,
                       const boost::json::object& extra) {
  out_ += first_ ? R"(,"entry":[{)" : ",{";
  first_ = false;
  bool comma = false;
  if (!full_url.empty()) {
    out_ += R"("fullUrl":)" + json_quote(full_url);
    comma = true;
  }
  if (!resource_json.empty()) {
    if (comma) out_ += ',';
    out_ += R"("resource":)";
    out_ += resource_json;
    comma = true;
  }
  for (const auto& kv : extra) {
    if (comma) out_ += ',';
    out_ += json_quote(kv.key());
    out_ += ':';
    out_ += boost::json::serialize(kv.value());
    comma = true;
  }
  out_ += '}';
}

std::string BundleWriter::finish() && {
  if (!first_) out_ += ']';
  out_ += '}';
  return std::move(out_);
}

}  // namespace medvault::http
