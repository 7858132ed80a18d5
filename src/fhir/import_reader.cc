#include "fhir/import_reader.h"

#include <atomic>
#include <cstring>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "fhir/json_errors.h"

namespace medvault::fhir {
namespace bj = boost::json;

namespace {

constexpr size_t kChunk = 64 * 1024;

// Transaction group numbers, unique in the process so that items of two
// files never share one.
std::atomic<uint64_t> g_next_group{1};

// A file read line by line through a fixed buffer. A line longer than
// `max` is consumed to its end but not kept.
class LineReader {
 public:
  enum class Status { line, too_large, eof };

  LineReader(const std::filesystem::path& path, size_t max) : in_(path, std::ios::binary), max_(max), buf_(kChunk) {}
  bool good() const { return static_cast<bool>(in_); }
  uint64_t consumed() const { return consumed_; }
  uint64_t line_number() const { return line_; }

  // Reads the next line (without its "\n" or "\r\n") into `out`.
  Status next(std::string& out) {
    out.clear();
    bool overflow = false;
    bool any = false;
    for (;;) {
      if (pos_ == len_ && !fill()) {
        if (!any) return Status::eof;
        break;
      }
      any = true;
      const char* begin = buf_.data() + pos_;
      const char* nl = static_cast<const char*>(std::memchr(begin, '\n', len_ - pos_));
      size_t n = nl ? static_cast<size_t>(nl - begin) : len_ - pos_;
      if (!overflow && out.size() + n > max_) {
        overflow = true;
        out.clear();
        out.shrink_to_fit();
      }
      if (!overflow) out.append(begin, n);
      pos_ += n;
      consumed_ += n;
      if (nl) {
        ++pos_;
        ++consumed_;
        break;
      }
    }
    ++line_;
    if (line_ == 1 && out.starts_with("\xEF\xBB\xBF")) out.erase(0, 3);  // UTF-8 byte order mark
    if (!out.empty() && out.back() == '\r') out.pop_back();
    return overflow ? Status::too_large : Status::line;
  }

 private:
  bool fill() {
    if (!in_) return false;
    in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    len_ = static_cast<size_t>(in_.gcount());
    pos_ = 0;
    return len_ > 0;
  }

  std::ifstream in_;
  size_t max_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  uint64_t consumed_ = 0;
  uint64_t line_ = 0;
};

bool blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// A value from the input that may be quoted in a message: letters only, so
// that nothing else a file holds is echoed.
bool quotable(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')) return false;
  return true;
}

Error with_path(Error e) {
  if (!e.path.empty()) e.message = e.path + ": " + e.message;
  return e;
}

// The checks every imported resource goes through, whatever the format.
Result<Resource> check(Resource r) {
  if (!is_known_r4_type(r.type))
    return make_error(Errc::invalid, quotable(r.type) ? "unknown resourceType \"" + r.type + "\""
                                                      : std::string("unknown resourceType"));
  if (r.type == "Bundle")
    return make_error(Errc::invalid, "resourceType \"Bundle\" cannot be imported line by line");
  if (!is_supported_type(r.type))
    return make_error(Errc::unprocessable, "resourceType \"" + r.type + "\" is not supported");
  if (r.id.empty()) {
    if (r.json.contains("id")) return make_error(Errc::invalid, "invalid id");
    return make_error(Errc::invalid, "missing id");
  }
  if (!is_valid_id(r.id)) return make_error(Errc::invalid, "invalid id");
  if (auto st = validate(r); !st.ok()) return with_path(st.take_error());
  return r;
}

Result<Resource> check_object(bj::object o) {
  Resource r;
  r.json = std::move(o);
  const bj::value* t = r.json.if_contains("resourceType");
  auto type = t ? as_string(*t) : std::nullopt;
  if (!type || type->empty()) return make_error(Errc::invalid, "missing resourceType");
  r.type = std::string(*type);
  if (const bj::value* id = r.json.if_contains("id"))
    if (auto s = as_string(*id)) r.id = std::string(*s);
  return check(std::move(r));
}

class NdjsonReader final : public ImportReader {
 public:
  NdjsonReader(const std::filesystem::path& path, const ParseLimits& limits, uint64_t total)
      : file_(path.string()), limits_(limits), lines_(path, limits.max_bytes), total_(total) {}

