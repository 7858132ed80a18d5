#include "demo/generator.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "demo/calendar.h"
#include "demo/json_writer.h"
#include "demo/rng.h"
#include "demo/vocabulary.h"

namespace medvault::demo {
namespace {

using vocab::Code;
using vocab::Cond;
using vocab::Med;
using vocab::Vaccine;
using vocab::Visit;

constexpr std::string_view kActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr std::string_view kConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
constexpr std::string_view kV2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203";
constexpr std::string_view kObsCategory = "http://terminology.hl7.org/CodeSystem/observation-category";
constexpr std::string_view kBcp47 = "urn:ietf:bcp:47";

constexpr int64_t kCovidStart = days_from_civil(2020, 3, 1);
constexpr int64_t kTelemedicineStart = days_from_civil(2020, 3, 16);
constexpr int64_t kCovidVaccineStart = days_from_civil(2021, 1, 4);
constexpr int64_t kCovidVaccineEnd = days_from_civil(2022, 12, 31);

// ------------------------------------------------------------------ helpers

// A UUID-shaped (version 4 layout) logical id drawn from the stream.
struct Id {
  std::array<char, 36> text{};
  std::string_view view() const { return {text.data(), text.size()}; }
};

Id make_id(Rng& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t hi = rng.next();
  uint64_t lo = rng.next();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                          // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  Id id;
  size_t p = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id.text[p++] = '-';
    const uint64_t word = i < 16 ? hi : lo;
    id.text[p++] = kHex[(word >> (60 - 4 * (i % 16))) & 0xF];
  }
  return id;
}

// Lower-case ASCII for e-mail local parts: Latin-1 letters and œ/æ lose
// their accents, spaces become '-', anything else is dropped.
std::string ascii_fold(std::string_view s) {
  // U+00C0..U+00FF; '.' marks characters with no single-letter equivalent.
  static constexpr std::string_view kLatin1 =
      "aaaaaa.ceeeeiiiidnooooo.ouuuuy.s"
      "aaaaaa.ceeeeiiiidnooooo.ouuuuy.y";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') out.push_back(static_cast<char>(c));
      else if (c >= 'A' && c <= 'Z') out.push_back(static_cast<char>(c - 'A' + 'a'));
      else if (c == ' ') out.push_back('-');
      continue;
    }
    if ((c & 0xE0) != 0xC0 || i + 1 >= s.size()) continue;  // only 2-byte sequences map
    const unsigned cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3Fu);
    if (cp == 0xC6 || cp == 0xE6) out.append("ae");
    else if (cp == 0x152 || cp == 0x153) out.append("oe");
    else if (cp == 0xDF) out.append("ss");
    else if (cp >= 0xC0 && cp <= 0xFF && kLatin1[cp - 0xC0] != '.') out.push_back(kLatin1[cp - 0xC0]);
  }
  return out;
}

void coding(JsonWriter& w, const Code& c) {
  w.begin_object().member("system", c.system).member("code", c.code);
  if (!c.display.empty()) w.member("display", c.display);
  w.end_object();
}

void concept_member(JsonWriter& w, std::string_view key, const Code& c, std::string_view text = {}) {
  w.key(key).begin_object().key("coding").begin_array();
  coding(w, c);
  w.end_array();
  if (!text.empty()) w.member("text", text);
  w.end_object();
}

// {"coding":[c]} as an array element (category, type...).
void concept_value(JsonWriter& w, const Code& c, std::string_view text = {}) {
  w.begin_object().key("coding").begin_array();
  coding(w, c);
  w.end_array();
  if (!text.empty()) w.member("text", text);
  w.end_object();
}

void ref_value(JsonWriter& w, std::string_view type, std::string_view id, std::string_view display = {}) {
  w.begin_object();
  std::string& o = w.key("reference").raw_value_begin();
  o.push_back('"');
  o.append(type);
  o.push_back('/');
  o.append(id);
  o.push_back('"');
  if (!display.empty()) w.member("display", display);
  w.end_object();
}

void ref_member(JsonWriter& w, std::string_view key, std::string_view type, std::string_view id,
                std::string_view display = {}) {
  w.key(key);
  ref_value(w, type, id, display);
}

void date_member(JsonWriter& w, std::string_view key, int64_t day) {
  std::string& o = w.key(key).raw_value_begin();
  o.push_back('"');
  append_date(o, day);
  o.push_back('"');
}

void datetime_member(JsonWriter& w, std::string_view key, int64_t day, int minute, int second = 0) {
  std::string& o = w.key(key).raw_value_begin();
  o.push_back('"');
  append_paris_datetime(o, day, minute, second);
  o.push_back('"');
}

void quantity_member(JsonWriter& w, std::string_view key, int64_t scaled, int places, std::string_view unit,
                     std::string_view ucum) {
  w.key(key).begin_object().member_decimal("value", scaled, places).member("unit", unit);
  w.member("system", vocab::kUcum).member("code", ucum).end_object();
}

void sensitive_meta(JsonWriter& w) {
  w.key("meta").begin_object().key("security").begin_array();
  coding(w, {kActCode, "PSY", "psychiatry disorder information sensitivity"});
  coding(w, {kConfidentiality, "R", "restricted"});
  w.end_array().end_object();
}

void begin_resource(JsonWriter& w, std::string_view type, const Id& id, bool sensitive = false) {
  w.begin_object().member("resourceType", type).member("id", id.view());
  if (sensitive) sensitive_meta(w);
}

// ------------------------------------------------------------- the practice

struct StaffSpec {
  std::string_view given;
  std::string_view family;
  std::string_view gender;
  bool french;
  bool nurse;
};
constexpr StaffSpec kStaff[] = {
    {"Claire", "Lefèvre", "female", true, false},
    {"François", "Moreau", "male", true, false},
    {"Sarah", "Whitfield", "female", false, false},
    {"James", "O'Connor", "male", false, false},
    {"Amélie", "Rousseau", "female", true, true},
};
constexpr int kPhysicians = 4;
constexpr int kNurse = 4;

struct Practice {
  Id organization;
  std::array<Id, std::size(kStaff)> staff;
  std::array<std::string, std::size(kStaff)> display;  // "Dr Claire Lefèvre"
};

