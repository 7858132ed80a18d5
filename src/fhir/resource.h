// A FHIR R4 resource in memory, its structural validation and the values it
// contributes to search indexes.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "fhir/json.h"

namespace medvault::fhir {

struct Resource {
  std::string type;       // resourceType
  std::string id;         // logical id; empty when the client gave none
  boost::json::object json;
};

// Parses a resource: a JSON object with a string resourceType. Does not
// validate beyond that (see validate()).
Result<Resource> parse_resource(std::string_view text, const ParseLimits& limits = {});

// The resource types medvault stores (supported_types) and whether `type` is a
// FHIR R4 resource type name at all (so "unknown resourceType" and "not
// supported here" get different messages).
std::span<const std::string_view> supported_types();
bool is_supported_type(std::string_view type);
bool is_known_r4_type(std::string_view type);

// FHIR id: [A-Za-z0-9\-\.]{1,64}.
bool is_valid_id(std::string_view id);

// Structural validation of a supported resource: required elements, data
// types of the known elements (string, code, id, uri, boolean, integer,
// decimal, date, dateTime, instant, Reference, CodeableConcept, Coding,
// Identifier, HumanName, ContactPoint, Address, Period, Quantity...), reference
// format (Type/id, absolute URL, urn:uuid:, #contained, conditional
// Type?query), id format. Errc::unprocessable with the failing path in
// Error::path, e.g. "Patient.birthDate".
Status validate(const Resource& r);

// Sets id, meta.versionId and meta.lastUpdated (keeps the rest of meta).
void set_meta(Resource& r, std::string_view id, uint64_t version, std::string_view last_updated);

// The id of the patient whose compartment the resource belongs to: the
// Patient itself, or the Patient referenced by subject/patient/beneficiary
// (first one that is a literal "Patient/<id>" reference; for an Appointment,
// the first participant.actor that is); nullopt for shared resources
// (Organization, Practitioner, Location, ...) and for references that are
// not literal (urn:uuid:, absolute URLs, conditional).
std::optional<std::string> patient_of(const Resource& r);

// One value a resource contributes to the search index of one parameter,
// already normalised (see normalise_*). The vault turns each into a keyed
// blind-index token; the value itself is never stored. index_entries()
// returns each (param, value) once, in no particular order; the parameters
// and values per type are listed in docs/fhir-search.md.
struct IndexEntry {
  std::string param;
  std::string value;
};
std::vector<IndexEntry> index_entries(const Resource& r);

// Normalisation shared by indexing and querying: lower case, accents and
// punctuation removed (NFKD-like folding of Latin letters), whitespace
// collapsed.
std::string normalise_text(std::string_view s);

}  // namespace medvault::fhir
