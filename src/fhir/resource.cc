#include "fhir/resource.h"

#include <algorithm>
#include <array>

#include "fhir/text.h"

namespace medvault::fhir {
namespace bj = boost::json;

namespace {

constexpr std::array<std::string_view, 28> kSupported = {
    "AllergyIntolerance", "Appointment",       "CarePlan",         "CareTeam",
    "Claim",              "Condition",         "Consent",          "Coverage",
    "Device",             "DiagnosticReport",  "DocumentReference", "Encounter",
    "ExplanationOfBenefit", "Goal",            "ImagingStudy",     "Immunization",
    "Location",           "Medication",        "MedicationRequest", "Observation",
    "Organization",       "Patient",           "Practitioner",     "PractitionerRole",
    "Procedure",          "Provenance",        "ServiceRequest",   "SupplyDelivery",
};

// Every resource type of FHIR R4 (4.0.1), sorted, with the two abstract
// ones (Resource, DomainResource) that is_known_r4_type() leaves out.
constexpr std::array<std::string_view, 148> kR4Types = {
    "Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment",
    "AppointmentResponse", "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct",
    "BodyStructure", "Bundle", "CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry",
    "ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression",
    "CodeSystem", "Communication", "CommunicationRequest", "CompartmentDefinition", "Composition",
    "ConceptMap", "Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
    "CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric",
    "DeviceRequest", "DeviceUseStatement", "DiagnosticReport", "DocumentManifest",
    "DocumentReference", "DomainResource", "EffectEvidenceSynthesis", "Encounter", "Endpoint",
    "EnrollmentRequest", "EnrollmentResponse", "EpisodeOfCare", "EventDefinition", "Evidence",
    "EvidenceVariable", "ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag",
    "Goal", "GraphDefinition", "Group", "GuidanceResponse", "HealthcareService",
    "ImagingStudy", "Immunization", "ImmunizationEvaluation", "ImmunizationRecommendation",
    "ImplementationGuide", "InsurancePlan", "Invoice", "Library", "Linkage", "List", "Location",
    "Measure", "MeasureReport", "Media", "Medication", "MedicationAdministration",
    "MedicationDispense", "MedicationKnowledge", "MedicationRequest", "MedicationStatement",
    "MedicinalProduct", "MedicinalProductAuthorization", "MedicinalProductContraindication",
    "MedicinalProductIndication", "MedicinalProductIngredient", "MedicinalProductInteraction",
    "MedicinalProductManufactured", "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect", "MessageDefinition", "MessageHeader",
    "MolecularSequence", "NamingSystem", "NutritionOrder", "Observation",
    "ObservationDefinition", "OperationDefinition", "OperationOutcome", "Organization",
    "OrganizationAffiliation", "Parameters", "Patient", "PaymentNotice", "PaymentReconciliation",
    "Person", "PlanDefinition", "Practitioner", "PractitionerRole", "Procedure", "Provenance",
    "Questionnaire", "QuestionnaireResponse", "RelatedPerson", "RequestGroup",
    "ResearchDefinition", "ResearchElementDefinition", "ResearchStudy", "ResearchSubject",
    "Resource", "RiskAssessment", "RiskEvidenceSynthesis", "Schedule", "SearchParameter",
    "ServiceRequest", "Slot", "Specimen", "SpecimenDefinition", "StructureDefinition",
    "StructureMap", "Subscription", "Substance", "SubstanceNucleicAcid", "SubstancePolymer",
    "SubstanceProtein", "SubstanceReferenceInformation", "SubstanceSourceMaterial",
    "SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task",
    "TerminologyCapabilities", "TestReport", "TestScript", "ValueSet", "VerificationResult",
    "VisionPrescription",
};

static_assert(std::is_sorted(kSupported.begin(), kSupported.end()));
static_assert(std::is_sorted(kR4Types.begin(), kR4Types.end()));

const bj::value* member(const bj::object& o, std::string_view key) {
  return o.if_contains(bj::string_view(key.data(), key.size()));
}

std::optional<std::string_view> string_member(const bj::object& o, std::string_view key) {
  const bj::value* v = member(o, key);
  return v ? as_string(*v) : std::nullopt;
}

// The id of a literal "Patient/<id>[/_history/<vid>]" reference.
std::optional<std::string> patient_id(const bj::value* ref) {
  if (!ref || !ref->is_object()) return std::nullopt;
  auto s = string_member(ref->get_object(), "reference");
  if (!s || !s->starts_with("Patient/")) return std::nullopt;
  std::string_view rest = s->substr(8);
  std::string_view id = rest.substr(0, rest.find('/'));
  if (id.size() != rest.size() && !rest.substr(id.size()).starts_with("/_history/")) return std::nullopt;
  if (!is_valid_id(id)) return std::nullopt;
  return std::string(id);
}

// What each clinical type contributes to the token indexes; see
// docs/fhir-search.md for the table and its reasons.
struct TokenMap {
  std::string_view type;
  std::string_view code;      // CodeableConcept element for "code"
  std::string_view status;    // code element, or CodeableConcept when status_cc
  bool status_cc = false;
  std::string_view category;  // CodeableConcept(s), or codes when category_code
  bool category_code = false;
  bool has_subject = false;   // index "subject" beside "patient"
};

constexpr TokenMap kTokenMaps[] = {
    {"AllergyIntolerance", "code", "clinicalStatus", true, "category", true, false},
    {"Appointment", "serviceType", "status", false, "serviceCategory", false, false},
    {"Condition", "code", "clinicalStatus", true, "category", false, true},
    {"DocumentReference", "type", "status", false, "category", false, true},
    {"Encounter", "type", "status", false, "", false, true},
    {"Immunization", "vaccineCode", "status", false, "", false, false},
    {"MedicationRequest", "medicationCodeableConcept", "status", false, "category", false, true},
    {"Observation", "code", "status", false, "category", false, true},
    {"Procedure", "code", "status", false, "category", false, true},
};

// Gathers index entries without duplicates. Name words are kept apart and
// expanded into prefixes at the end: sorted, each word only adds the
// prefixes longer than what it shares with the previous word, so no prefix
// is produced twice and no sort of the (many) prefix entries is needed.
class Collector {
 public:
  void add(std::string_view param, std::string value) {
    if (value.empty()) return;
    out_.push_back(IndexEntry{std::string(param), std::move(value)});
  }
  // "code" and "system|code" for a Coding.
  void coding(std::string_view param, const bj::value& v) {
    if (!v.is_object()) return;
    auto code = string_member(v.get_object(), "code");
    if (!code || code->empty()) return;
    add(param, std::string(*code));
    if (auto sys = string_member(v.get_object(), "system"))
      add(param, std::string(*sys) + "|" + std::string(*code));
  }
  void codeable(std::string_view param, const bj::value& v) {
    if (!v.is_object()) return;
    if (const bj::value* c = member(v.get_object(), "coding"); c && c->is_array())
      for (const auto& e : c->get_array()) coding(param, e);
  }
  // Every element of an 0..* CodeableConcept (or a single one).
  void codeables(std::string_view param, const bj::value* v) {
    if (!v) return;
    if (v->is_array())
      for (const auto& e : v->get_array()) codeable(param, e);
    else
      codeable(param, *v);
  }
  void codes(std::string_view param, const bj::value* v) {
    if (!v) return;
    if (auto s = as_string(*v)) add(param, std::string(*s));
    if (v->is_array())
      for (const auto& e : v->get_array())
        if (auto s = as_string(e)) add(param, std::string(*s));
  }
  // The words of `text` for the prefix parameter `param` (name, family,
  // given). Each word yields up to 32 entries, so the words indexed are
  // capped (kMaxWords per string, kMaxWordsTotal per resource): a hostile
  // name cannot multiply into millions of index rows.
  void words(std::string_view param, std::string_view text) {
    const std::string norm = normalise_text(text);
    size_t n = 0;
    for (auto word : split_words(norm)) {
      if (n++ == kMaxWords || words_.size() == kMaxWordsTotal) break;
      words_.push_back({param, std::string(cap_prefix(word))});
    }
  }
  std::vector<IndexEntry> take() {
    auto less = [](const IndexEntry& a, const IndexEntry& b) {
      return a.param != b.param ? a.param < b.param : a.value < b.value;
    };
    auto same = [](const IndexEntry& a, const IndexEntry& b) { return a.param == b.param && a.value == b.value; };
    if (out_.size() > 1) {
      std::sort(out_.begin(), out_.end(), less);
      out_.erase(std::unique(out_.begin(), out_.end(), same), out_.end());
    }
    std::sort(words_.begin(), words_.end());
    words_.erase(std::unique(words_.begin(), words_.end()), words_.end());
    const Word* prev = nullptr;
    for (const auto& w : words_) {
      size_t shared = 0;
      if (prev && prev->param == w.param)
        while (shared < prev->word.size() && shared < w.word.size() && prev->word[shared] == w.word[shared]) ++shared;
      for (size_t n = shared + 1; n <= w.word.size(); ++n) {
        if (n < w.word.size() && (static_cast<unsigned char>(w.word[n]) & 0xC0) == 0x80) continue;  // mid-character
        out_.push_back(IndexEntry{std::string(w.param), w.word.substr(0, n)});
      }
      prev = &w;
    }
    return std::move(out_);
  }