void emit_practice(Rng& rng, Practice& p, std::string& buf, const std::function<void(std::string_view)>& sink) {
  p.organization = make_id(rng);
  for (size_t i = 0; i < std::size(kStaff); ++i) {
    p.staff[i] = make_id(rng);
    p.display[i] = std::string(kStaff[i].nurse ? "" : "Dr ") + std::string(kStaff[i].given) + " " +
                   std::string(kStaff[i].family);
  }

  buf.clear();
  JsonWriter w(buf);
  begin_resource(w, "Organization", p.organization);
  w.key("identifier").begin_array().begin_object();
  w.member("system", "https://medvault.example/organization").member("value", "CABINET-TILLEULS");
  w.end_object().end_array();
  w.member_bool("active", true);
  w.key("type").begin_array();
  concept_value(w, {"http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider"});
  w.end_array();
  w.member("name", "Cabinet médical des Tilleuls");
  w.key("telecom").begin_array();
  w.begin_object().member("system", "phone").member("value", "+33 4 65 71 20 00").member("use", "work").end_object();
  w.begin_object().member("system", "email").member("value", "accueil@tilleuls.example").member("use", "work");
  w.end_object().end_array();
  w.key("address").begin_array().begin_object().member("use", "work");
  w.key("line").begin_array().string("18 rue des Tilleuls").end_array();
  w.member("city", "Lyon").member("postalCode", "69003").member("country", "FR").end_object().end_array();
  w.end_object();
  sink(buf);

  for (size_t i = 0; i < std::size(kStaff); ++i) {
    const StaffSpec& s = kStaff[i];
    buf.clear();
    JsonWriter pw(buf);
    begin_resource(pw, "Practitioner", p.staff[i]);
    pw.key("identifier").begin_array().begin_object().member("system", "https://medvault.example/staff");
    std::string& o = pw.key("value").raw_value_begin();
    o.append("\"STAFF-");
    append_digits(o, static_cast<int64_t>(i + 1), 4);
    o.push_back('"');
    pw.end_object().end_array();
    pw.member_bool("active", true);
    pw.key("name").begin_array().begin_object().member("use", "official").member("family", s.family);
    pw.key("given").begin_array().string(s.given).end_array();
    if (!s.nurse) pw.key("prefix").begin_array().string("Dr").end_array();
    pw.end_object().end_array();
    pw.key("telecom").begin_array().begin_object().member("system", "email");
    std::string email = ascii_fold(s.given.substr(0, 1)) + "." + ascii_fold(s.family) + "@tilleuls.example";
    pw.member("value", email).member("use", "work").end_object().end_array();
    pw.member("gender", s.gender);
    pw.key("qualification").begin_array().begin_object();
    if (s.nurse) {
      concept_member(pw, "code", {"http://terminology.hl7.org/CodeSystem/v2-0360", "RN", "Registered Nurse"},
                     "Infirmière diplômée d'État");
    } else {
      concept_member(pw, "code", {"http://terminology.hl7.org/CodeSystem/v2-0360", "MD", "Doctor of Medicine"},
                     s.french ? "Médecin généraliste" : "General practitioner");
    }
    pw.end_object().end_array();
    pw.key("communication").begin_array();
    concept_value(pw, {kBcp47, "fr", "French"});
    concept_value(pw, {kBcp47, "en", "English"});
    pw.end_array();
    pw.end_object();
    sink(buf);
  }
}

// ----------------------------------------------------------------- patients

enum class Country { fr, gb, us };

// Fraction of adult height (per mille) at each birthday, 0 to 18.
constexpr int kHeightPermille[] = {285, 430, 495, 545, 585, 625, 660, 695, 725, 755,
                                   785, 815, 850, 890, 930, 960, 980, 992, 1000};
// Typical BMI (x10) at each birthday, 0 to 18.
constexpr int kChildBmi[] = {135, 170, 165, 160, 157, 155, 155, 157, 160, 165,
                             170, 175, 180, 187, 195, 200, 205, 210, 215};

struct Chronic {
  Cond cond = Cond::count;
  int64_t onset = 0;     // day
  int diagnosed_at = -1; // encounter index, -1: before the recorded history
  Med med = Med::none;   // long-term treatment, chosen at diagnosis
  Id id;
};

struct Encounter {
  int64_t day;
  int start;  // minutes from local midnight
  int end;
  Id id;
  int physician;
  bool nurse = false;
  bool is_virtual = false;
};

class PatientGenerator {
 public:
  PatientGenerator(const Options& opt, const Practice& practice, uint64_t index, std::string& buf,
                   const std::function<void(std::string_view)>& sink)
      : opt_(opt),
        practice_(practice),
        index_(index),
        rng_(Rng::derive(opt.seed, index + 1)),
        today_(day_of_ms(opt.now_ms)),
        buf_(buf),
        sink_(sink) {}

  void run() {
    make_person();
    emit_patient();
    if (opt_.resources_per_patient <= 1) return;
    plan();
    for (size_t a = 0; a < allergy_count_; ++a) emit_allergy(a);
    for (size_t c = 0; c < chronic_.size(); ++c)
      if (chronic_[c].diagnosed_at < 0) emit_condition_before_history(chronic_[c]);
    for (size_t i = 0; i < days_.size(); ++i) run_encounter(static_cast<int>(i));
  }

 private:
  // ------------------------------------------------------------ the person
  void make_person() {
    french_ = index_ % 2 == 0;
    female_ = rng_.percent(51);
    country_ = french_ ? Country::fr : (rng_.percent(60) ? Country::gb : Country::us);
    id_ = make_id(rng_);

    // Age: a practice's list, children and the elderly included.
    const int band = static_cast<int>(rng_.below(100));
    const int lo = band < 18 ? 0 : band < 46 ? 18 : band < 80 ? 40 : 65;
    const int hi = band < 18 ? 18 : band < 46 ? 40 : band < 80 ? 65 : 96;
    birth_ = today_ - rng_.between(lo * 36525 / 100 + 1, hi * 36525 / 100);

    const vocab::Words given = french_ ? (female_ ? vocab::french_female_given() : vocab::french_male_given())
                                       : (female_ ? vocab::english_female_given() : vocab::english_male_given());
    const vocab::Words family = french_ ? vocab::french_family() : vocab::english_family();
    given_ = rng_.pick(given);
    if (!french_ && rng_.percent(35)) {
      given2_ = rng_.pick(given);
      if (given2_ == given_) given2_ = {};
    }
    family_ = rng_.pick(family);
    if (french_ && female_ && age_at(today_) >= 28 && rng_.percent(45)) {
      maiden_ = family_;
      family_ = rng_.pick(family);
      if (family_ == maiden_) maiden_ = {};
    }
    display_ = std::string(given_) + " " + std::string(family_);
    gp_ = french_ ? static_cast<int>(rng_.below(2)) : 2 + static_cast<int>(rng_.below(2));
    if (rng_.percent(15)) gp_ = static_cast<int>(rng_.below(kPhysicians));

    // Physique, stable over the years.
    adult_height_mm_ = rng_.around(french_ ? (female_ ? 1640 : 1760) : (female_ ? 1640 : 1770), 120);
    bmi_base_ = rng_.around(255, 70);
    bmi_drift_ = rng_.between(-3, 6);  // x10 per year
    systolic_base_ = rng_.around(female_ ? 114 : 120, 12);
    diastolic_base_ = rng_.around(74, 8);
    pulse_base_ = rng_.around(70, 12);
    cholesterol_base_ = rng_.around(185, 40);
  }

  int age_at(int64_t day) const {
    const Ymd b = civil_from_days(birth_);
    const Ymd d = civil_from_days(day);
    return d.y - b.y - ((d.m < b.m || (d.m == b.m && d.d < b.d)) ? 1 : 0);
  }
  static int age_band(int age) { return age < 18 ? 0 : age < 40 ? 1 : age < 60 ? 2 : 3; }

  void append_nir(std::string& o) {
    const Ymd b = civil_from_days(birth_);
    uint64_t n = female_ ? 2 : 1;
    n = n * 100 + static_cast<uint64_t>(b.y % 100);
    n = n * 100 + static_cast<uint64_t>(b.m);
    if (rng_.percent(8)) {  // born abroad: department 99, then a country code
      n = n * 100 + 99;
      n = n * 1000 + static_cast<uint64_t>(rng_.between(101, 499));
    } else {
      int dept = static_cast<int>(rng_.between(1, 94));
      if (dept >= 20) ++dept;  // 2A/2B (Corsica) are not digits
      n = n * 100 + static_cast<uint64_t>(dept);
      n = n * 1000 + static_cast<uint64_t>(rng_.between(1, 989));
    }
    n = n * 1000 + static_cast<uint64_t>(rng_.between(1, 999));
    const uint64_t key = 97 - n % 97;
    append_digits(o, static_cast<int64_t>(n), 13);
    append_digits(o, static_cast<int64_t>(key), 2);
  }

