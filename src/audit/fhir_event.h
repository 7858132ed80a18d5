// Audit entries as FHIR R4 AuditEvent resources (the `medvault audit export`
// NDJSON): type/subtype from the action (DICOM and FHIR RESTful-interaction
// codes where one exists, else the medvault action code), action C/R/U/D/E,
// recorded, outcome, the requesting agent (who, role, network address,
// workstation as altId), the source (this vault), the entities (patient and
// resource references by logical id only) and purposeOfEvent. Mapping
// written down in docs/formats/audit.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "audit/entry.h"

namespace medvault::audit {

// One AuditEvent as compact JSON (no newline). `origin` is the log's origin
// (the audit source); `detail` is the entry's decrypted detail, included as
// an entity detail when not empty. The resource id is "audit-<seq>".
std::string to_audit_event(uint64_t seq, const Entry& e, std::string_view origin,
                           std::string_view detail);

}  // namespace medvault::audit
