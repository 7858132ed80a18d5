#include "fhir/import_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fhir/test_util.h"

namespace medvault::fhir {
namespace {

using ::testing::HasSubstr;

class ImportReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("mv-fhir-import-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& content) {
    auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  static std::vector<ImportItem> read_all(ImportReader& r) {
    std::vector<ImportItem> out;
    while (auto item = r.next()) out.push_back(std::move(*item));
    return out;
  }

  std::filesystem::path dir_;
};

const std::string kGood = R"({"resourceType":"Patient","id":"p1","gender":"female"})";

TEST_F(ImportReaderTest, NdjsonReportsEveryBadLineWithFileAndLine) {
  std::string content = kGood + "\n"                                                    // 1
                        "\n"                                                            // 2 blank
                        "   \t\n"                                                       // 3 blank
                        R"({"resourceType":"Patient","id":"p2",)" "\n"                  // 4 malformed
                        "{\"resourceType\":\"Patient\",\"id\":\"p3\",\"x\":\"\xC3\x28\"}\n"  // 5 bad UTF-8
                        R"({"resourceType":"Foo","id":"f1"})" "\n"                      // 6
                        R"({"resourceType":"Bundle","type":"collection"})" "\n"         // 7
                        R"({"resourceType":"Basic","id":"b1"})" "\n"                    // 8
                        R"({"resourceType":"Patient","gender":"male"})" "\n"            // 9 no id
                        R"({"resourceType":"Patient","id":"bad id!"})" "\n"             // 10
                        R"({"resourceType":"Patient","id":"p4","birthDate":"1980-02-30"})" "\r\n"  // 11
                        R"([1,2])" "\n"                                                 // 12
                        R"({"resourceType":"Patient","id":"p5"} x)" "\n"                // 13 trailing
                        R"({"resourceType":"Patient","id":"p6"})";                      // 14, no newline
  auto path = write("mixed.ndjson", content);
  auto reader = ImportReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto items = read_all(**reader);
  ASSERT_EQ(items.size(), 12u);
  struct Want {
    uint64_t line;
    std::optional<Errc> code;
    std::string message;
  };
  std::vector<Want> want = {
      {1, std::nullopt, ""},
      {4, Errc::invalid, "malformed JSON at byte 36: unexpected end of input"},
      {5, Errc::invalid, "invalid UTF-8 at byte 41"},
      {6, Errc::invalid, "unknown resourceType \"Foo\""},
      {7, Errc::invalid, "resourceType \"Bundle\" cannot be imported line by line"},
      {8, Errc::unprocessable, "resourceType \"Basic\" is not supported"},
      {9, Errc::invalid, "missing id"},
      {10, Errc::invalid, "invalid id"},
      {11, Errc::unprocessable, "Patient.birthDate: invalid date"},
      {12, Errc::invalid, "a resource must be a JSON object"},
      {13, Errc::invalid, "malformed JSON at byte 37: trailing data"},
      {14, std::nullopt, ""},
  };
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(want[i].line));
    EXPECT_EQ(items[i].file, path.string());
    EXPECT_EQ(items[i].line, want[i].line);
    EXPECT_EQ(items[i].transaction_group, 0u);
    if (!want[i].code) {
      ASSERT_TRUE(items[i].resource.ok()) << items[i].resource.error().message;
      continue;
    }
    ASSERT_FALSE(items[i].resource.ok());
    EXPECT_EQ(items[i].resource.error().code, *want[i].code);
    EXPECT_EQ(items[i].resource.error().message, want[i].message);
  }
  EXPECT_EQ(items[0].resource->id, "p1");
  EXPECT_EQ(items[11].resource->id, "p6");
  EXPECT_EQ((*reader)->bytes_read(), content.size());
  EXPECT_EQ((*reader)->bytes_total(), content.size());
  // Messages never quote the data of the line.
  EXPECT_THAT(items[4].resource.error().message, ::testing::Not(HasSubstr("p3")));
}

TEST_F(ImportReaderTest, ByteOrderMarkAndEmptyFiles) {
  auto bom = ImportReader::open(write("bom.ndjson", "\xEF\xBB\xBF" + kGood + "\n" + kGood));
  ASSERT_TRUE(bom.ok());
  auto items = read_all(**bom);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(items[0].resource.ok());
  auto empty = ImportReader::open(write("empty.ndjson", ""));
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE((*empty)->next());
  auto blank = ImportReader::open(write("blank.ndjson", "\n\n  \n"));
  ASSERT_TRUE(blank.ok());
  EXPECT_FALSE((*blank)->next());
}