  // Draws the home address and, from its country and region, the phone
  // number.
  void make_address() {
    switch (country_) {
      case Country::fr: {
        const auto& city = rng_.pick(vocab::french_cities());
        append_digits(line1_, rng_.between(1, 180), 1);
        if (rng_.percent(8)) line1_.append(" bis");
        line1_.push_back(' ');
        line1_.append(rng_.pick(vocab::french_street_types()));
        line1_.push_back(' ');
        line1_.append(rng_.pick(vocab::french_street_names()));
        if (rng_.percent(15)) {
          if (rng_.percent(50)) {
            line2_ = "Appartement ";
            append_digits(line2_, rng_.between(1, 60), 1);
          } else {
            line2_ = "Bâtiment ";
            line2_.push_back(static_cast<char>('A' + rng_.below(6)));
          }
        }
        city_ = city.name;
        postal_ = city.postal;
        if (city.districts > 0)
          append_digits(postal_, rng_.between(1, city.districts), static_cast<int>(5 - city.postal.size()));
        country_code_ = "FR";
        phone_.assign("+33 ");
        if (rng_.percent(70)) {
          phone_.append("6 39 98 ");
        } else {
          phone_.append(city.phone_block);
          phone_.push_back(' ');
        }
        append_digits(phone_, rng_.between(0, 99), 2);
        phone_.push_back(' ');
        append_digits(phone_, rng_.between(0, 99), 2);
        mobile_ = phone_.starts_with("+33 6");
        break;
      }
      case Country::gb: {
        static constexpr std::string_view kLetters = "ABDEFGHJLNPQRSTUWXYZ";  // inward-code letters
        const auto& city = rng_.pick(vocab::uk_cities());
        append_digits(line1_, rng_.between(1, 220), 1);
        line1_.push_back(' ');
        line1_.append(rng_.pick(vocab::uk_streets()));
        city_ = city.name;
        postal_ = city.area;
        append_digits(postal_, rng_.between(city.first_district, city.last_district), 1);
        postal_.push_back(' ');
        append_digits(postal_, rng_.between(1, 9), 1);
        postal_.push_back(kLetters[rng_.below(kLetters.size())]);
        postal_.push_back(kLetters[rng_.below(kLetters.size())]);
        country_code_ = "GB";
        phone_.assign("+44 7700 900");
        append_digits(phone_, rng_.between(0, 999), 3);
        mobile_ = true;
        break;
      }
      case Country::us: {
        const auto& city = rng_.pick(vocab::us_cities());
        append_digits(line1_, rng_.between(10, 9899), 1);
        line1_.push_back(' ');
        line1_.append(rng_.pick(vocab::us_streets()));
        if (rng_.percent(20)) {
          line2_ = "Apt ";
          append_digits(line2_, rng_.between(1, 30), 1);
          line2_.push_back(static_cast<char>('A' + rng_.below(6)));
        }
        city_ = city.name;
        state_ = city.state;
        postal_ = city.zip3;
        append_digits(postal_, rng_.between(1, 99), 2);
        country_code_ = "US";
        phone_.assign("+1 ");
        phone_.append(city.area_code);
        phone_.append("-555-01");
        append_digits(phone_, rng_.between(0, 99), 2);
        mobile_ = rng_.percent(60);
        break;
      }
    }
  }

  void emit_patient() {
    buf_.clear();
    JsonWriter w(buf_);
    begin_resource(w, "Patient", id_);
    w.key("identifier").begin_array();
    w.begin_object().member("use", "usual");
    concept_member(w, "type", {kV2_0203, "MR", "Medical record number"});
    w.member("system", kMrnSystem);
    std::string& mrn = w.key("value").raw_value_begin();
    mrn.append("\"MV");
    append_digits(mrn, static_cast<int64_t>(index_ + 1), 8);
    mrn.push_back('"');
    w.end_object();
    if (french_) {
      w.begin_object().member("use", "official");
      concept_member(w, "type", {kV2_0203, "NI", "National unique individual identifier"}, "INS-NIR");
      w.member("system", kNirSystem);
      std::string& nir = w.key("value").raw_value_begin();
      nir.push_back('"');
      append_nir(nir);
      nir.push_back('"');
      w.end_object();
    }
    w.end_array();
    w.member_bool("active", true);

    w.key("name").begin_array();
    w.begin_object().member("use", "official").member("family", family_);
    w.key("given").begin_array().string(given_);
    if (!given2_.empty()) w.string(given2_);
    w.end_array().end_object();
    if (!maiden_.empty()) {
      w.begin_object().member("use", "maiden").member("family", maiden_);
      w.key("given").begin_array().string(given_).end_array().end_object();
    }
    w.end_array();

    make_address();
    w.key("telecom").begin_array();
    w.begin_object().member("system", "phone").member("value", phone_);
    w.member("use", mobile_ ? "mobile" : "home").end_object();
    if (age_at(today_) >= 16) {
      std::string email = ascii_fold(given_) + "." + ascii_fold(family_);
      if (rng_.percent(30)) append_digits(email, rng_.between(1, 99), 2);
      static constexpr std::string_view kDomains[] = {"@example.com", "@example.org", "@example.net"};
      email.append(kDomains[rng_.below(std::size(kDomains))]);
      w.begin_object().member("system", "email").member("value", email).member("use", "home").end_object();
    }
    w.end_array();
    w.member("gender", female_ ? "female" : "male");
    date_member(w, "birthDate", birth_);
    w.key("address").begin_array().begin_object().member("use", "home").member("type", "physical");
    w.key("line").begin_array().string(line1_);
    if (!line2_.empty()) w.string(line2_);
    w.end_array().member("city", city_);
    if (!state_.empty()) w.member("state", state_);
    w.member("postalCode", postal_).member("country", country_code_).end_object().end_array();
    w.key("communication").begin_array().begin_object().key("language").begin_object().key("coding").begin_array();
    switch (country_) {
      case Country::fr: coding(w, {kBcp47, "fr-FR", "French (France)"}); break;
      case Country::gb: coding(w, {kBcp47, "en-GB", "English (United Kingdom)"}); break;
      case Country::us: coding(w, {kBcp47, "en-US", "English (United States)"}); break;
    }
    w.end_array().member("text", french_ ? "Français" : "English").end_object();
    w.member_bool("preferred", true).end_object().end_array();
    w.key("generalPractitioner").begin_array();
    ref_value(w, "Practitioner", practice_.staff[gp_].view(), practice_.display[gp_]);
    w.end_array();
    ref_member(w, "managingOrganization", "Organization", practice_.organization.view());
    w.end_object();
    sink_(buf_);
  }

