// Sealed policy-facts summaries (vault/access_facts.h): used when fresh,
// recomputed when stale, tampered with or moved, never in clear at rest.
#include "vault/access_facts.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "access/policy.h"
#include "vault/core.h"
#include "vault/vault.h"
#include "vault/vault_test_util.h"

namespace medvault::vault {
namespace {

namespace fs = std::filesystem;

class ManualClock final : public Clock {
 public:
  int64_t now_ms() const override { return now.load(); }
  std::atomic<int64_t> now{1'800'000'000'000};
};

// Resources are stored with their JSON as the body (no encryption: the
// opener below stands for the repository's decryption and counts calls).
class AccessFactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mv-facts-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    core_ = make_core();
  }
  void TearDown() override {
    core_.reset();
    fs::remove_all(dir_);
  }

  // A second Core on the same file stands for another node or a restart.
  std::unique_ptr<Core> make_core() {
    auto c = std::make_unique<Core>();
    auto s = store::open_sqlite(dir_ / "vault.db");
    EXPECT_TRUE(s.ok());
    c->store = std::move(s).value();
    c->session_key = crypto::SecretKey::from_bytes(std::span<const uint8_t>(key_bytes_, sizeof key_bytes_));
    c->clock = &clock_;
    return c;
  }

  std::unique_ptr<AccessFacts> facts(Core& c) {
    return std::make_unique<AccessFacts>(c, [this](const store::VersionRow& row) -> Result<std::string> {
      ++opened_;
      return row.body;
    });
  }

  void put(Core& c, const std::string& type, const std::string& id, const std::string& patient,
           const std::string& json, bool deleted = false) {
    auto txn = c.store->begin();
    ASSERT_TRUE(txn.ok());
    auto cur = (*txn)->current(type, id);
    ASSERT_TRUE(cur.ok());
    store::VersionRow row{type, id, *cur ? (**cur).version + 1 : 1, 1, clock_.now_ms(), deleted, patient,
                          deleted ? "" : json};
    ASSERT_TRUE((*txn)->put_version(row).ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }

  // Patient p with a GP, a care team, two encounters and a consent: five fact sources.
  void seed(Core& c, const std::string& p, const std::string& gp, const std::string& team_member) {
    put(c, "Patient", p, p,
        R"({"resourceType":"Patient","id":")" + p + R"(","generalPractitioner":[{"reference":"Practitioner/)" +
            gp + R"("}]})");
    put(c, "CareTeam", p + "-ct", p, care_team(p, team_member));
    for (const char* e : {"-e1", "-e2"})
      put(c, "Encounter", p + e, p,
          R"({"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/)" +
              p + R"("},"participant":[{"individual":{"reference":"Practitioner/enc"}}],"period":{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T01:00:00Z"}})");
    put(c, "Consent", p + "-c", p,
        R"({"resourceType":"Consent","status":"active","patient":{"reference":"Patient/)" + p +
            R"("},"provision":{"type":"deny","actor":[{"role":{"coding":[{"code":"reception"}]},"reference":{"reference":"Practitioner/blocked"}}]}})");
    put(c, "Observation", p + "-o", p,
        R"({"resourceType":"Observation","status":"final","code":{"text":"pulse"},"subject":{"reference":"Patient/)" + p + R"("}})");
  }
  static std::string care_team(const std::string& p, const std::string& member) {
    return R"({"resourceType":"CareTeam","status":"active","subject":{"reference":"Patient/)" + p +
           R"("},"participant":[{"member":{"reference":"Practitioner/)" + member + R"("}}]})";
  }

  static bool has_actor(const access::PatientFacts& f, const std::string& actor) {
    for (const auto& r : f.relationships)
      if (r.actor == actor) return true;
    return false;
  }

  // Whether a physician linked to `practitioner` may read the patient's Observation.
  bool may_read(const access::PatientFacts& f, const std::string& practitioner) {
    access::Subject who{"dr", "physician", {}, "Practitioner/" + practitioner};
    access::Target t("Observation", f.patient + "-o", f.patient, nullptr, &f, nullptr, clock_.now_ms());
    return access::make_policy()->decide(who, access::Action::read, t, "TREAT").permit;
  }

  // A cold load with relationships, its summary written before returning.
  void write_summary(const std::string& patient) {
    auto a = facts(*core_);
    ASSERT_TRUE(a->patient(patient, true).ok());
    a->flush_summaries();
  }

  std::string raw_summary(const std::string& patient) {
    auto s = core_->store->facts_summary(patient);
    EXPECT_TRUE(s.ok());
    return s.ok() && s->has_value() ? **s : std::string();
  }

  void put_raw_summary(const std::string& patient, const std::string& sealed) {
    auto txn = core_->store->begin();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->put_facts_summary(patient, sealed).ok());
    ASSERT_TRUE((*txn)->commit().ok());
  }

  fs::path dir_;
  ManualClock clock_;
  uint8_t key_bytes_[32] = {7, 1, 2, 3};
  std::unique_ptr<Core> core_;
  std::atomic<int> opened_{0};
};