TEST_F(ImportReaderTest, HugeLineIsSkippedAndTheNextOneRead) {
  // A 50 MB line: read through the 64 KiB buffer and dropped once past the
  // limit, never held whole.
  auto path = dir_ / "huge.ndjson";
  {
    std::ofstream out(path, std::ios::binary);
    out << kGood << "\n";
    out << R"({"resourceType":"Patient","id":"big","text":{"status":"generated","div":"<div>)";
    std::string chunk(1 << 20, 'a');
    for (int i = 0; i < 50; ++i) out << chunk;
    out << "</div>\"}}\n";
    out << R"({"resourceType":"Patient","id":"after"})" << "\n";
  }
  auto reader = ImportReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto items = read_all(**reader);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_TRUE(items[0].resource.ok());
  ASSERT_FALSE(items[1].resource.ok());
  EXPECT_EQ(items[1].line, 2u);
  EXPECT_EQ(items[1].resource.error().code, Errc::too_large);
  EXPECT_EQ(items[1].resource.error().message, "line 2 is larger than 16777216 bytes");
  ASSERT_TRUE(items[2].resource.ok());
  EXPECT_EQ(items[2].line, 3u);
  EXPECT_EQ(items[2].resource->id, "after");
}

TEST_F(ImportReaderTest, LineLimitFollowsParseLimits) {
  ParseLimits limits;
  limits.max_bytes = 64;
  std::string long_line = R"({"resourceType":"Patient","id":"p","gender":"female","birthDate":"1980-01-01"})";
  ASSERT_GT(long_line.size(), 64u);
  auto reader = ImportReader::open(write("small.ndjson", long_line + "\n" + kGood + "\n"), limits);
  ASSERT_TRUE(reader.ok());
  auto items = read_all(**reader);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].resource.error().message, "line 1 is larger than 64 bytes");
  EXPECT_TRUE(items[1].resource.ok());
}

const char* kTransaction = R"({
  "resourceType": "Bundle",
  "type": "transaction",
  "entry": [
    {
      "fullUrl": "urn:uuid:0d3a1b5e-2b8c-4d1e-9f00-1234567890ab",
      "resource": {"resourceType": "Patient", "gender": "male", "birthDate": "1970-01-01"},
      "request": {"method": "POST", "url": "Patient"}
    },
    {
      "fullUrl": "urn:uuid:7b0c55a2-3c1f-4a7e-8e21-abcdefabcdef",
      "resource": {
        "resourceType": "Condition", "id": "c1",
        "subject": {"reference": "urn:uuid:0d3a1b5e-2b8c-4d1e-9f00-1234567890ab"},
        "code": {"text": "made-up"}
      },
      "request": {"method": "PUT", "url": "Condition/c1"}
    },
    {"request": {"method": "DELETE", "url": "Observation/o1"}},
    {"resource": {"resourceType": "Observation", "id": "o2", "status": "final"}},
    {"resource": {"resourceType": "Practitioner"}},
    "not an entry"
  ]
})";

TEST_F(ImportReaderTest, TransactionBundle) {
  auto reader = ImportReader::open(write("tx.json", kTransaction));
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto items = read_all(**reader);
  ASSERT_EQ(items.size(), 6u);
  uint64_t group = items[0].transaction_group;
  EXPECT_NE(group, 0u);
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i].line, i + 1);
    EXPECT_EQ(items[i].transaction_group, group);
  }
  ASSERT_TRUE(items[0].resource.ok()) << items[0].resource.error().message;
  EXPECT_EQ(items[0].resource->id, "0d3a1b5e-2b8c-4d1e-9f00-1234567890ab");  // from the fullUrl
  ASSERT_TRUE(items[1].resource.ok()) << items[1].resource.error().message;
  EXPECT_EQ(patient_of(*items[1].resource), "0d3a1b5e-2b8c-4d1e-9f00-1234567890ab");
  EXPECT_EQ(items[2].resource.error().message, "entry has no resource");
  EXPECT_EQ(items[3].resource.error().message, "Observation.code: missing required element");
  EXPECT_EQ(items[4].resource.error().message, "missing id");
  EXPECT_EQ(items[5].resource.error().message, "entry resource is not a JSON object");
  EXPECT_EQ((*reader)->bytes_read(), (*reader)->bytes_total());

  // Another transaction gets another group.
  auto again = ImportReader::open(write("tx2.json", kTransaction));
  ASSERT_TRUE(again.ok());
  EXPECT_NE((*again)->next()->transaction_group, group);
}