  // ----------------------------------------------------------- the history
  void plan() {
    const int target = opt_.resources_per_patient;
    const int64_t budget = std::max<int64_t>(1, (target * rng_.between(70, 130) + 50) / 100);
    const int age = age_at(today_);

    for (int c = 0; c < vocab::kChronicCount; ++c) {
      const Cond cond = static_cast<Cond>(c);
      const vocab::ConditionKind& kind = vocab::condition(cond);
      if (age < kind.min_age) continue;
      if (cond == Cond::prediabetes && has(Cond::diabetes_type2)) continue;
      int rate = kind.rate[age_band(age)];
      if (cond == Cond::hypothyroidism) rate = female_ ? rate * 3 / 2 : rate / 2;
      if (!rng_.permille(rate)) continue;
      Chronic ch;
      ch.cond = cond;
      ch.onset = rng_.between(std::min(birth_ + kind.min_age * 36525 / 100 + 30, today_ - 1), today_ - 1);
      ch.id = make_id(rng_);
      chronic_.push_back(ch);
    }
    const size_t room = static_cast<size_t>(budget - 1);
    if (chronic_.size() > room) chronic_.resize(room);
    const int a = static_cast<int>(rng_.below(1000));
    allergy_count_ = std::min<size_t>(a < 700 ? 0 : a < 920 ? 1 : 2, room - chronic_.size());

    // The recorded history: the last 2 to 12 years, or since birth.
    const int64_t span = rng_.between(2 * 365, 12 * 365 + 364);
    history_start_ = std::max(birth_ + 7, today_ - span);
    if (history_start_ > today_ - 1) history_start_ = today_ - 1;

    // Encounters: the budget left over the expected yield of one encounter
    // (calibrated on generated data: see the counts test), rounded at random
    // so that the mean stays on target.
    const int64_t fixed = 1 + static_cast<int64_t>(allergy_count_ + chronic_.size());
    size_t encounters = 0;
    if (budget > fixed) {
      const int64_t per_encounter_x100 = 655 + 5 * static_cast<int64_t>(chronic_.size());
      const int64_t x100 = (budget - fixed) * 10000 / per_encounter_x100;
      encounters = static_cast<size_t>(x100 / 100 + (static_cast<int64_t>(rng_.below(100)) < x100 % 100 ? 1 : 0));
    }
    days_.resize(encounters);
    for (int64_t& d : days_) {
      d = rng_.between(history_start_, today_ - 1);
      const int wd = weekday(d);
      const int64_t moved = wd == 6 ? d - 1 : wd == 0 ? (d + 1 <= today_ - 1 ? d + 1 : d - 2) : d;
      if (moved >= history_start_) d = moved;
    }
    std::sort(days_.begin(), days_.end());

    // A condition whose onset falls in the recorded history is diagnosed at
    // the first encounter on or after it (which becomes its onset).
    for (Chronic& ch : chronic_) {
      if (ch.onset < history_start_ || days_.empty()) continue;
      auto it = std::lower_bound(days_.begin(), days_.end(), ch.onset);
      if (it == days_.end()) --it;
      ch.diagnosed_at = static_cast<int>(it - days_.begin());
      ch.onset = *it;
    }
    // Conditions older than the record are mostly treated already.
    for (Chronic& ch : chronic_)
      if (ch.diagnosed_at < 0) ch.med = choose_treatment(ch.cond);
    last_td_ = birth_ + rng_.between(11 * 365, 16 * 365);
  }

  // One of the condition's usual treatments, or none (not every patient is
  // treated, and some conditions have no drug here).
  Med choose_treatment(Cond c) {
    const vocab::ConditionKind& ck = vocab::condition(c);
    int options = 0;
    while (options < 3 && ck.meds[options] != Med::none) ++options;
    if (options == 0 || !rng_.percent(85)) return Med::none;
    return ck.meds[rng_.below(static_cast<uint64_t>(options))];
  }

  bool has(Cond c) const {
    for (const Chronic& ch : chronic_)
      if (ch.cond == c) return true;
    return false;
  }
  bool active(const Chronic& ch, int encounter) const {
    return ch.diagnosed_at < 0 || ch.diagnosed_at <= encounter;
  }
  bool has_active(Cond c, int encounter) const {
    for (const Chronic& ch : chronic_)
      if (ch.cond == c && active(ch, encounter)) return true;
    return false;
  }

  void emit_allergy(size_t n) {
    auto kinds = vocab::allergies();
    // The second allergy is a different substance from the first.
    if (n == 0) first_allergy_ = rng_.below(kinds.size());
    const size_t k = n == 0 ? first_allergy_ : (first_allergy_ + 1 + rng_.below(kinds.size() - 1)) % kinds.size();
    const vocab::AllergyKind& kind = kinds[k];
    const bool severe = kind.reaction.code == "39579001";
    const Id id = make_id(rng_);
    buf_.clear();
    JsonWriter w(buf_);
    begin_resource(w, "AllergyIntolerance", id);
    concept_member(w, "clinicalStatus",
                   {"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"});
    concept_member(w, "verificationStatus",
                   {"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed",
                    "Confirmed"});
    w.member("type", "allergy");
    w.key("category").begin_array().string(kind.category).end_array();
    w.member("criticality", severe ? "high" : "low");
    concept_member(w, "code", kind.code, french_ ? kind.label_fr : kind.label_en);
    ref_member(w, "patient", "Patient", id_.view());
    date_member(w, "recordedDate", history_start_);
    ref_member(w, "recorder", "Practitioner", practice_.staff[gp_].view());
    w.key("reaction").begin_array().begin_object().key("manifestation").begin_array();
    concept_value(w, kind.reaction);
    w.end_array().member("severity", severe ? "severe" : rng_.percent(70) ? "mild" : "moderate");
    w.end_object().end_array();
    w.end_object();
    sink_(buf_);
  }

  void condition_common(JsonWriter& w, const vocab::ConditionKind& kind, const Id& id, bool resolved) {
    begin_resource(w, "Condition", id, kind.sensitive);
    concept_member(w, "clinicalStatus",
                   {"http://terminology.hl7.org/CodeSystem/condition-clinical", resolved ? "resolved" : "active",
                    resolved ? "Resolved" : "Active"});
    concept_member(w, "verificationStatus",
                   {"http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"});
    w.key("category").begin_array();
    if (kind.chronic)
      concept_value(w, {"http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item",
                        "Problem List Item"});
    else
      concept_value(w, {"http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis",
                        "Encounter Diagnosis"});
    w.end_array();
    concept_member(w, "code", kind.code, french_ ? kind.label_fr : kind.label_en);
    ref_member(w, "subject", "Patient", id_.view());
  }

  void emit_condition_before_history(const Chronic& ch) {
    const vocab::ConditionKind& kind = vocab::condition(ch.cond);
    buf_.clear();
    JsonWriter w(buf_);
    condition_common(w, kind, ch.id, false);
    date_member(w, "onsetDateTime", ch.onset);
    date_member(w, "recordedDate", std::max(ch.onset, history_start_));
    ref_member(w, "recorder", "Practitioner", practice_.staff[gp_].view());
    w.end_object();
    sink_(buf_);
  }

  void emit_condition_at(const Encounter& e, const vocab::ConditionKind& kind, const Id& id) {
    const int64_t abatement = e.day + rng_.between(5, 14);
    const bool resolved = !kind.chronic && abatement < today_;
    buf_.clear();
    JsonWriter w(buf_);
    condition_common(w, kind, id, resolved);
    ref_member(w, "encounter", "Encounter", e.id.view());
    datetime_member(w, "onsetDateTime", e.day, e.start);
    if (resolved) date_member(w, "abatementDateTime", abatement);
    datetime_member(w, "recordedDate", e.day, e.start);
    ref_member(w, "recorder", "Practitioner", practice_.staff[e.physician].view());
    w.end_object();
    sink_(buf_);
  }

  // Picks an acute problem plausible at this age and date; count if none.
  Cond pick_acute(int age, int64_t day) {
    int total = 0;
    int weights[vocab::kCondCount] = {};
    for (int c = vocab::kChronicCount; c < vocab::kCondCount; ++c) {
      const vocab::ConditionKind& kind = vocab::condition(static_cast<Cond>(c));
      if (age < kind.min_age) continue;
      if (static_cast<Cond>(c) == Cond::covid19 && day < kCovidStart) continue;
      if (static_cast<Cond>(c) == Cond::urinary_infection && !female_ && !rng_.percent(20)) continue;
      weights[c] = kind.rate[age_band(age)];
      total += weights[c];
    }
    if (total == 0) return Cond::count;
    int r = static_cast<int>(rng_.below(static_cast<uint64_t>(total)));
    for (int c = vocab::kChronicCount; c < vocab::kCondCount; ++c) {
      if (r < weights[c]) return static_cast<Cond>(c);
      r -= weights[c];
    }
    return Cond::count;
  }