  std::optional<ImportItem> next() override {
    for (;;) {
      auto status = lines_.next(line_);
      if (status == LineReader::Status::eof) return std::nullopt;
      ImportItem item;
      item.file = file_;
      item.line = lines_.line_number();
      if (status == LineReader::Status::too_large) {
        item.resource = make_error(Errc::too_large, "line " + std::to_string(item.line) + " is larger than " +
                                                        std::to_string(limits_.max_bytes) + " bytes");
        return item;
      }
      if (blank(line_)) continue;
      auto parsed = parse_resource(line_, limits_);
      item.resource = parsed.ok() ? check(std::move(parsed).value()) : Result<Resource>(parsed.take_error());
      return item;
    }
  }
  uint64_t bytes_read() const override { return lines_.consumed(); }
  uint64_t bytes_total() const override { return total_; }

 private:
  std::string file_;
  ParseLimits limits_;
  LineReader lines_;
  uint64_t total_;
  std::string line_;
};

// The entries of a Bundle (or the one resource of a single-resource JSON
// document), parsed as a whole.
class DocumentReader final : public ImportReader {
 public:
  DocumentReader(std::string file, std::vector<bj::value> resources, uint64_t group, uint64_t total)
      : file_(std::move(file)), resources_(std::move(resources)), group_(group), total_(total) {}

  std::optional<ImportItem> next() override {
    if (next_ == resources_.size()) return std::nullopt;
    ImportItem item;
    item.file = file_;
    item.line = next_ + 1;
    item.transaction_group = group_;
    bj::value& v = resources_[next_++];
    if (v.is_object()) {
      item.resource = check_object(std::move(v.get_object()));
    } else {
      item.resource =
          make_error(Errc::invalid, v.is_null() ? "entry has no resource" : "entry resource is not a JSON object");
    }
    return item;
  }
  uint64_t bytes_read() const override {
    return resources_.empty() ? total_ : total_ * next_ / resources_.size();
  }
  uint64_t bytes_total() const override { return total_; }