TEST_F(ImportReaderTest, CollectionBundleOnOneLine) {
  std::string bundle = R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":)" + kGood +
                       R"(},{"resource":{"resourceType":"Organization","id":"o1","name":"Clinic"}}]})";
  auto reader = ImportReader::open(write("collection.json", bundle + "\n\n"));
  ASSERT_TRUE(reader.ok());
  auto items = read_all(**reader);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].transaction_group, 0u);
  EXPECT_EQ(items[1].resource->type, "Organization");
  EXPECT_EQ(items[1].line, 2u);
}

TEST_F(ImportReaderTest, BundleLevelProblemsFailOpen) {
  auto history = ImportReader::open(write("h.json", R"({"resourceType":"Bundle","type":"history","entry":[]})"));
  ASSERT_FALSE(history.ok());
  EXPECT_EQ(history.error().code, Errc::invalid);
  EXPECT_EQ(history.error().message, "Bundle type \"history\" cannot be imported");
  auto bad_entry = ImportReader::open(write("e.json", "{\"resourceType\":\"Bundle\",\n\"type\":\"batch\",\"entry\":{}}"));
  ASSERT_FALSE(bad_entry.ok());
  EXPECT_EQ(bad_entry.error().message, "Bundle.entry is not an array");
  auto malformed = ImportReader::open(write("m.json", "{\n\"resourceType\": \"Bundle\",\n\"type\": \"batch\",,\n}"));
  ASSERT_FALSE(malformed.ok());
  EXPECT_THAT(malformed.error().message, HasSubstr("malformed JSON at byte"));
  auto missing = ImportReader::open(dir_ / "nope.ndjson");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::io);
  ParseLimits limits;
  limits.max_bytes = 100;
  auto too_big = ImportReader::open(write("big.json", "{\n\"resourceType\": \"Bundle\",\n\"type\": \"batch\",\n\"entry\": [" +
                                                          std::string(200, ' ') + "]}"),
                                    limits);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, Errc::too_large);
}

TEST_F(ImportReaderTest, BundleLineAmongOthersIsNdjson) {
  std::string content = R"({"resourceType":"Bundle","type":"collection","entry":[]})" "\n" + kGood + "\n";
  auto reader = ImportReader::open(write("b.ndjson", content));
  ASSERT_TRUE(reader.ok());
  auto items = read_all(**reader);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].resource.error().message, "resourceType \"Bundle\" cannot be imported line by line");
  EXPECT_TRUE(items[1].resource.ok());
}

TEST_F(ImportReaderTest, SinglePrettyPrintedResource) {
  auto reader = ImportReader::open(write("p.json", "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"solo\"\n}\n"));
  ASSERT_TRUE(reader.ok());
  auto items = read_all(**reader);
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(items[0].resource.ok());
  EXPECT_EQ(items[0].resource->id, "solo");
  EXPECT_EQ(items[0].line, 1u);
}

// Every Synthea export file of shared/data imports without a rejected line.
TEST_F(ImportReaderTest, SyntheaExportsImport) {
  size_t files = 0, resources = 0;
  for (const char* set : {"synthea-10", "synthea-100"}) {
    for (const auto& f : std::filesystem::directory_iterator(testing::shared_dir() / "data" / set)) {
      std::string name = f.path().filename().string();
      if (f.path().extension() != ".ndjson" || !is_known_r4_type(name.substr(0, name.find('.')))) continue;
      ++files;
      auto reader = ImportReader::open(f.path());
      ASSERT_TRUE(reader.ok()) << name << ": " << reader.error().message;
      while (auto item = (*reader)->next()) {
        ASSERT_TRUE(item->resource.ok()) << name << ":" << item->line << ": " << item->resource.error().message;
        EXPECT_EQ(item->resource->type, name.substr(0, name.find('.')));
        ++resources;
      }
      EXPECT_EQ((*reader)->bytes_read(), (*reader)->bytes_total()) << name;
    }
  }
  EXPECT_GE(files, 21u);
  EXPECT_GT(resources, 10000u);
}

}  // namespace
}  // namespace medvault::fhir