  void run_encounter(int i) {
    Encounter e;
    e.day = days_[static_cast<size_t>(i)];
    e.start = 8 * 60 + 15 * static_cast<int>(rng_.between(0, 41));
    e.end = e.start + 15 + 5 * static_cast<int>(rng_.between(0, 3));
    e.id = make_id(rng_);
    e.physician = rng_.percent(80) ? gp_ : static_cast<int>(rng_.below(kPhysicians));
    const int age = age_at(e.day);

    // Why the patient came.
    std::vector<size_t>& diagnosed = diagnosed_scratch_;
    diagnosed.clear();
    for (size_t c = 0; c < chronic_.size(); ++c)
      if (chronic_[c].diagnosed_at == i) diagnosed.push_back(c);
    Cond acute = Cond::count;
    if (diagnosed.empty() && rng_.percent(age < 16 ? 35 : 25)) acute = pick_acute(age, e.day);
    int focus = -1;  // the long-term condition followed up
    Visit kind;
    if (!diagnosed.empty()) {
      kind = Visit::problem;
    } else if (acute != Cond::count) {
      kind = Visit::symptom;
    } else if (age < 16) {
      kind = Visit::well_child;
    } else {
      int n_active = 0;
      for (const Chronic& ch : chronic_) n_active += active(ch, i) ? 1 : 0;
      if (n_active > 0) {
        int pick = static_cast<int>(rng_.below(static_cast<uint64_t>(n_active)));
        for (size_t c = 0; c < chronic_.size(); ++c)
          if (active(chronic_[c], i) && pick-- == 0) focus = static_cast<int>(c);
        kind = Visit::follow_up;
      } else {
        kind = Visit::checkup;
      }
      if (e.day >= kTelemedicineStart && rng_.percent(15)) kind = Visit::telemedicine;
    }
    e.is_virtual = vocab::visit(kind).virtual_visit;

    const vocab::ConditionKind* reason = nullptr;
    if (!diagnosed.empty()) reason = &vocab::condition(chronic_[diagnosed[0]].cond);
    else if (acute != Cond::count) reason = &vocab::condition(acute);
    else if (focus >= 0) reason = &vocab::condition(chronic_[static_cast<size_t>(focus)].cond);

    std::array<Vaccine, 4> vaccines{};
    size_t n_vaccines = e.is_virtual ? 0 : plan_vaccines(e, age, kind, i, vaccines);
    e.nurse = n_vaccines > 0 && rng_.percent(60);

    emit_encounter(e, kind, reason);

    Id acute_id;
    for (size_t c : diagnosed) emit_condition_at(e, vocab::condition(chronic_[c].cond), chronic_[c].id);
    if (acute != Cond::count) {
      acute_id = make_id(rng_);
      emit_condition_at(e, vocab::condition(acute), acute_id);
    }

    Vitals v{};
    if (!e.is_virtual) {
      v = emit_vitals(e, age);
      emit_labs(e, kind);
    }

    // Prescriptions: treatment of new diagnoses, renewals, the acute course.
    std::vector<Med>& prescribed = prescribed_scratch_;
    prescribed.clear();
    bool sensitive_rx = false;
    for (size_t c : diagnosed) {
      Chronic& ch = chronic_[c];
      const vocab::ConditionKind& ck = vocab::condition(ch.cond);
      ch.med = choose_treatment(ch.cond);
      if (ch.med == Med::none) continue;
      emit_medication(e, ch.med, ch.id, ck);
      prescribed.push_back(ch.med);
      if (ck.also != Med::none) {
        emit_medication(e, ck.also, ch.id, ck);
        prescribed.push_back(ck.also);
      }
      sensitive_rx = sensitive_rx || ck.sensitive;
    }
    if (kind == Visit::follow_up || kind == Visit::checkup || kind == Visit::telemedicine) {
      for (size_t c = 0; c < chronic_.size(); ++c) {
        Chronic& ch = chronic_[c];
        if (!active(ch, i) || ch.diagnosed_at == i) continue;
        const vocab::ConditionKind& ck = vocab::condition(ch.cond);
        if (ch.med == Med::none) continue;
        if (!rng_.percent(static_cast<int>(c) == focus ? 80 : 35)) continue;
        emit_medication(e, ch.med, ch.id, ck);
        prescribed.push_back(ch.med);
        sensitive_rx = sensitive_rx || ck.sensitive;
      }
    }
    if (acute != Cond::count && rng_.percent(80)) {
      const vocab::ConditionKind& ck = vocab::condition(acute);
      emit_medication(e, ck.meds[0], acute_id, ck);
      prescribed.push_back(ck.meds[0]);
    }

    for (size_t n = 0; n < n_vaccines; ++n) emit_immunization(e, vaccines[n]);

    const int note_chance = (kind == Visit::problem || kind == Visit::symptom) ? 90 : 60;
    if (rng_.percent(note_chance)) {
      const bool sensitive = (reason != nullptr && reason->sensitive) || sensitive_rx;
      emit_note(e, kind, reason, diagnosed.empty() && acute == Cond::count ? focus : -1, v, prescribed,
                {vaccines.data(), n_vaccines}, sensitive);
    }
  }

  size_t plan_vaccines(const Encounter& e, int age, Visit kind, int i, std::array<Vaccine, 4>& out) {
    size_t n = 0;
    const Ymd date = civil_from_days(e.day);
    const int season = date.m >= 9 ? date.y : date.y - 1;
    if (date.m >= 10 && season != last_flu_season_) {
      const bool at_risk = age >= 65 || has_active(Cond::asthma, i) || has_active(Cond::copd, i) ||
                           has_active(Cond::diabetes_type2, i);
      if (rng_.percent(at_risk ? 70 : age >= 18 ? 15 : 5)) {
        out[n++] = Vaccine::influenza;
        last_flu_season_ = season;
      }
    }
    if (e.day >= kCovidVaccineStart && e.day <= kCovidVaccineEnd && age >= 12 && covid_doses_ < 3 &&
        e.day - last_covid_ >= 28 && rng_.percent(age >= 65 ? 70 : 35)) {
      out[n++] = Vaccine::covid19;
      ++covid_doses_;
      last_covid_ = e.day;
    }
    if (age >= 25 && e.day - last_td_ >= 3650 && rng_.percent(10)) {
      out[n++] = Vaccine::td;
      last_td_ = e.day;
    } else if (age >= 65 && !pneumococcal_ && rng_.percent(20)) {
      out[n++] = Vaccine::pneumococcal;
      pneumococcal_ = true;
    } else if (kind == Visit::well_child) {
      if (e.day - birth_ < 730 && dtap_doses_ < 3) {
        out[n++] = Vaccine::dtap;
        out[n++] = Vaccine::ipv;
        ++dtap_doses_;
      } else if (age >= 1 && age <= 6 && !mmr_ && rng_.percent(60)) {
        out[n++] = Vaccine::mmr;
        mmr_ = true;
      } else if (age >= 1 && age <= 6 && !varicella_ && rng_.percent(30)) {
        out[n++] = Vaccine::varicella;
        varicella_ = true;
      }
    }
    return n;
  }