 private:
  struct Word {
    std::string_view param;  // a string literal
    std::string word;
    bool operator<(const Word& o) const { return param != o.param ? param < o.param : word < o.word; }
    bool operator==(const Word& o) const = default;
  };
  static constexpr size_t kMaxWords = 16;
  static constexpr size_t kMaxWordsTotal = 256;
  std::vector<IndexEntry> out_;
  std::vector<Word> words_;
};

template <typename F>
void for_each_element(const bj::value* v, F&& f) {
  if (!v) return;
  if (v->is_array())
    for (const auto& e : v->get_array()) f(e);
  else
    f(*v);
}

void patient_entries(const bj::object& p, Collector& c) {
  for_each_element(member(p, "name"), [&](const bj::value& n) {
    if (!n.is_object()) return;
    const bj::object& name = n.get_object();
    if (auto fam = string_member(name, "family")) {
      c.words("family", *fam);
      c.words("name", *fam);
    }
    for_each_element(member(name, "given"), [&](const bj::value& g) {
      if (auto s = as_string(g)) {
        c.words("given", *s);
        c.words("name", *s);
      }
    });
    if (auto text = string_member(name, "text")) c.words("name", *text);
  });
  if (auto bd = string_member(p, "birthDate")) {
    if (bd->size() >= 4) c.add("birthdate", "y:" + std::string(bd->substr(0, 4)));
    if (bd->size() >= 7) c.add("birthdate", "m:" + std::string(bd->substr(0, 7)));
    if (bd->size() >= 10) c.add("birthdate", std::string(bd->substr(0, 10)));
  }
  if (auto g = string_member(p, "gender")) c.add("gender", std::string(*g));
  for_each_element(member(p, "identifier"), [&](const bj::value& i) {
    if (!i.is_object()) return;
    auto value = string_member(i.get_object(), "value");
    if (!value || value->empty()) return;
    c.add("identifier", std::string(*value));
    if (auto sys = string_member(i.get_object(), "system"))
      c.add("identifier", std::string(*sys) + "|" + std::string(*value));
  });
  for_each_element(member(p, "telecom"), [&](const bj::value& t) {
    if (!t.is_object()) return;
    auto value = string_member(t.get_object(), "value");
    if (!value) return;
    auto sys = string_member(t.get_object(), "system").value_or("");
    std::string norm = normalise_telecom(sys, *value);
    if (norm.empty()) return;
    if (!sys.empty()) c.add("telecom", std::string(sys) + "|" + norm);
    c.add("telecom", std::move(norm));
  });
  for_each_element(member(p, "address"), [&](const bj::value& a) {
    if (!a.is_object()) return;
    if (auto pc = string_member(a.get_object(), "postalCode")) c.add("address-postalcode", normalise_text(*pc));
    if (auto city = string_member(a.get_object(), "city")) c.add("address-city", normalise_text(*city));
  });
}

}  // namespace

Result<Resource> parse_resource(std::string_view text, const ParseLimits& limits) {
  MV_ASSIGN(bj::value v, parse_json(text, limits));
  if (!v.is_object()) return make_error(Errc::invalid, "a resource must be a JSON object");
  Resource r;
  r.json = std::move(v.get_object());
  const bj::value* type = member(r.json, "resourceType");
  if (!type) return make_error(Errc::invalid, "missing resourceType", "resourceType");
  auto ts = as_string(*type);
  if (!ts || ts->empty()) return make_error(Errc::invalid, "resourceType must be a string", "resourceType");
  r.type = std::string(*ts);
  if (auto id = string_member(r.json, "id")) r.id = std::string(*id);
  return r;
}

std::span<const std::string_view> supported_types() { return kSupported; }

bool is_supported_type(std::string_view type) {
  return std::binary_search(kSupported.begin(), kSupported.end(), type);
}

bool is_known_r4_type(std::string_view type) {
  return type != "Resource" && type != "DomainResource" &&
         std::binary_search(kR4Types.begin(), kR4Types.end(), type);
}

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.';
    if (!ok) return false;
  }
  return true;
}