TEST_F(AccessFactsTest, FreshSummaryServesAColdPatientWithoutOpeningResources) {
  seed(*core_, "p1", "gp1", "ct1");
  {
    auto a = facts(*core_);
    auto f = a->patient("p1", true);
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(opened_, 5) << "cold, no summary: every fact source is opened";
    EXPECT_TRUE(has_actor(**f, "Practitioner/gp1"));
    a->flush_summaries();
  }
  EXPECT_FALSE(raw_summary("p1").empty()) << "the summary was written off the request thread";

  opened_ = 0;
  auto b = facts(*core_);  // a restart: nothing in memory
  auto f = b->patient("p1", true);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(opened_, 0) << "one summary instead of five resources";
  EXPECT_EQ((*f)->patient, "p1");
  EXPECT_EQ((*f)->relationships.size(), 4u);  // GP, care team member, two encounters
  ASSERT_EQ((*f)->consents.size(), 1u);
  EXPECT_EQ((*f)->consents[0].source, "Consent/p1-c");
  EXPECT_TRUE(may_read(**f, "ct1"));
  EXPECT_FALSE(may_read(**f, "stranger"));
  // A consents-only caller opens the patient's Consents, which costs what
  // opening the summary would.
  auto c = facts(*core_);
  auto consents = c->patient("p1", false);
  ASSERT_TRUE(consents.ok());
  EXPECT_EQ(opened_, 1);
  EXPECT_EQ((*consents)->consents.size(), 1u);
  EXPECT_TRUE((*consents)->relationships.empty());
}

// Consents-only facts open the Consents alone and never replace a summary
// (which would then lack the relationships the next clinician needs).
TEST_F(AccessFactsTest, ConsentsOnlyFactsOpenTheConsentsAndWriteNoSummary) {
  seed(*core_, "p1", "gp1", "ct1");
  {
    auto a = facts(*core_);
    ASSERT_TRUE(a->patient("p1", false).ok());
    EXPECT_EQ(opened_, 1) << "only the Consent";
    a->flush_summaries();
  }
  EXPECT_TRUE(raw_summary("p1").empty());
  opened_ = 0;
  auto c = facts(*core_);
  auto f = c->patient("p1", true);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(opened_, 5) << "relationships needed: computed from the resources";
  EXPECT_TRUE(has_actor(**f, "Practitioner/ct1"));
  c->flush_summaries();
  const std::string full = raw_summary("p1");
  EXPECT_FALSE(full.empty());
  opened_ = 0;
  auto d = facts(*core_);
  ASSERT_TRUE(d->patient("p1", false).ok());
  EXPECT_EQ(opened_, 1);
  d->flush_summaries();
  EXPECT_EQ(raw_summary("p1"), full) << "the fuller summary stays";
}

// With nothing to open (no Consent, relationships not needed) the facts cost
// the index query only: no summary is read or written for them.
TEST_F(AccessFactsTest, NothingToOpenNeedsNoSummary) {
  put(*core_, "Patient", "p0", "p0", R"({"resourceType":"Patient","generalPractitioner":[{"reference":"Practitioner/g"}]})");
  auto a = facts(*core_);
  auto f = a->patient("p0", false);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(opened_, 0);
  EXPECT_TRUE((*f)->relationships.empty() && (*f)->consents.empty());
  a->flush_summaries();
  EXPECT_TRUE(raw_summary("p0").empty());
  ASSERT_TRUE(a->build_summaries({"nobody"}).ok());
  EXPECT_TRUE(raw_summary("nobody").empty()) << "an empty compartment gets no summary";
}

TEST_F(AccessFactsTest, ChangeByAnotherNodeMakesTheSummaryStale) {
  seed(*core_, "p1", "gp1", "ct1");
  write_summary("p1");
  // Another node replaces the care team's member and withdraws the consent.
  auto other = make_core();
  put(*other, "CareTeam", "p1-ct", "p1", care_team("p1", "ct2"));
  put(*other, "Consent", "p1-c", "p1", "", true);

  opened_ = 0;
  auto b = facts(*core_);
  auto f = b->patient("p1", true);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(opened_, 4) << "stale summary: recomputed (the deleted Consent is no longer a source)";
  EXPECT_TRUE(has_actor(**f, "Practitioner/ct2"));
  EXPECT_FALSE(has_actor(**f, "Practitioner/ct1"));
  EXPECT_TRUE((*f)->consents.empty());
  EXPECT_TRUE(may_read(**f, "ct2"));
  EXPECT_FALSE(may_read(**f, "ct1")) << "the decision follows the new data";
  b->flush_summaries();

  // The recomputed summary is fresh again and serves the next cold start.
  opened_ = 0;
  auto c = facts(*core_);
  auto g = c->patient("p1", true);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(opened_, 0);
  EXPECT_TRUE(has_actor(**g, "Practitioner/ct2"));
}