  void emit_encounter(const Encounter& e, Visit kind, const vocab::ConditionKind* reason) {
    const vocab::VisitKind& vk = vocab::visit(kind);
    buf_.clear();
    JsonWriter w(buf_);
    begin_resource(w, "Encounter", e.id, reason != nullptr && reason->sensitive);
    w.member("status", "finished");
    w.key("class").begin_object().member("system", kActCode);
    if (vk.virtual_visit) w.member("code", "VR").member("display", "virtual");
    else w.member("code", "AMB").member("display", "ambulatory");
    w.end_object();
    w.key("type").begin_array();
    concept_value(w, vk.code, french_ ? vk.label_fr : vk.label_en);
    w.end_array();
    ref_member(w, "subject", "Patient", id_.view(), display_);
    w.key("participant").begin_array();
    participant(w, "PPRF", "primary performer", e, e.physician);
    if (e.nurse) participant(w, "SPRF", "secondary performer", e, kNurse);
    w.end_array();
    period_member(w, e);
    if (reason != nullptr) {
      w.key("reasonCode").begin_array();
      concept_value(w, reason->code, french_ ? reason->label_fr : reason->label_en);
      w.end_array();
    }
    ref_member(w, "serviceProvider", "Organization", practice_.organization.view());
    w.end_object();
    sink_(buf_);
  }

