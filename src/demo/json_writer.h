// A minimal streaming writer of compact JSON text (module-private).
//
// The generator writes FHIR resources straight to text: no DOM, so it is
// fast, and decimals are written from scaled integers with exactly the
// intended digits ("5.40" stays "5.40"). The writer places commas and colons;
// keys are trusted ASCII literals of the generator, values are escaped.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>

#include "demo/calendar.h"

namespace medvault::demo {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object() {
    before_value();
    out_.push_back('{');
    push();
    return *this;
  }
  JsonWriter& end_object() {
    pop();
    out_.push_back('}');
    return *this;
  }
  JsonWriter& begin_array() {
    before_value();
    out_.push_back('[');
    push();
    return *this;
  }
  JsonWriter& end_array() {
    pop();
    out_.push_back(']');
    return *this;
  }

  // REQUIRES: k needs no escaping (the generator's own ASCII member names).
  JsonWriter& key(std::string_view k) {
    assert(!after_key_);
    separate();
    out_.push_back('"');
    out_.append(k);
    out_.append("\":");
    after_key_ = true;
    return *this;
  }

  JsonWriter& string(std::string_view v) {
    before_value();
    out_.push_back('"');
    append_escaped(out_, v);
    out_.push_back('"');
    return *this;
  }

  JsonWriter& integer(int64_t v) {
    before_value();
    append_digits(out_, v, 1);
    return *this;
  }

  // scaled / 10^places with exactly `places` fraction digits:
  // decimal(540, 2) writes 5.40, decimal(-5, 1) writes -0.5.
  JsonWriter& decimal(int64_t scaled, int places) {
    before_value();
    append_decimal(out_, scaled, places, '.');
    return *this;
  }

  JsonWriter& boolean(bool v) {
    before_value();
    out_.append(v ? "true" : "false");
    return *this;
  }

  // A value whose text the caller has already written to out() (e.g. a date
  // appended in place): only places the separator first.
  std::string& raw_value_begin() {
    before_value();
    return out_;
  }

  // Shorthands for "key": value.
  JsonWriter& member(std::string_view k, std::string_view v) { return key(k).string(v); }
  JsonWriter& member_int(std::string_view k, int64_t v) { return key(k).integer(v); }
  JsonWriter& member_decimal(std::string_view k, int64_t scaled, int places) {
    return key(k).decimal(scaled, places);
  }
  JsonWriter& member_bool(std::string_view k, bool v) { return key(k).boolean(v); }

  bool complete() const { return depth_ == 0 && !after_key_; }

  static void append_escaped(std::string& out, std::string_view v) {
    static constexpr char kHex[] = "0123456789abcdef";
    size_t run = 0;  // start of the pending run of bytes that need no escape
    for (size_t i = 0; i < v.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(v[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out.append(v.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
      }
    }
    out.append(v.data() + run, v.size() - run);
  }

  // scaled / 10^places as text with `point` as the decimal separator.
  static void append_decimal(std::string& out, int64_t scaled, int places, char point) {
    assert(places >= 0 && places <= 9);
    int64_t pow10 = 1;
    for (int i = 0; i < places; ++i) pow10 *= 10;
    const uint64_t mag = scaled < 0 ? 0 - static_cast<uint64_t>(scaled) : static_cast<uint64_t>(scaled);
    if (scaled < 0) out.push_back('-');
    append_digits(out, static_cast<int64_t>(mag / pow10), 1);
    if (places > 0) {
      out.push_back(point);
      append_digits(out, static_cast<int64_t>(mag % pow10), places);
    }
  }

 private:
  void push() {
    assert(depth_ < 63);
    ++depth_;
    has_items_ &= ~(1ULL << depth_);
  }
  void pop() {
    assert(depth_ > 0 && !after_key_);
    --depth_;
  }
  void separate() {
    if (depth_ == 0) return;
    const uint64_t bit = 1ULL << depth_;
    if (has_items_ & bit) out_.push_back(',');
    has_items_ |= bit;
  }
  void before_value() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    separate();
  }

  std::string& out_;
  uint64_t has_items_ = 0;  // bit d: the container at depth d has an item
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace medvault::demo