TEST_F(AccessFactsTest, TamperedOrMovedSummaryIsIgnored) {
  seed(*core_, "p1", "gp1", "ct1");
  seed(*core_, "p2", "gp2", "ct2");
  write_summary("p1");
  const std::string p1_row = raw_summary("p1");
  ASSERT_FALSE(p1_row.empty());

  // p1's row copied under p2 (which has no summary of its own): refused by
  // the associated data, p2's facts come from p2's resources.
  put_raw_summary("p2", p1_row);
  opened_ = 0;
  {
    auto b = facts(*core_);
    auto f = b->patient("p2", true);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(opened_, 5);
    EXPECT_TRUE(has_actor(**f, "Practitioner/ct2"));
    EXPECT_FALSE(has_actor(**f, "Practitioner/ct1"));
    EXPECT_FALSE(may_read(**f, "ct1"));
  }

  // Any flipped byte, a truncated row, garbage: recomputed, never trusted.
  for (std::string bad : {p1_row, p1_row.substr(0, p1_row.size() / 2), std::string("garbage"), std::string()}) {
    if (bad == p1_row) bad[bad.size() / 2] ^= 0x01;
    put_raw_summary("p1", bad);
    opened_ = 0;
    auto c = facts(*core_);
    auto f = c->patient("p1", true);
    ASSERT_TRUE(f.ok()) << "a bad summary is never an error for the read";
    EXPECT_EQ(opened_, 5);
    EXPECT_TRUE(has_actor(**f, "Practitioner/ct1"));
    c->flush_summaries();
    EXPECT_EQ(raw_summary("p1").size(), p1_row.size()) << "and replaced by a good one";
  }
}

TEST_F(AccessFactsTest, SummaryIsSealedUnderTheVaultsKey) {
  seed(*core_, "patient-zeta", "gp-omega", "ct-sigma");
  write_summary("patient-zeta");
  const std::string row = raw_summary("patient-zeta");
  ASSERT_FALSE(row.empty());
  for (const char* clear : {"patient-zeta", "gp-omega", "ct-sigma", "Practitioner", "Consent", "care-team", "\"r\""})
    EXPECT_EQ(row.find(clear), std::string::npos) << clear << " in clear in the sealed row";

  // Another master key (another vault) cannot use it.
  key_bytes_[0] ^= 0xff;
  auto stranger = make_core();
  opened_ = 0;
  auto b = facts(*stranger);
  ASSERT_TRUE(b->patient("patient-zeta", true).ok());
  EXPECT_EQ(opened_, 5);
}

TEST_F(AccessFactsTest, BuildSummariesWarmsListedPatientsInBatches) {
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) {  // more than one kSummaryBatch
    std::string p = "w" + std::to_string(i);
    put(*core_, "Patient", p, p, R"({"resourceType":"Patient","generalPractitioner":[{"reference":"Practitioner/g"}]})");
    ids.push_back(p);
  }
  auto a = facts(*core_);
  ASSERT_TRUE(a->build_summaries(ids).ok());
  EXPECT_EQ(opened_, 300);
  opened_ = 0;
  ASSERT_TRUE(a->build_summaries(ids).ok());
  EXPECT_EQ(opened_, 0) << "fresh summaries are not rebuilt";
  auto b = facts(*core_);
  for (const auto& p : ids) {
    auto f = b->patient(p, true);
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(has_actor(**f, "Practitioner/g"));
  }
  EXPECT_EQ(opened_, 0);
}

// Through the vault: the import's warm-up needs the import permission and
// leaves one sealed row per patient.
TEST(AccessFactsVaultTest, WarmAccessFactsAfterImport) {
  char tmpl[] = "/tmp/mv-facts-vault-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  {
    auto v = testing::make_test_vault(dir);
    ASSERT_TRUE(v.ok());
    RequestContext sys;
    sys.subject = {"system", "system", {}};
    std::vector<fhir::Resource> batch;
    for (const char* id : {"pa", "pb"}) {
      auto r = fhir::parse_resource(std::string(R"({"resourceType":"Patient","id":")") + id +
                                    R"(","name":[{"family":"Zebulon"}],"generalPractitioner":[{"reference":"Practitioner/g"}]})");
      ASSERT_TRUE(r.ok());
      batch.push_back(std::move(r).value());
    }
    ASSERT_TRUE((*v)->repository().import_batch(sys, std::move(batch)).ok());
    RequestContext doc;
    doc.subject = {"dr", "physician", {}, "Practitioner/g"};
    EXPECT_EQ((*v)->repository().warm_access_facts(doc, {"pa", "pb"}).error().code, Errc::forbidden);
    ASSERT_TRUE((*v)->repository().warm_access_facts(sys, {"pa", "pb"}).ok());
    auto read = (*v)->repository().read(doc, "Patient", "pa");
    EXPECT_TRUE(read.ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "v" / "vault.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT patient, sealed FROM facts_summary ORDER BY patient", -1, &st, nullptr),
            SQLITE_OK);
  std::vector<std::string> patients;
  while (sqlite3_step(st) == SQLITE_ROW) {
    patients.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    std::string sealed(static_cast<const char*>(sqlite3_column_blob(st, 1)), sqlite3_column_bytes(st, 1));
    EXPECT_EQ(sealed.find(patients.back()), std::string::npos);
    EXPECT_EQ(sealed.find("Practitioner/g"), std::string::npos);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_EQ(patients, (std::vector<std::string>{"pa", "pb"}));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace medvault::vault