void set_meta(Resource& r, std::string_view id_in, uint64_t version, std::string_view last_updated) {
  // Copy first: id_in may view r.id itself, which the assignment replaces.
  std::string id_copy(id_in);
  std::string_view id = id_copy;
  r.id = id_copy;
  bj::object meta;
  if (bj::value* m = r.json.if_contains("meta"); m && m->is_object()) meta = std::move(m->get_object());
  meta["versionId"] = std::to_string(version);
  meta["lastUpdated"] = bj::string_view(last_updated.data(), last_updated.size());
  // Rebuild so that resourceType, id and meta lead, as FHIR servers write them.
  bj::object out(r.json.storage());
  out.reserve(r.json.size() + 2);
  if (bj::value* t = r.json.if_contains("resourceType")) out.emplace("resourceType", std::move(*t));
  out.emplace("id", bj::string_view(id.data(), id.size()));
  out.emplace("meta", std::move(meta));
  for (auto& kv : r.json) {
    if (kv.key() == "resourceType" || kv.key() == "id" || kv.key() == "meta") continue;
    out.emplace(kv.key(), std::move(kv.value()));
  }
  r.json = std::move(out);
}

std::optional<std::string> patient_of(const Resource& r) {
  if (r.type == "Patient") {
    if (r.id.empty()) return std::nullopt;
    return r.id;
  }
  for (std::string_view key : {"subject", "patient", "beneficiary"})
    if (auto id = patient_id(member(r.json, key))) return id;
  if (r.type == "Appointment") {
    // The R4 Patient compartment holds an Appointment through participant.actor.
    if (const bj::value* ps = member(r.json, "participant"); ps && ps->is_array())
      for (const auto& p : ps->get_array())
        if (p.is_object())
          if (auto id = patient_id(member(p.get_object(), "actor"))) return id;
  }
  return std::nullopt;
}

std::vector<IndexEntry> index_entries(const Resource& r) {
  Collector c;
  if (r.type == "Patient") {
    patient_entries(r.json, c);
    return c.take();
  }
  auto patient = patient_of(r);
  const TokenMap* map = nullptr;
  for (const auto& m : kTokenMaps)
    if (m.type == r.type) map = &m;
  if (patient) c.add("patient", *patient);
  if (!map) return c.take();
  if (patient && map->has_subject && patient_id(member(r.json, "subject"))) c.add("subject", *patient);
  c.codeables("code", member(r.json, map->code));
  if (map->status_cc)
    c.codeables("status", member(r.json, map->status));
  else
    c.codes("status", member(r.json, map->status));
  if (!map->category.empty()) {
    if (map->category_code)
      c.codes("category", member(r.json, map->category));
    else
      c.codeables("category", member(r.json, map->category));
  }
  if (r.type == "Encounter")
    if (const bj::value* cls = member(r.json, "class")) c.coding("class", *cls);
  return c.take();
}

}  // namespace medvault::fhir