 private:
  std::string file_;
  std::vector<bj::value> resources_;
  size_t next_ = 0;
  uint64_t group_;
  uint64_t total_;
};

// Rewrites Reference.reference values that name another entry of the same
// Bundle by its fullUrl ("urn:uuid:...") into "Type/id".
void rewrite_references(bj::value& v, const std::unordered_map<std::string, std::string>& map) {
  if (v.is_array()) {
    for (auto& e : v.get_array()) rewrite_references(e, map);
  } else if (v.is_object()) {
    for (auto& kv : v.get_object()) {
      if (kv.key() == "reference") {
        if (auto s = as_string(kv.value())) {
          auto it = map.find(std::string(*s));
          if (it != map.end()) kv.value() = bj::string_view(it->second.data(), it->second.size());
        }
      } else {
        rewrite_references(kv.value(), map);
      }
    }
  }
}

Result<std::unique_ptr<ImportReader>> open_bundle(std::string file, bj::object bundle, uint64_t total) {
  const bj::value* t = bundle.if_contains("type");
  std::string_view type = t ? as_string(*t).value_or("") : "";
  if (type != "collection" && type != "batch" && type != "transaction" && type != "searchset" &&
      type != "document")
    return make_error(Errc::invalid, quotable(type) ? "Bundle type \"" + std::string(type) + "\" cannot be imported"
                                                    : std::string("Bundle has no importable type"));
  std::vector<bj::value> resources;
  std::vector<std::string> full_urls;
  if (bj::value* entries = bundle.if_contains("entry")) {
    if (!entries->is_array()) return make_error(Errc::invalid, "Bundle.entry is not an array");
    for (auto& e : entries->get_array()) {
      std::string full_url;
      bj::value res;
      if (e.is_object()) {
        if (const bj::value* fu = e.get_object().if_contains("fullUrl")) full_url = std::string(as_string(*fu).value_or(""));
        if (bj::value* r = e.get_object().if_contains("resource")) res = std::move(*r);
      } else {
        res = bj::array();  // reported as not an object
      }
      resources.push_back(std::move(res));
      full_urls.push_back(std::move(full_url));
    }
  }
  // Entries of transaction Bundles usually carry no id and are referenced
  // by their "urn:uuid:<uuid>" fullUrl: the uuid becomes the id, and such
  // references become literal "Type/id" references.
  std::unordered_map<std::string, std::string> refs;
  for (size_t i = 0; i < resources.size(); ++i) {
    if (!resources[i].is_object() || !full_urls[i].starts_with("urn:uuid:")) continue;
    bj::object& o = resources[i].get_object();
    const bj::value* rt = o.if_contains("resourceType");
    // A copy: inserting "id" below may move the object's members.
    std::string rtype(rt ? as_string(*rt).value_or("") : "");
    if (!is_known_r4_type(rtype)) continue;
    std::string id;
    if (const bj::value* idv = o.if_contains("id")) id = std::string(as_string(*idv).value_or(""));
    if (!o.contains("id")) {
      std::string uuid = full_urls[i].substr(9);
      if (!is_valid_id(uuid)) continue;
      o["id"] = uuid;
      id = uuid;
    }
    if (is_valid_id(id)) refs.emplace(full_urls[i], rtype + "/" + id);
  }
  if (!refs.empty())
    for (auto& r : resources) rewrite_references(r, refs);
  uint64_t group = type == "transaction" ? g_next_group.fetch_add(1) : 0;
  return std::unique_ptr<ImportReader>(new DocumentReader(std::move(file), std::move(resources), group, total));
}

}  // namespace

Result<std::unique_ptr<ImportReader>> ImportReader::open(const std::filesystem::path& path,
                                                        const ParseLimits& limits) {
  std::error_code ec;
  uint64_t total = std::filesystem::file_size(path, ec);
  if (ec) return make_error(Errc::io, "cannot read " + path.string() + ": " + ec.message());
  LineReader probe(path, limits.max_bytes);
  if (!probe.good()) return make_error(Errc::io, "cannot open " + path.string());
  std::string file = path.string();
  auto ndjson = [&]() -> Result<std::unique_ptr<ImportReader>> {
    return std::unique_ptr<ImportReader>(new NdjsonReader(path, limits, total));
  };

  // The first non-blank line decides: a complete JSON value means NDJSON
  // (unless it is a Bundle followed by nothing else); a value cut short by
  // the end of the line means a JSON document over several lines.
  std::string line;
  LineReader::Status st;
  while ((st = probe.next(line)) == LineReader::Status::line && blank(line)) {
  }
  if (st != LineReader::Status::line) return ndjson();
  auto first = parse_json(line, limits);
  if (first.ok()) {
    if (!first->is_object()) return ndjson();
    const bj::value* t = first->get_object().if_contains("resourceType");
    if (!t || as_string(*t) != std::optional<std::string_view>("Bundle")) return ndjson();
    std::string rest;
    while ((st = probe.next(rest)) == LineReader::Status::line && blank(rest)) {
    }
    if (st != LineReader::Status::eof) return ndjson();  // a Bundle line among others
    return open_bundle(std::move(file), std::move(first->get_object()), total);
  }
  if (!first.error().message.ends_with(kIncompleteJson)) return ndjson();

  if (total > limits.max_bytes)
    return make_error(Errc::too_large, "JSON document is larger than " + std::to_string(limits.max_bytes) + " bytes");
  std::ifstream in(path, std::ios::binary);
  std::string text(total, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(total)))
    return make_error(Errc::io, "cannot read " + path.string());
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
  MV_ASSIGN(bj::value doc, parse_json(text, limits));
  if (!doc.is_object()) return make_error(Errc::invalid, "the JSON document is not a resource");
  const bj::value* t = doc.get_object().if_contains("resourceType");
  if (t && as_string(*t) == std::optional<std::string_view>("Bundle"))
    return open_bundle(std::move(file), std::move(doc.get_object()), total);
  // A single resource written over several lines: one item.
  std::vector<bj::value> one;
  one.push_back(std::move(doc));
  return std::unique_ptr<ImportReader>(new DocumentReader(std::move(file), std::move(one), 0, total));
}

}  // namespace medvault::fhir