  void participant(JsonWriter& w, std::string_view code, std::string_view display, const Encounter& e, int staff) {
    w.begin_object().key("type").begin_array();
    concept_value(w, {"http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code, display});
    w.end_array();
    period_member(w, e);
    ref_member(w, "individual", "Practitioner", practice_.staff[staff].view(), practice_.display[staff]);
    w.end_object();
  }

  void period_member(JsonWriter& w, const Encounter& e) {
    w.key("period").begin_object();
    datetime_member(w, "start", e.day, e.start);
    datetime_member(w, "end", e.day, e.end);
    w.end_object();
  }

  // ----------------------------------------------------------- observations
  struct Vitals {
    int64_t systolic = 0;   // 0: not measured
    int64_t diastolic = 0;
    int64_t pulse = 0;
    int64_t weight10 = 0;   // kg x10
  };

  int64_t height_mm(int64_t day) const {
    const int64_t age_days = day - birth_;
    const int64_t year = age_days * 100 / 36525;
    if (year >= 18) return adult_height_mm_;
    const int64_t into = age_days - year * 36525 / 100;  // days into the year
    const int64_t pm = kHeightPermille[year] + (kHeightPermille[year + 1] - kHeightPermille[year]) * into / 365;
    return adult_height_mm_ * pm / 1000;
  }

  int64_t bmi10(int64_t day) const {
    const int64_t age_days = day - birth_;
    const int64_t year = age_days * 100 / 36525;
    if (year < 18) return kChildBmi[year] * bmi_base_ / 240;
    const int64_t years_recorded = std::max<int64_t>(0, (day - history_start_) / 365);
    return std::clamp<int64_t>(bmi_base_ + bmi_drift_ * years_recorded, 170, 450);
  }

  void begin_observation(JsonWriter& w, const Encounter& e, bool vital, std::string_view loinc,
                         std::string_view display, std::string_view text) {
    const Id id = make_id(rng_);
    begin_resource(w, "Observation", id);
    w.member("status", "final");
    w.key("category").begin_array();
    if (vital) concept_value(w, {kObsCategory, "vital-signs", "Vital Signs"});
    else concept_value(w, {kObsCategory, "laboratory", "Laboratory"});
    w.end_array();
    concept_member(w, "code", {vocab::kLoinc, loinc, display}, text);
    ref_member(w, "subject", "Patient", id_.view());
    ref_member(w, "encounter", "Encounter", e.id.view());
    // Vital signs at the start of the visit; lab results are those of the
    // sample taken that morning.
    datetime_member(w, "effectiveDateTime", e.day, vital ? e.start + 5 : 7 * 60 + 30);
  }

  void simple_observation(const Encounter& e, bool vital, std::string_view loinc, std::string_view display,
                          std::string_view fr, std::string_view en, int64_t scaled, int places,
                          std::string_view unit, std::string_view ucum) {
    buf_.clear();
    JsonWriter w(buf_);
    begin_observation(w, e, vital, loinc, display, french_ ? fr : en);
    quantity_member(w, "valueQuantity", scaled, places, unit, ucum);
    w.end_object();
    sink_(buf_);
  }

  Vitals emit_vitals(const Encounter& e, int age) {
    Vitals v;
    const int64_t h = height_mm(e.day) + rng_.between(-3, 3);
    v.weight10 = std::max<int64_t>(20, (bmi10(e.day) * h * h + 500'000) / 1'000'000 + rng_.between(-6, 6));
    simple_observation(e, true, "29463-7", "Body weight", "Poids", "Body weight", v.weight10, 1, "kg", "kg");
    if (age < 18 || rng_.percent(30))
      simple_observation(e, true, "8302-2", "Body height", "Taille", "Body height", h, 1, "cm", "cm");
    if (age >= 2 && rng_.percent(60)) {
      const int64_t bmi = (v.weight10 * 1'000'000 + h * h / 2) / (h * h);
      simple_observation(e, true, "39156-5", "Body mass index (BMI) [Ratio]", "Indice de masse corporelle",
                         "Body mass index", bmi, 1, "kg/m2", "kg/m2");
    }
    if (age >= 3) {
      int64_t sys = age < 16 ? 100 : systolic_base_ + std::max(0, age - 40) / 2;
      int64_t dia = age < 16 ? 62 : diastolic_base_ + std::max(0, age - 40) / 5;
      if (hypertensive_at(e.day)) {
        sys += treated(Cond::hypertension) ? 10 : 24;
        dia += treated(Cond::hypertension) ? 5 : 12;
      }
      v.systolic = sys + rng_.around(0, 12);
      v.diastolic = std::min<int64_t>(dia + rng_.around(0, 8), v.systolic - 25);
      buf_.clear();
      JsonWriter w(buf_);
      begin_observation(w, e, true, "85354-9", "Blood pressure panel with all children optional",
                        french_ ? "Pression artérielle" : "Blood pressure");
      w.key("component").begin_array();
      w.begin_object();
      concept_member(w, "code", {vocab::kLoinc, "8480-6", "Systolic blood pressure"});
      quantity_member(w, "valueQuantity", v.systolic, 0, "mmHg", "mm[Hg]");
      w.end_object().begin_object();
      concept_member(w, "code", {vocab::kLoinc, "8462-4", "Diastolic blood pressure"});
      quantity_member(w, "valueQuantity", v.diastolic, 0, "mmHg", "mm[Hg]");
      w.end_object().end_array().end_object();
      sink_(buf_);
    }
    const int64_t base_pulse = age < 1 ? 125 : age < 5 ? 105 : age < 12 ? 88 : pulse_base_;
    v.pulse = base_pulse + rng_.around(0, has(Cond::atrial_fibrillation) ? 25 : 8);
    simple_observation(e, true, "8867-4", "Heart rate", "Fréquence cardiaque", "Heart rate", v.pulse, 0, "/min",
                       "/min");
    return v;
  }

  bool hypertensive_at(int64_t day) const {
    for (const Chronic& ch : chronic_)
      if (ch.cond == Cond::hypertension && ch.onset <= day) return true;
    return false;
  }
  bool treated(Cond c) const {
    for (const Chronic& ch : chronic_)
      if (ch.cond == c) return ch.med != Med::none;
    return false;
  }

  void emit_labs(const Encounter& e, Visit kind) {
    const int64_t day = e.day;
    const bool diabetic = has(Cond::diabetes_type2) && chronic_onset(Cond::diabetes_type2) <= day;
    const bool prediabetic = has(Cond::prediabetes) && chronic_onset(Cond::prediabetes) <= day;
    const bool lipids = has(Cond::hyperlipidemia) && chronic_onset(Cond::hyperlipidemia) <= day;
    const bool routine = kind == Visit::checkup && age_at(day) >= 30 && rng_.percent(40);
    if (diabetic ? rng_.percent(60) : prediabetic ? rng_.percent(30) : routine) {
      const int64_t a1c = diabetic ? rng_.around(treated(Cond::diabetes_type2) ? 70 : 82, 15)
                                   : prediabetic ? rng_.around(60, 3) : rng_.around(52, 5);
      simple_observation(e, false, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood",
                         "Hémoglobine glyquée (HbA1c)", "Haemoglobin A1c", a1c, 1, "%", "%");
    }
    if (diabetic ? rng_.percent(40) : prediabetic ? rng_.percent(30) : routine) {
      const int64_t mg_dl = diabetic ? rng_.around(150, 45) : prediabetic ? rng_.around(110, 8) : rng_.around(90, 14);
      glucose_or_cholesterol(e, "2339-0", "Glucose [Mass/volume] in Blood", "Glycémie", "Blood glucose", mg_dl);
    }
    if (lipids ? rng_.percent(50) : routine) {
      const int64_t mg_dl = cholesterol_base_ + (lipids ? (treated(Cond::hyperlipidemia) ? 15 : 55) : 0) +
                            rng_.around(0, 15);
      glucose_or_cholesterol(e, "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "Cholestérol total",
                             "Total cholesterol", mg_dl);
    }
  }

  // French laboratories report these in g/L with two decimals, UK and US
  // ones here in mg/dL: the same number, scaled.
  void glucose_or_cholesterol(const Encounter& e, std::string_view loinc, std::string_view display,
                              std::string_view fr, std::string_view en, int64_t mg_dl) {
    if (french_) simple_observation(e, false, loinc, display, fr, en, mg_dl, 2, "g/L", "g/L");
    else simple_observation(e, false, loinc, display, fr, en, mg_dl, 0, "mg/dL", "mg/dL");
  }

  int64_t chronic_onset(Cond c) const {
    for (const Chronic& ch : chronic_)
      if (ch.cond == c) return ch.onset;
    return today_;
  }

  // ------------------------------------------------- orders and procedures
  void emit_medication(const Encounter& e, Med m, const Id& reason_id, const vocab::ConditionKind& reason) {
    const vocab::Medication& med = vocab::medication(m);
    const bool current = med.course_days == 0 ? today_ - e.day <= 180 : e.day + med.course_days >= today_;
    const Id id = make_id(rng_);
    buf_.clear();
    JsonWriter w(buf_);
    begin_resource(w, "MedicationRequest", id, reason.sensitive);
    w.member("status", current ? "active" : "completed").member("intent", "order");
    w.key("category").begin_array();
    concept_value(w, {"http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community",
                      "Community"});
    w.end_array();
    concept_member(w, "medicationCodeableConcept", med.code, french_ ? med.label_fr : med.label_en);
    ref_member(w, "subject", "Patient", id_.view());
    ref_member(w, "encounter", "Encounter", e.id.view());
    datetime_member(w, "authoredOn", e.day, e.end - 2);
    ref_member(w, "requester", "Practitioner", practice_.staff[e.physician].view(),
               practice_.display[e.physician]);
    w.key("reasonReference").begin_array();
    ref_value(w, "Condition", reason_id.view(), french_ ? reason.label_fr : reason.label_en);
    w.end_array();
    w.key("dosageInstruction").begin_array().begin_object().member_int("sequence", 1);
    w.member("text", french_ ? med.dosage_fr : med.dosage_en);
    w.key("timing").begin_object().key("repeat").begin_object();
    if (med.course_days > 0)
      quantity_member(w, "boundsDuration", med.course_days, 0, "days", "d");
    w.member_int("frequency", med.per_day).member_int("period", 1).member("periodUnit", "d");
    w.end_object().end_object();
    w.member_bool("asNeededBoolean", med.as_needed);
    w.end_object().end_array();
    w.end_object();
    sink_(buf_);
  }

  void emit_immunization(const Encounter& e, Vaccine v) {
    const vocab::VaccineKind& vk = vocab::vaccine(v);
    const Id id = make_id(rng_);
    buf_.clear();
    JsonWriter w(buf_);
    begin_resource(w, "Immunization", id);
    w.member("status", "completed");
    concept_member(w, "vaccineCode", vk.code, french_ ? vk.label_fr : vk.code.display);
    ref_member(w, "patient", "Patient", id_.view());
    ref_member(w, "encounter", "Encounter", e.id.view());
    datetime_member(w, "occurrenceDateTime", e.day, e.start + 10);
    w.member_bool("primarySource", true);
    std::string lot;
    lot.push_back(static_cast<char>('A' + rng_.below(26)));
    lot.push_back(static_cast<char>('A' + rng_.below(26)));
    append_digits(lot, rng_.between(0, 9999), 4);
    w.member("lotNumber", lot);
    const int by = e.nurse ? kNurse : e.physician;
    w.key("performer").begin_array().begin_object();
    ref_member(w, "actor", "Practitioner", practice_.staff[by].view(), practice_.display[by]);
    w.end_object().end_array();
    w.end_object();
    sink_(buf_);
  }

  // ---------------------------------------------------------------- notes
  void say(std::string_view s) {
    // French sentences agree with the patient's gender.
    if (!note_.empty() && note_.back() != '\n') note_.push_back(' ');
    for (size_t i = 0; i < s.size(); ++i) {
      if (s.compare(i, 3, "{P}") == 0) {
        note_.append(female_ ? "La patiente" : "Le patient");
        i += 2;
      } else if (s.compare(i, 3, "{e}") == 0) {
        if (female_) note_.push_back('e');
        i += 2;
      } else {
        note_.push_back(s[i]);
      }
    }
  }

  // A sentence index other than `not_this` that fits the patient (on
  // treatment or not, adult or child). Each table has several sentences
  // that fit anyone, so this ends quickly.
  size_t pick_sentence(std::span<const vocab::Sentence> sentences, bool on_treatment, bool adult, size_t not_this) {
    for (;;) {
      const size_t k = rng_.below(sentences.size());
      const vocab::Sentence& s = sentences[k];
      if (k != not_this && (on_treatment || !s.needs_treatment) && (adult || !s.adult_only)) return k;
    }
  }

  void emit_note(const Encounter& e, Visit kind, const vocab::ConditionKind* reason, int focus, const Vitals& v,
                 const std::vector<Med>& prescribed, std::span<const Vaccine> vaccines, bool sensitive) {
    const bool fr = french_;
    note_.clear();
    const vocab::VisitKind& vk = vocab::visit(kind);
    note_.append(fr ? vk.label_fr : vk.label_en);
    if (reason != nullptr) {
      note_.append(fr ? " : " : ": ");
      note_.append(fr ? reason->label_fr : reason->label_en);
    }
    note_.append(".\n");

    // Sentences about a treatment only for patients who have one.
    bool on_treatment = !prescribed.empty();
    for (const Chronic& ch : chronic_) on_treatment = on_treatment || ch.med != Med::none;
    const bool adult = age_at(e.day) >= 18;
    auto subjective = vocab::note_subjective();
    const size_t s1 = pick_sentence(subjective, on_treatment, adult, subjective.size());
    say(fr ? subjective[s1].fr : subjective[s1].en);
    if (rng_.percent(50)) {
      const size_t s2 = pick_sentence(subjective, on_treatment, adult, s1);
      say(fr ? subjective[s2].fr : subjective[s2].en);
    }
    note_.push_back('\n');

    if (v.weight10 > 0) {
      if (v.systolic > 0) {
        note_.append(fr ? "Tension artérielle " : "Blood pressure ");
        append_digits(note_, v.systolic, 1);
        note_.push_back('/');
        append_digits(note_, v.diastolic, 1);
        note_.append(" mmHg, ");
        note_.append(fr ? "fréquence cardiaque " : "heart rate ");
      } else {
        note_.append(fr ? "Fréquence cardiaque " : "Heart rate ");
      }
      append_digits(note_, v.pulse, 1);
      note_.append(fr ? "/min, poids " : "/min, weight ");
      JsonWriter::append_decimal(note_, v.weight10, 1, fr ? ',' : '.');
      note_.append(" kg.\n");
    }

    if (reason != nullptr) {
      if (focus >= 0) {
        note_.append(fr ? reason->label_fr : reason->label_en);
        const bool stable = rng_.percent(75);
        if (fr) note_.append(stable ? " : stable." : " : équilibre insuffisant, traitement ajusté.");
        else note_.append(stable ? ": stable." : ": not well controlled, treatment adjusted.");
      } else {
        note_.append(fr ? "Diagnostic : " : "Diagnosis: ");
        note_.append(fr ? reason->label_fr : reason->label_en);
        note_.push_back('.');
      }
      note_.push_back('\n');
    }
    if (!prescribed.empty()) {
      note_.append(fr ? "Prescription : " : "Prescribed: ");
      for (size_t p = 0; p < prescribed.size(); ++p) {
        if (p > 0) note_.append(fr ? " ; " : "; ");
        const vocab::Medication& med = vocab::medication(prescribed[p]);
        note_.append(fr ? med.label_fr : med.label_en);
      }
      note_.append(".\n");
    }
    if (!vaccines.empty()) {
      note_.append(fr ? "Vaccination : " : "Vaccination: ");
      for (size_t n = 0; n < vaccines.size(); ++n) {
        if (n > 0) note_.append(fr ? " ; " : "; ");
        const vocab::VaccineKind& vk2 = vocab::vaccine(vaccines[n]);
        note_.append(fr ? vk2.label_fr : vk2.code.display);
      }
      note_.append(".\n");
    }
    auto plan = vocab::note_plan();
    const vocab::Sentence& p = plan[pick_sentence(plan, on_treatment, adult, plan.size())];
    note_.append(fr ? p.fr : p.en);
    note_.push_back('\n');
    note_.append(practice_.display[e.physician]);
    note_.push_back('\n');

    const Id id = make_id(rng_);
    buf_.clear();
    JsonWriter w(buf_);
    begin_resource(w, "DocumentReference", id, sensitive);
    w.member("status", "current").member("docStatus", "final");
    concept_member(w, "type", {vocab::kLoinc, "11506-3", "Progress note"},
                   fr ? "Compte rendu de consultation" : "Progress note");
    w.key("category").begin_array();
    concept_value(w, {"http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "clinical-note",
                      "Clinical Note"});
    w.end_array();
    ref_member(w, "subject", "Patient", id_.view());
    datetime_member(w, "date", e.day, e.end, 30);
    w.key("author").begin_array();
    ref_value(w, "Practitioner", practice_.staff[e.physician].view(), practice_.display[e.physician]);
    w.end_array();
    ref_member(w, "custodian", "Organization", practice_.organization.view());
    w.key("content").begin_array().begin_object().key("attachment").begin_object();
    w.member("contentType", "text/plain; charset=utf-8").member("language", fr ? "fr" : "en");
    std::string& o = w.key("data").raw_value_begin();
    o.push_back('"');
    const size_t at = o.size();
    const size_t encoded = sodium_base64_ENCODED_LEN(note_.size(), sodium_base64_VARIANT_ORIGINAL);
    o.resize(at + encoded);
    sodium_bin2base64(o.data() + at, encoded, reinterpret_cast<const unsigned char*>(note_.data()), note_.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    o.resize(at + encoded - 1);  // drop the terminating NUL
    o.push_back('"');
    std::string title(fr ? "Consultation du " : "Visit of ");
    append_date(title, e.day);
    w.member("title", title);
    datetime_member(w, "creation", e.day, e.end, 30);
    w.end_object().end_object().end_array();
    w.key("context").begin_object().key("encounter").begin_array();
    ref_value(w, "Encounter", e.id.view());
    w.end_array();
    period_member(w, e);
    w.end_object();
    w.end_object();
    sink_(buf_);
  }

  const Options& opt_;
  const Practice& practice_;
  const uint64_t index_;
  Rng rng_;
  const int64_t today_;
  std::string& buf_;
  const std::function<void(std::string_view)>& sink_;

  // The person.
  Id id_;
  bool french_ = false;
  bool female_ = false;
  Country country_ = Country::fr;
  int64_t birth_ = 0;
  std::string_view given_, given2_, family_, maiden_;
  std::string display_;
  std::string line1_, line2_, postal_, phone_;
  std::string_view city_, state_, country_code_;
  bool mobile_ = false;
  int gp_ = 0;
  int64_t adult_height_mm_ = 0, bmi_base_ = 0, bmi_drift_ = 0;
  int64_t systolic_base_ = 0, diastolic_base_ = 0, pulse_base_ = 0, cholesterol_base_ = 0;

  // The history.
  std::vector<Chronic> chronic_;
  size_t allergy_count_ = 0;
  size_t first_allergy_ = 0;
  int64_t history_start_ = 0;
  std::vector<int64_t> days_;
  int last_flu_season_ = -1;
  int covid_doses_ = 0;
  int64_t last_covid_ = 0;
  int64_t last_td_ = 0;
  bool pneumococcal_ = false, mmr_ = false, varicella_ = false;
  int dtap_doses_ = 0;

  std::vector<size_t> diagnosed_scratch_;
  std::vector<Med> prescribed_scratch_;
  std::string note_;
};

Options clamped(const Options& o) {
  Options c = o;
  c.resources_per_patient = std::clamp(c.resources_per_patient, 1, kMaxResourcesPerPatient);
  c.now_ms = std::clamp(c.now_ms, kMinNowMs, kMaxNowMs);
  return c;
}

}  // namespace

Status validate_options(const Options& options) {
  if (options.resources_per_patient < 1 || options.resources_per_patient > kMaxResourcesPerPatient)
    return make_error(Errc::invalid, "resources per patient must be between 1 and " +
                                         std::to_string(kMaxResourcesPerPatient));
  if (options.now_ms < kMinNowMs || options.now_ms > kMaxNowMs)
    return make_error(Errc::invalid, "reference date must be between 2000-01-01 and 2100-01-01");
  return ok_status();
}

void generate(const Options& options, const std::function<void(std::string_view json)>& sink) {
  const Options opt = clamped(options);
  std::string buf;
  buf.reserve(8192);
  Practice practice;
  Rng practice_rng(Rng::derive(opt.seed, 0));
  emit_practice(practice_rng, practice, buf, sink);
  for (uint64_t i = 0; i < opt.patients; ++i) {
    PatientGenerator(opt, practice, i, buf, sink).run();
  }
}

}  // namespace medvault::demo
