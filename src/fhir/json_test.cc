#include "fhir/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "fhir/test_util.h"

namespace medvault::fhir {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Error parse_error(std::string_view text, const ParseLimits& limits = {}) {
  auto r = parse_json(text, limits);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? Error{} : r.error();
}

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(ParseJson, DepthLimit) {
  EXPECT_TRUE(parse_json(nested(64)).ok());
  Error e = parse_error(nested(65));
  EXPECT_EQ(e.code, Errc::invalid);
  EXPECT_THAT(e.message, HasSubstr("nesting too deep"));
  ParseLimits small;
  small.max_depth = 3;
  EXPECT_TRUE(parse_json(R"({"a":{"b":[1]}})", small).ok());
  EXPECT_FALSE(parse_json(R"({"a":{"b":[[1]]}})", small).ok());
}

TEST(ParseJson, ArrayLimit) {
  std::string big = "[0";
  for (int i = 1; i < 100'001; ++i) big += ",0";
  big += "]";
  Error e = parse_error(big);
  EXPECT_EQ(e.code, Errc::invalid);
  EXPECT_THAT(e.message, HasSubstr("more than 100000 elements"));
  std::string ok = big.substr(0, big.size() - 3) + "]";  // 100000 elements
  EXPECT_TRUE(parse_json(ok).ok());
}

TEST(ParseJson, StringAndDocumentLimits) {
  ParseLimits limits;
  limits.max_string = 8;
  EXPECT_TRUE(parse_json(R"({"k":"12345678"})", limits).ok());
  EXPECT_THAT(parse_error(R"({"k":"123456789"})", limits).message, HasSubstr("longer than 8 bytes"));
  EXPECT_THAT(parse_error(R"({"123456789":1})", limits).message, HasSubstr("longer than 8 bytes"));
  EXPECT_THAT(parse_error(R"([1234567890])", limits).message, HasSubstr("longer than 8 bytes"));
  limits = {};
  limits.max_bytes = 10;
  Error e = parse_error(R"({"k":"12345"})", limits);
  EXPECT_EQ(e.code, Errc::too_large);
}

TEST(ParseJson, InvalidUtf8) {
  for (std::string bad : {std::string("{\"a\":\"\xFF\"}"), std::string("{\"a\":\"\xC3\"}"),
                          std::string("{\"a\":\"\xED\xA0\x80\"}"),  // encoded surrogate
                          std::string("{\"a\":\"\xC0\xAF\"}"),      // overlong
                          std::string("{\"\xFE\":1}")}) {
    Error e = parse_error(bad);
    EXPECT_EQ(e.code, Errc::invalid);
    EXPECT_THAT(e.message, StartsWith("invalid UTF-8 at byte "));
  }
  EXPECT_TRUE(parse_json("{\"a\":\"Zo\xC3\xAB \xF0\x9F\x98\x80\"}").ok());
}

TEST(ParseJson, LoneSurrogateEscapes) {
  for (const char* bad : {R"(["\ud800"])", R"(["\udc00"])", R"(["\ud800x"])", R"(["\ud800\u0041"])"}) {
    Error e = parse_error(bad);
    EXPECT_EQ(e.code, Errc::invalid);
    EXPECT_THAT(e.message, StartsWith("malformed JSON at byte "));
  }
  auto ok = parse_json(R"(["\ud83d\ude00"])");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*as_string(ok->get_array()[0]), "\xF0\x9F\x98\x80");
}

TEST(ParseJson, DuplicateKeys) {
  Error e = parse_error(R"({"a":1,"b":2,"a":3})");
  EXPECT_EQ(e.code, Errc::invalid);
  EXPECT_THAT(e.message, HasSubstr("duplicate object key"));
  EXPECT_FALSE(parse_json(R"({"x":{"a":1,"a":1}})").ok());
  EXPECT_FALSE(parse_json(R"({"a\u0062":1,"ab":2})").ok());  // same key once unescaped
  EXPECT_TRUE(parse_json(R"({"a":{"a":1},"b":{"a":2}})").ok());  // same key in different objects
  // Large objects switch to a hash set.
  std::string big = "{";
  for (int i = 0; i < 100; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  EXPECT_TRUE(parse_json(big.substr(0, big.size() - 1) + "}").ok());
  EXPECT_FALSE(parse_json(big + "\"k57\":0}").ok());
}

TEST(ParseJson, SyntaxErrorsNameTheOffsetNotTheInput) {
  Error e = parse_error(R"({"name":"Secret Person"} trailing)");
  EXPECT_EQ(e.message, "malformed JSON at byte 25: trailing data");
  EXPECT_THAT(parse_error("").message, HasSubstr("unexpected end of input"));
  EXPECT_THAT(parse_error("   ").message, HasSubstr("unexpected end of input"));
  EXPECT_THAT(parse_error(R"({"a":1,})").message, StartsWith("malformed JSON at byte 7"));
  EXPECT_FALSE(parse_json(R"({"a":1} {"b":2})").ok());
  EXPECT_FALSE(parse_json(R"([1,2,])").ok());
  EXPECT_FALSE(parse_json(R"({"a":1 /* c */})").ok());
  EXPECT_FALSE(parse_json(R"({'a':1})").ok());
  EXPECT_FALSE(parse_json(R"([01])").ok());
  EXPECT_FALSE(parse_json(R"([NaN])").ok());
  EXPECT_FALSE(parse_json(R"(["a	b"])").ok());  // raw tab in a string
  Error secret = parse_error(R"({"ssn":"999-12-3456",)");
  EXPECT_THAT(secret.message, ::testing::Not(HasSubstr("999")));
  EXPECT_TRUE(parse_json(" {\"a\":1}\n\r\t ").ok());
}

TEST(ParseJson, NumbersKeepTheirText) {
  const std::string in =
      R"({"a":1.50,"b":1e-7,"c":-0.0,"d":12345678901234567890123,"e":0,"f":-12,"g":1E+2,"h":3.14159265358979323846264338327950288,"i":[1.0,2.00]})";
  auto v = parse_json(in);
  ASSERT_TRUE(v.ok());
  const auto& o = v->get_object();
  ASSERT_TRUE(is_number(o.at("a")));
  EXPECT_EQ(number_text(o.at("a")), "1.50");
  EXPECT_EQ(number_text(o.at("b")), "1e-7");
  EXPECT_EQ(number_text(o.at("c")), "-0.0");
  EXPECT_EQ(number_text(o.at("d")), "12345678901234567890123");
  EXPECT_EQ(serialize(*v), in);
  EXPECT_EQ(as_integer(o.at("e")), 0);
  EXPECT_EQ(as_integer(o.at("f")), -12);
  EXPECT_EQ(as_integer(o.at("a")), std::nullopt);
  EXPECT_EQ(as_integer(o.at("d")), std::nullopt);  // does not fit
  EXPECT_EQ(as_integer(o.at("g")), std::nullopt);  // exponent: not an integer literal
  EXPECT_FALSE(as_string(o.at("a")));
}

TEST(Serialize, RoundTripsMinifiedInput) {
  std::string patient = testing::kPatient;
  auto v = parse_json(patient);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(serialize(*v), patient);
  // Pretty input comes back minified.
  auto pretty = parse_json("{\n  \"a\" : [ 1 , 2.50 ],\n  \"b\" : { }\n}\n");
  EXPECT_EQ(serialize(*pretty), R"({"a":[1,2.50],"b":{}})");
}

TEST(Serialize, EscapesStrings) {
  auto v = parse_json(R"({"q\"k":"line\nbreak\t\"quoted\" back\\slash \u0001 \u001f \/ é"})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(serialize(*v), "{\"q\\\"k\":\"line\\nbreak\\t\\\"quoted\\\" back\\\\slash \\u0001 \\u001f / \xC3\xA9\"}");
  auto again = parse_json(serialize(*v));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(serialize(*again), serialize(*v));
}

TEST(Serialize, NativeValuesAndHelpers) {
  boost::json::object o;
  o["n"] = make_number("1.50");
  o["i"] = 42;
  o["u"] = static_cast<uint64_t>(7);
  o["t"] = true;
  o["z"] = nullptr;
  o["s"] = "text";
  EXPECT_EQ(serialize(o), R"({"n":1.50,"i":42,"u":7,"t":true,"z":null,"s":"text"})");
  EXPECT_EQ(as_integer(o["i"]), 42);
  EXPECT_EQ(as_string(o["s"]), "text");
  EXPECT_FALSE(is_number(o["s"]));
  std::string out = "prefix:";
  serialize_to(o["n"], out);
  EXPECT_EQ(out, "prefix:1.50");
}

}  // namespace
}  // namespace medvault::fhir
