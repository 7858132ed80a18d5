// Structural validation of FHIR R4 resources against element tables.
//
// The tables below are a compact transcription of the R4 (4.0.1) resource
// and datatype definitions: for each type, its elements with their datatype
// and cardinality. Syntax of one element:
//
//   name[!]:Type[*]            "!" required (min 1), "*" repeating (max *)
//   name[x][!]:T1|T2|...[*]    a choice element, one of valueT1, valueT2...
//
// A Type is a primitive (lower case), a datatype or backbone element defined
// in the tables ("Encounter.participant"), "Resource" (contained resources),
// or one of kOpaque (checked to be an object only). Every datatype also
// allows id and extension; backbone elements also modifierExtension;
// resources the DomainResource elements.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <cctype>
#include <string>
#include <unordered_map>

#include "fhir/datetime.h"
#include "fhir/resource.h"
#include "fhir/schema.h"

namespace medvault::fhir {
namespace bj = boost::json;

namespace {

#define OPEN_TYPES                                                                                 \
  "base64Binary|boolean|canonical|code|date|dateTime|decimal|id|instant|integer|markdown|oid|"      \
  "positiveInt|string|time|unsignedInt|uri|url|uuid|Address|Age|Annotation|Attachment|"             \
  "CodeableConcept|Coding|ContactPoint|Count|Distance|Duration|HumanName|Identifier|Money|Period|"  \
  "Quantity|Range|Ratio|Reference|SampledData|Signature|Timing|ContactDetail|Contributor|"          \
  "DataRequirement|Expression|ParameterDefinition|RelatedArtifact|TriggerDefinition|UsageContext|" \
  "Dosage|Meta"

#define QUANTITY "value:decimal comparator:code unit:string system:uri code:code"
#define OBS_VALUE "value[x]:Quantity|CodeableConcept|string|boolean|integer|Range|Ratio|SampledData|time|dateTime|Period"

struct Def {
  const char* name;
  const char* elements;
};

// Datatypes (R4 section 2.24) and the elements of the few that FHIR
// defines as backbone structures.
constexpr Def kDatatypes[] = {
    {"Element", ""},
    {"Extension", "url!:uri value[x]:" OPEN_TYPES},
    {"Coding", "system:uri version:string code:code display:string userSelected:boolean"},
    {"CodeableConcept", "coding:Coding* text:string"},
    {"Identifier", "use:code type:CodeableConcept system:uri value:string period:Period assigner:Reference"},
    {"HumanName", "use:code text:string family:string given:string* prefix:string* suffix:string* period:Period"},
    {"ContactPoint", "system:code value:string use:code rank:positiveInt period:Period"},
    {"Address",
     "use:code type:code text:string line:string* city:string district:string state:string postalCode:string "
     "country:string period:Period"},
    {"Period", "start:dateTime end:dateTime"},
    {"Quantity", QUANTITY},
    {"Age", QUANTITY},
    {"Count", QUANTITY},
    {"Distance", QUANTITY},
    {"Duration", QUANTITY},
    {"Money", "value:decimal currency:code"},
    {"Range", "low:Quantity high:Quantity"},
    {"Ratio", "numerator:Quantity denominator:Quantity"},
    {"Attachment",
     "contentType:code language:code data:base64Binary url:url size:unsignedInt hash:base64Binary title:string "
     "creation:dateTime"},
    {"Annotation", "author[x]:Reference|string time:dateTime text!:markdown"},
    {"Meta", "versionId:id lastUpdated:instant source:uri profile:canonical* security:Coding* tag:Coding*"},
    {"Narrative", "status!:code div!:xhtml"},
    {"Reference", "reference:string type:uri identifier:Identifier display:string"},
    {"Signature",
     "type!:Coding* when!:instant who!:Reference onBehalfOf:Reference targetFormat:code sigFormat:code "
     "data:base64Binary"},
    {"SampledData",
     "origin!:Quantity period!:decimal factor:decimal lowerLimit:decimal upperLimit:decimal "
     "dimensions!:positiveInt data:string"},
    {"ContactDetail", "name:string telecom:ContactPoint*"},
    {"Timing", "event:dateTime* repeat:Timing.repeat code:CodeableConcept"},
    {"Timing.repeat",
     "bounds[x]:Duration|Range|Period count:positiveInt countMax:positiveInt duration:decimal "
     "durationMax:decimal durationUnit:code frequency:positiveInt frequencyMax:positiveInt period:decimal "
     "periodMax:decimal periodUnit:code dayOfWeek:code* timeOfDay:time* when:code* offset:unsignedInt"},
    {"Dosage",
     "sequence:integer text:string additionalInstruction:CodeableConcept* patientInstruction:string "
     "timing:Timing asNeeded[x]:boolean|CodeableConcept site:CodeableConcept route:CodeableConcept "
     "method:CodeableConcept doseAndRate:Dosage.doseAndRate* maxDosePerPeriod:Ratio "
     "maxDosePerAdministration:Quantity maxDosePerLifetime:Quantity"},
    {"Dosage.doseAndRate", "type:CodeableConcept dose[x]:Range|Quantity rate[x]:Ratio|Range|Quantity"},
};

constexpr Def kResources[] = {
    {"Patient",
     "identifier:Identifier* active:boolean name:HumanName* telecom:ContactPoint* gender:code birthDate:date "
     "deceased[x]:boolean|dateTime address:Address* maritalStatus:CodeableConcept "
     "multipleBirth[x]:boolean|integer photo:Attachment* contact:Patient.contact* "
     "communication:Patient.communication* generalPractitioner:Reference* managingOrganization:Reference "
     "link:Patient.link*"},
    {"Patient.contact",
     "relationship:CodeableConcept* name:HumanName telecom:ContactPoint* address:Address gender:code "
     "organization:Reference period:Period"},
    {"Patient.communication", "language!:CodeableConcept preferred:boolean"},
    {"Patient.link", "other!:Reference type!:code"},

    {"Practitioner",
     "identifier:Identifier* active:boolean name:HumanName* telecom:ContactPoint* address:Address* gender:code "
     "birthDate:date photo:Attachment* qualification:Practitioner.qualification* communication:CodeableConcept*"},
    {"Practitioner.qualification", "identifier:Identifier* code!:CodeableConcept period:Period issuer:Reference"},

    {"PractitionerRole",
     "identifier:Identifier* active:boolean period:Period practitioner:Reference organization:Reference "
     "code:CodeableConcept* specialty:CodeableConcept* location:Reference* healthcareService:Reference* "
     "telecom:ContactPoint* availableTime:PractitionerRole.availableTime* "
     "notAvailable:PractitionerRole.notAvailable* availabilityExceptions:string endpoint:Reference*"},
    {"PractitionerRole.availableTime",
     "daysOfWeek:code* allDay:boolean availableStartTime:time availableEndTime:time"},
    {"PractitionerRole.notAvailable", "description!:string during:Period"},

    {"Organization",
     "identifier:Identifier* active:boolean type:CodeableConcept* name:string alias:string* "
     "telecom:ContactPoint* address:Address* partOf:Reference contact:Organization.contact* "
     "endpoint:Reference*"},
    {"Organization.contact", "purpose:CodeableConcept name:HumanName telecom:ContactPoint* address:Address"},

    {"Location",
     "identifier:Identifier* status:code operationalStatus:Coding name:string alias:string* description:string "
     "mode:code type:CodeableConcept* telecom:ContactPoint* address:Address physicalType:CodeableConcept "
     "position:Location.position managingOrganization:Reference partOf:Reference "
     "hoursOfOperation:Location.hoursOfOperation* availabilityExceptions:string endpoint:Reference*"},
    {"Location.position", "longitude!:decimal latitude!:decimal altitude:decimal"},
    {"Location.hoursOfOperation", "daysOfWeek:code* allDay:boolean openingTime:time closingTime:time"},

    {"Encounter",
     "identifier:Identifier* status!:code statusHistory:Encounter.statusHistory* class!:Coding "
     "classHistory:Encounter.classHistory* type:CodeableConcept* serviceType:CodeableConcept "
     "priority:CodeableConcept subject:Reference episodeOfCare:Reference* basedOn:Reference* "
     "participant:Encounter.participant* appointment:Reference* period:Period length:Duration "
     "reasonCode:CodeableConcept* reasonReference:Reference* diagnosis:Encounter.diagnosis* "
     "account:Reference* hospitalization:Encounter.hospitalization location:Encounter.location* "
     "serviceProvider:Reference partOf:Reference"},
    {"Encounter.statusHistory", "status!:code period!:Period"},
    {"Encounter.classHistory", "class!:Coding period!:Period"},
    {"Encounter.participant", "type:CodeableConcept* period:Period individual:Reference"},
    {"Encounter.diagnosis", "condition!:Reference use:CodeableConcept rank:positiveInt"},
    {"Encounter.hospitalization",
     "preAdmissionIdentifier:Identifier origin:Reference admitSource:CodeableConcept "
     "reAdmission:CodeableConcept dietPreference:CodeableConcept* specialCourtesy:CodeableConcept* "
     "specialArrangement:CodeableConcept* destination:Reference dischargeDisposition:CodeableConcept"},
    {"Encounter.location", "location!:Reference status:code physicalType:CodeableConcept period:Period"},

    {"Condition",
     "identifier:Identifier* clinicalStatus:CodeableConcept verificationStatus:CodeableConcept "
     "category:CodeableConcept* severity:CodeableConcept code:CodeableConcept bodySite:CodeableConcept* "
     "subject!:Reference encounter:Reference onset[x]:dateTime|Age|Period|Range|string "
     "abatement[x]:dateTime|Age|Period|Range|string recordedDate:dateTime recorder:Reference "
     "asserter:Reference stage:Condition.stage* evidence:Condition.evidence* note:Annotation*"},
    {"Condition.stage", "summary:CodeableConcept assessment:Reference* type:CodeableConcept"},
    {"Condition.evidence", "code:CodeableConcept* detail:Reference*"},

    {"Observation",
     "identifier:Identifier* basedOn:Reference* partOf:Reference* status!:code category:CodeableConcept* "
     "code!:CodeableConcept subject:Reference focus:Reference* encounter:Reference "
     "effective[x]:dateTime|Period|Timing|instant issued:instant performer:Reference* " OBS_VALUE " "
     "dataAbsentReason:CodeableConcept interpretation:CodeableConcept* note:Annotation* "
     "bodySite:CodeableConcept method:CodeableConcept specimen:Reference device:Reference "
     "referenceRange:Observation.referenceRange* hasMember:Reference* derivedFrom:Reference* "
     "component:Observation.component*"},
    {"Observation.referenceRange",
     "low:Quantity high:Quantity type:CodeableConcept appliesTo:CodeableConcept* age:Range text:string"},
    {"Observation.component",
     "code!:CodeableConcept " OBS_VALUE " dataAbsentReason:CodeableConcept interpretation:CodeableConcept* "
     "referenceRange:Observation.referenceRange*"},

    {"MedicationRequest",
     "identifier:Identifier* status!:code statusReason:CodeableConcept intent!:code category:CodeableConcept* "
     "priority:code doNotPerform:boolean reported[x]:boolean|Reference "
     "medication[x]!:CodeableConcept|Reference subject!:Reference encounter:Reference "
     "supportingInformation:Reference* authoredOn:dateTime requester:Reference performer:Reference "
     "performerType:CodeableConcept recorder:Reference reasonCode:CodeableConcept* reasonReference:Reference* "
     "instantiatesCanonical:canonical* instantiatesUri:uri* basedOn:Reference* groupIdentifier:Identifier "
     "courseOfTherapyType:CodeableConcept insurance:Reference* note:Annotation* dosageInstruction:Dosage* "
     "dispenseRequest:MedicationRequest.dispenseRequest substitution:MedicationRequest.substitution "
     "priorPrescription:Reference detectedIssue:Reference* eventHistory:Reference*"},
    {"MedicationRequest.dispenseRequest",
     "initialFill:MedicationRequest.dispenseRequest.initialFill dispenseInterval:Duration "
     "validityPeriod:Period numberOfRepeatsAllowed:unsignedInt quantity:Quantity "
     "expectedSupplyDuration:Duration performer:Reference"},
    {"MedicationRequest.dispenseRequest.initialFill", "quantity:Quantity duration:Duration"},
    {"MedicationRequest.substitution", "allowed[x]!:boolean|CodeableConcept reason:CodeableConcept"},

    {"AllergyIntolerance",
     "identifier:Identifier* clinicalStatus:CodeableConcept verificationStatus:CodeableConcept type:code "
     "category:code* criticality:code code:CodeableConcept patient!:Reference encounter:Reference "
     "onset[x]:dateTime|Age|Period|Range|string recordedDate:dateTime recorder:Reference asserter:Reference "
     "lastOccurrence:dateTime note:Annotation* reaction:AllergyIntolerance.reaction*"},
    {"AllergyIntolerance.reaction",
     "substance:CodeableConcept manifestation!:CodeableConcept* description:string onset:dateTime "
     "severity:code exposureRoute:CodeableConcept note:Annotation*"},

    {"Immunization",
     "identifier:Identifier* status!:code statusReason:CodeableConcept vaccineCode!:CodeableConcept "
     "patient!:Reference encounter:Reference occurrence[x]!:dateTime|string recorded:dateTime "
     "primarySource:boolean reportOrigin:CodeableConcept location:Reference manufacturer:Reference "
     "lotNumber:string expirationDate:date site:CodeableConcept route:CodeableConcept doseQuantity:Quantity "
     "performer:Immunization.performer* note:Annotation* reasonCode:CodeableConcept* "
     "reasonReference:Reference* isSubpotent:boolean subpotentReason:CodeableConcept* "
     "education:Immunization.education* programEligibility:CodeableConcept* fundingSource:CodeableConcept "
     "reaction:Immunization.reaction* protocolApplied:Immunization.protocolApplied*"},
    {"Immunization.performer", "function:CodeableConcept actor!:Reference"},
    {"Immunization.education",
     "documentType:string reference:uri publicationDate:dateTime presentationDate:dateTime"},
    {"Immunization.reaction", "date:dateTime detail:Reference reported:boolean"},
    {"Immunization.protocolApplied",
     "series:string authority:Reference targetDisease:CodeableConcept* doseNumber[x]!:positiveInt|string "
     "seriesDoses[x]:positiveInt|string"},

    {"Procedure",
     "identifier:Identifier* instantiatesCanonical:canonical* instantiatesUri:uri* basedOn:Reference* "
     "partOf:Reference* status!:code statusReason:CodeableConcept category:CodeableConcept "
     "code:CodeableConcept subject!:Reference encounter:Reference performed[x]:dateTime|Period|string|Age|Range "
     "recorder:Reference asserter:Reference performer:Procedure.performer* location:Reference "
     "reasonCode:CodeableConcept* reasonReference:Reference* bodySite:CodeableConcept* "
     "outcome:CodeableConcept report:Reference* complication:CodeableConcept* complicationDetail:Reference* "
     "followUp:CodeableConcept* note:Annotation* focalDevice:Procedure.focalDevice* "
     "usedReference:Reference* usedCode:CodeableConcept*"},
    {"Procedure.performer", "function:CodeableConcept actor!:Reference onBehalfOf:Reference"},
    {"Procedure.focalDevice", "action:CodeableConcept manipulated!:Reference"},

    {"DocumentReference",
     "masterIdentifier:Identifier identifier:Identifier* status!:code docStatus:code type:CodeableConcept "
     "category:CodeableConcept* subject:Reference date:instant author:Reference* authenticator:Reference "
     "custodian:Reference relatesTo:DocumentReference.relatesTo* description:string "
     "securityLabel:CodeableConcept* content!:DocumentReference.content* context:DocumentReference.context"},
    {"DocumentReference.relatesTo", "code!:code target!:Reference"},
    {"DocumentReference.content", "attachment!:Attachment format:Coding"},
    {"DocumentReference.context",
     "encounter:Reference* event:CodeableConcept* period:Period facilityType:CodeableConcept "
     "practiceSetting:CodeableConcept sourcePatientInfo:Reference related:Reference*"},

    {"Appointment",
     "identifier:Identifier* status!:code cancelationReason:CodeableConcept serviceCategory:CodeableConcept* "
     "serviceType:CodeableConcept* specialty:CodeableConcept* appointmentType:CodeableConcept "
     "reasonCode:CodeableConcept* reasonReference:Reference* priority:unsignedInt description:string "
     "supportingInformation:Reference* start:instant end:instant minutesDuration:positiveInt slot:Reference* "
     "created:dateTime comment:string patientInstruction:string basedOn:Reference* "
     "participant!:Appointment.participant* requestedPeriod:Period*"},
    {"Appointment.participant",
     "type:CodeableConcept* actor:Reference required:code status!:code period:Period"},

    {"Device",
     "identifier:Identifier* definition:Reference udiCarrier:Device.udiCarrier* status:code "
     "statusReason:CodeableConcept* distinctIdentifier:string manufacturer:string manufactureDate:dateTime "
     "expirationDate:dateTime lotNumber:string serialNumber:string deviceName:Device.deviceName* "
     "modelNumber:string partNumber:string type:CodeableConcept specialization:Device.specialization* "
     "version:Device.version* property:Device.property* patient:Reference owner:Reference "
     "contact:ContactPoint* location:Reference url:uri note:Annotation* safety:CodeableConcept* "
     "parent:Reference"},
    {"Device.udiCarrier",
     "deviceIdentifier:string issuer:uri jurisdiction:uri carrierAIDC:base64Binary carrierHRF:string "
     "entryType:code"},
    {"Device.deviceName", "name!:string type!:code"},
    {"Device.specialization", "systemType!:CodeableConcept version:string"},
    {"Device.version", "type:CodeableConcept component:Identifier value!:string"},
    {"Device.property", "type!:CodeableConcept valueQuantity:Quantity* valueCode:CodeableConcept*"},

    {"Consent",
     "identifier:Identifier* status!:code scope!:CodeableConcept category!:CodeableConcept* patient:Reference "
     "dateTime:dateTime performer:Reference* organization:Reference* source[x]:Attachment|Reference "
     "policy:Consent.policy* policyRule:CodeableConcept verification:Consent.verification* "
     "provision:Consent.provision"},
    {"Consent.policy", "authority:uri uri:uri"},
    {"Consent.verification", "verified!:boolean verifiedWith:Reference verificationDate:dateTime"},
    {"Consent.provision",
     "type:code period:Period actor:Consent.provision.actor* action:CodeableConcept* securityLabel:Coding* "
     "purpose:Coding* class:Coding* code:CodeableConcept* dataPeriod:Period data:Consent.provision.data* "
     "provision:Consent.provision*"},
    {"Consent.provision.actor", "role!:CodeableConcept reference!:Reference"},
    {"Consent.provision.data", "meaning!:code reference!:Reference"},

    {"Provenance",
     "target!:Reference* occurred[x]:Period|dateTime recorded!:instant policy:uri* location:Reference "
     "reason:CodeableConcept* activity:CodeableConcept agent!:Provenance.agent* entity:Provenance.entity* "
     "signature:Signature*"},
    {"Provenance.agent", "type:CodeableConcept role:CodeableConcept* who!:Reference onBehalfOf:Reference"},
    {"Provenance.entity", "role!:code what!:Reference agent:Provenance.agent*"},

    {"CarePlan",
     "identifier:Identifier* instantiatesCanonical:canonical* instantiatesUri:uri* basedOn:Reference* "
     "replaces:Reference* partOf:Reference* status!:code intent!:code category:CodeableConcept* title:string "
     "description:string subject!:Reference encounter:Reference period:Period created:dateTime "
     "author:Reference contributor:Reference* careTeam:Reference* addresses:Reference* "
     "supportingInfo:Reference* goal:Reference* activity:CarePlan.activity* note:Annotation*"},
    {"CarePlan.activity",
     "outcomeCodeableConcept:CodeableConcept* outcomeReference:Reference* progress:Annotation* "
     "reference:Reference detail:CarePlan.activity.detail"},
    {"CarePlan.activity.detail",
     "kind:code instantiatesCanonical:canonical* instantiatesUri:uri* code:CodeableConcept "
     "reasonCode:CodeableConcept* reasonReference:Reference* goal:Reference* status!:code "
     "statusReason:CodeableConcept doNotPerform:boolean scheduled[x]:Timing|Period|string location:Reference "
     "performer:Reference* product[x]:CodeableConcept|Reference dailyAmount:Quantity quantity:Quantity "
     "description:string"},

    {"CareTeam",
     "identifier:Identifier* status:code category:CodeableConcept* name:string subject:Reference "
     "encounter:Reference period:Period participant:CareTeam.participant* reasonCode:CodeableConcept* "
     "reasonReference:Reference* managingOrganization:Reference* telecom:ContactPoint* note:Annotation*"},
    {"CareTeam.participant", "role:CodeableConcept* member:Reference onBehalfOf:Reference period:Period"},

    {"DiagnosticReport",
     "identifier:Identifier* basedOn:Reference* status!:code category:CodeableConcept* code!:CodeableConcept "
     "subject:Reference encounter:Reference effective[x]:dateTime|Period issued:instant performer:Reference* "
     "resultsInterpreter:Reference* specimen:Reference* result:Reference* imagingStudy:Reference* "
     "media:DiagnosticReport.media* conclusion:string conclusionCode:CodeableConcept* "
     "presentedForm:Attachment*"},
    {"DiagnosticReport.media", "comment:string link!:Reference"},

    {"Medication",
     "identifier:Identifier* code:CodeableConcept status:code manufacturer:Reference form:CodeableConcept "
     "amount:Ratio ingredient:Medication.ingredient* batch:Medication.batch"},
    {"Medication.ingredient", "item[x]!:CodeableConcept|Reference isActive:boolean strength:Ratio"},
    {"Medication.batch", "lotNumber:string expirationDate:dateTime"},

    {"ServiceRequest",
     "identifier:Identifier* instantiatesCanonical:canonical* instantiatesUri:uri* basedOn:Reference* "
     "replaces:Reference* requisition:Identifier status!:code intent!:code category:CodeableConcept* "
     "priority:code doNotPerform:boolean code:CodeableConcept orderDetail:CodeableConcept* "
     "quantity[x]:Quantity|Ratio|Range subject!:Reference encounter:Reference "
     "occurrence[x]:dateTime|Period|Timing asNeeded[x]:boolean|CodeableConcept authoredOn:dateTime "
     "requester:Reference performerType:CodeableConcept performer:Reference* locationCode:CodeableConcept* "
     "locationReference:Reference* reasonCode:CodeableConcept* reasonReference:Reference* insurance:Reference* "
     "supportingInfo:Reference* specimen:Reference* bodySite:CodeableConcept* note:Annotation* "
     "patientInstruction:string relevantHistory:Reference*"},

    {"Coverage",
     "identifier:Identifier* status!:code type:CodeableConcept policyHolder:Reference subscriber:Reference "
     "subscriberId:string beneficiary!:Reference dependent:string relationship:CodeableConcept period:Period "
     "payor!:Reference* class:Coverage.class* order:positiveInt network:string "
     "costToBeneficiary:Coverage.costToBeneficiary* subrogation:boolean contract:Reference*"},
    {"Coverage.class", "type!:CodeableConcept value!:string name:string"},
    {"Coverage.costToBeneficiary",
     "type:CodeableConcept value[x]!:Quantity|Money exception:Coverage.costToBeneficiary.exception*"},
    {"Coverage.costToBeneficiary.exception", "type!:CodeableConcept period:Period"},

    {"Claim",
     "identifier:Identifier* status!:code type!:CodeableConcept subType:CodeableConcept use!:code "
     "patient!:Reference billablePeriod:Period created!:dateTime enterer:Reference insurer:Reference "
     "provider!:Reference priority!:CodeableConcept fundsReserve:CodeableConcept related:Claim.related* "
     "prescription:Reference originalPrescription:Reference payee:Claim.payee referral:Reference "
     "facility:Reference careTeam:Claim.careTeam* supportingInfo:Claim.supportingInfo* "
     "diagnosis:Claim.diagnosis* procedure:Claim.procedure* insurance!:Claim.insurance* "
     "accident:Claim.accident item:Claim.item* total:Money"},
    {"Claim.related", "claim:Reference relationship:CodeableConcept reference:Identifier"},
    {"Claim.payee", "type!:CodeableConcept party:Reference"},
    {"Claim.careTeam",
     "sequence!:positiveInt provider!:Reference responsible:boolean role:CodeableConcept "
     "qualification:CodeableConcept"},
    {"Claim.supportingInfo",
     "sequence!:positiveInt category!:CodeableConcept code:CodeableConcept timing[x]:date|Period "
     "value[x]:boolean|string|Quantity|Attachment|Reference reason:CodeableConcept"},
    {"Claim.diagnosis",
     "sequence!:positiveInt diagnosis[x]!:CodeableConcept|Reference type:CodeableConcept* "
     "onAdmission:CodeableConcept packageCode:CodeableConcept"},
    {"Claim.procedure",
     "sequence!:positiveInt type:CodeableConcept* date:dateTime procedure[x]!:CodeableConcept|Reference "
     "udi:Reference*"},
    {"Claim.insurance",
     "sequence!:positiveInt focal!:boolean identifier:Identifier coverage!:Reference "
     "businessArrangement:string preAuthRef:string* claimResponse:Reference"},
    {"Claim.accident", "date!:date type:CodeableConcept location[x]:Address|Reference"},
    {"Claim.item",
     "sequence!:positiveInt careTeamSequence:positiveInt* diagnosisSequence:positiveInt* "
     "procedureSequence:positiveInt* informationSequence:positiveInt* revenue:CodeableConcept "
     "category:CodeableConcept productOrService!:CodeableConcept modifier:CodeableConcept* "
     "programCode:CodeableConcept* serviced[x]:date|Period location[x]:CodeableConcept|Address|Reference "
     "quantity:Quantity unitPrice:Money factor:decimal net:Money udi:Reference* bodySite:CodeableConcept "
     "subSite:CodeableConcept* encounter:Reference* detail:BackboneElement*"},

    // The deeper ExplanationOfBenefit structures (item, adjudication,
    // total, payment...) are checked as objects only.
    {"ExplanationOfBenefit",
     "identifier:Identifier* status!:code type!:CodeableConcept subType:CodeableConcept use!:code "
     "patient!:Reference billablePeriod:Period created!:dateTime enterer:Reference insurer!:Reference "
     "provider!:Reference priority:CodeableConcept fundsReserveRequested:CodeableConcept "
     "fundsReserve:CodeableConcept related:Claim.related* prescription:Reference "
     "originalPrescription:Reference payee:Claim.payee referral:Reference facility:Reference claim:Reference "
     "claimResponse:Reference outcome!:code disposition:string preAuthRef:string* preAuthRefPeriod:Period* "
     "careTeam:Claim.careTeam* supportingInfo:BackboneElement* diagnosis:Claim.diagnosis* "
     "procedure:Claim.procedure* precedence:positiveInt insurance!:ExplanationOfBenefit.insurance* "
     "accident:Claim.accident item:BackboneElement* addItem:BackboneElement* adjudication:BackboneElement* "
     "total:BackboneElement* payment:BackboneElement formCode:CodeableConcept form:Attachment "
     "processNote:BackboneElement* benefitPeriod:Period benefitBalance:BackboneElement*"},
    {"ExplanationOfBenefit.insurance", "focal!:boolean coverage!:Reference preAuthRef:string*"},

    {"ImagingStudy",
     "identifier:Identifier* status!:code modality:Coding* subject!:Reference encounter:Reference "
     "started:dateTime basedOn:Reference* referrer:Reference interpreter:Reference* endpoint:Reference* "
     "numberOfSeries:unsignedInt numberOfInstances:unsignedInt procedureReference:Reference "
     "procedureCode:CodeableConcept* location:Reference reasonCode:CodeableConcept* reasonReference:Reference* "
     "note:Annotation* description:string series:ImagingStudy.series*"},
    {"ImagingStudy.series",
     "uid!:id number:unsignedInt modality!:Coding description:string numberOfInstances:unsignedInt "
     "endpoint:Reference* bodySite:Coding laterality:Coding specimen:Reference* started:dateTime "
     "performer:BackboneElement* instance:ImagingStudy.series.instance*"},
    {"ImagingStudy.series.instance", "uid!:id sopClass!:Coding number:unsignedInt title:string"},

    {"SupplyDelivery",
     "identifier:Identifier* basedOn:Reference* partOf:Reference* status:code patient:Reference "
     "type:CodeableConcept suppliedItem:SupplyDelivery.suppliedItem occurrence[x]:dateTime|Period|Timing "
     "supplier:Reference destination:Reference receiver:Reference*"},
    {"SupplyDelivery.suppliedItem", "quantity:Quantity item[x]:CodeableConcept|Reference"},

    {"Goal",
     "identifier:Identifier* lifecycleStatus!:code achievementStatus:CodeableConcept "
     "category:CodeableConcept* priority:CodeableConcept description!:CodeableConcept subject!:Reference "
     "start[x]:date|CodeableConcept target:Goal.target* statusDate:date statusReason:string "
     "expressedBy:Reference addresses:Reference* note:Annotation* outcomeCode:CodeableConcept* "
     "outcomeReference:Reference*"},
    {"Goal.target",
     "measure:CodeableConcept detail[x]:Quantity|Range|CodeableConcept|string|boolean|integer|Ratio "
     "due[x]:date|Duration"},
};

constexpr const char* kDomainResource =
    "id:id meta:Meta implicitRules:uri language:code text:Narrative contained:Resource* extension:Extension* "
    "modifierExtension:Extension*";

// Types checked to be JSON objects only.
constexpr std::string_view kOpaque[] = {"BackboneElement", "Contributor", "DataRequirement",
                                        "Expression", "ParameterDefinition", "RelatedArtifact",
                                        "TriggerDefinition", "UsageContext"};

enum class Prim : uint8_t {
  boolean, integer, positiveInt, unsignedInt, decimal, string, markdown, code, id, uri, url,
  canonical, oid, uuid, base64Binary, date, dateTime, instant, time, xhtml,
};

struct PrimName {
  std::string_view name;
  Prim prim;
};
constexpr PrimName kPrims[] = {
    {"boolean", Prim::boolean},   {"integer", Prim::integer},     {"positiveInt", Prim::positiveInt},
    {"unsignedInt", Prim::unsignedInt}, {"decimal", Prim::decimal}, {"string", Prim::string},
    {"markdown", Prim::markdown}, {"code", Prim::code},           {"id", Prim::id},
    {"uri", Prim::uri},           {"url", Prim::url},             {"canonical", Prim::canonical},
    {"oid", Prim::oid},           {"uuid", Prim::uuid},           {"base64Binary", Prim::base64Binary},
    {"date", Prim::date},         {"dateTime", Prim::dateTime},   {"instant", Prim::instant},
    {"time", Prim::time},         {"xhtml", Prim::xhtml},
};

enum class Kind : uint8_t { primitive, complex, resource, opaque };

struct TypeDef;

struct Elem {
  std::string key;      // JSON member name ("valueQuantity")
  std::string display;  // name in paths of errors about it ("value[x]")
  std::string type_name;
  Kind kind = Kind::opaque;
  Prim prim = Prim::string;
  const TypeDef* type = nullptr;
  bool many = false;
  int group = -1;      // choice group index, or -1
  int required = -1;   // bit index among required non-choice elements, or -1
};

struct TypeDef {
  std::string name;
  bool is_resource = false;
  std::vector<Elem> elems;
  std::unordered_map<std::string_view, const Elem*> by_key;
  std::vector<std::string> groups;  // display names of choice groups
  std::vector<bool> group_required;
  std::vector<const Elem*> required;

  const Elem* find(std::string_view key) const {
    auto it = by_key.find(key);
    return it == by_key.end() ? nullptr : it->second;
  }
};

class Schema {
 public:
  Schema() {
    for (const auto& d : kDatatypes) declare(d.name, false);
    for (const auto& d : kResources) declare(d.name, std::string_view(d.name).find('.') == std::string_view::npos);
    for (const auto& d : kDatatypes) define(d.name, d.elements);
    for (const auto& d : kResources) define(d.name, d.elements);
  }

  const TypeDef* find(std::string_view name) const {
    auto it = types_.find(std::string(name));
    return it == types_.end() ? nullptr : it->second.get();
  }
  const std::vector<std::string>& unresolved() const { return unresolved_; }

 private:
  void declare(std::string_view name, bool resource) {
    auto t = std::make_unique<TypeDef>();
    t->name = std::string(name);
    t->is_resource = resource;
    types_.emplace(t->name, std::move(t));
  }

  void define(std::string_view name, std::string_view elements) {
    TypeDef& t = *types_.at(std::string(name));
    std::string spec(elements);
    bool backbone = name.find('.') != std::string_view::npos || name == "Dosage" || name == "Timing";
    if (t.is_resource) spec += std::string(" ") + kDomainResource;
    else spec += backbone ? " id:string extension:Extension* modifierExtension:Extension*"
                          : " id:string extension:Extension*";
    size_t pos = 0;
    while (pos < spec.size()) {
      size_t end = spec.find(' ', pos);
      if (end == std::string::npos) end = spec.size();
      if (end > pos) add_element(t, std::string_view(spec).substr(pos, end - pos));
      pos = end + 1;
    }
    for (const auto& e : t.elems) t.by_key.emplace(e.key, &e);
    for (const auto& e : t.elems)
      if (e.required >= 0) t.required.push_back(&e);
  }

  // "name[x]!:T1|T2*" -> one Elem per type of the choice.
  void add_element(TypeDef& t, std::string_view tok) {
    size_t colon = tok.find(':');
    std::string_view name = tok.substr(0, colon);
    std::string_view types = tok.substr(colon + 1);
    bool required = name.ends_with('!');
    if (required) name.remove_suffix(1);
    bool choice = name.ends_with("[x]");
    if (choice) name.remove_suffix(3);
    bool many = types.ends_with('*');
    if (many) types.remove_suffix(1);
    int group = -1;
    if (choice) {
      group = static_cast<int>(t.groups.size());
      t.groups.push_back(std::string(name) + "[x]");
      t.group_required.push_back(required);
    }
    int req = !choice && required ? static_cast<int>(count_required(t)) : -1;
    size_t p = 0;
    while (p <= types.size()) {
      size_t bar = types.find('|', p);
      if (bar == std::string_view::npos) bar = types.size();
      std::string_view type = types.substr(p, bar - p);
      Elem e;
      e.display = choice ? std::string(name) + "[x]" : std::string(name);
      e.key = std::string(name);
      if (choice) {
        e.key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(type[0]))));
        e.key.append(type.substr(1));
      }
      e.type_name = std::string(type);
      e.many = many;
      e.group = group;
      e.required = req;
      resolve(e);
      t.elems.push_back(std::move(e));
      p = bar + 1;
    }
  }

  static size_t count_required(const TypeDef& t) {
    size_t n = 0;
    for (const auto& e : t.elems)
      if (e.required >= 0) ++n;
    return n;
  }

  void resolve(Elem& e) {
    for (const auto& p : kPrims)
      if (p.name == e.type_name) {
        e.kind = Kind::primitive;
        e.prim = p.prim;
        return;
      }
    if (e.type_name == "Resource") {
      e.kind = Kind::resource;
      return;
    }
    if (auto it = types_.find(e.type_name); it != types_.end()) {
      e.kind = Kind::complex;
      e.type = it->second.get();
      return;
    }
    e.kind = Kind::opaque;
    if (std::find(std::begin(kOpaque), std::end(kOpaque), e.type_name) == std::end(kOpaque))
      unresolved_.push_back(e.type_name);
  }

  std::unordered_map<std::string, std::unique_ptr<TypeDef>> types_;
  std::vector<std::string> unresolved_;
};

const Schema& schema() {
  static const Schema s;
  return s;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool valid_code(std::string_view s) {
  if (s.empty() || is_space(s.front()) || is_space(s.back())) return false;
  for (size_t i = 1; i < s.size(); ++i)
    if (is_space(s[i]) && is_space(s[i - 1])) return false;
  return true;
}

bool valid_uri(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (is_space(c) || static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool valid_uuid_text(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

// [0-2](\.(0|[1-9][0-9]*))+
bool valid_oid_text(std::string_view s) {
  if (s.size() < 3 || s[0] < '0' || s[0] > '2') return false;
  size_t i = 1;
  int arcs = 0;
  while (i < s.size()) {
    if (s[i] != '.' || i + 1 >= s.size()) return false;
    ++i;
    if (s[i] == '0') {
      ++i;
    } else if (s[i] >= '1' && s[i] <= '9') {
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    } else {
      return false;
    }
    ++arcs;
  }
  return arcs >= 1;
}

bool valid_base64(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '=' || is_space(c);
    if (!ok) return false;
  }
  return true;
}

// Reference.reference: Type/id[/_history/vid], an absolute http(s) URL,
// urn:uuid:, urn:oid:, #local, or a conditional Type?query.
bool valid_reference(std::string_view s) {
  if (s.empty()) return false;
  if (s[0] == '#') return s.size() == 1 || is_valid_id(s.substr(1));
  if (s.starts_with("urn:uuid:")) return valid_uuid_text(s.substr(9));
  if (s.starts_with("urn:oid:")) return valid_oid_text(s.substr(8));
  if (s.starts_with("http://") || s.starts_with("https://")) {
    size_t rest = s.find("//") + 2;
    return rest < s.size() && valid_uri(s);
  }
  size_t q = s.find('?');
  size_t slash = s.find('/');
  if (q != std::string_view::npos && (slash == std::string_view::npos || slash > q))
    return is_known_r4_type(s.substr(0, q)) && q + 1 < s.size() && valid_uri(s.substr(q + 1));
  if (slash == std::string_view::npos || !is_known_r4_type(s.substr(0, slash))) return false;
  std::string_view rest = s.substr(slash + 1);
  size_t next = rest.find('/');
  if (next == std::string_view::npos) return is_valid_id(rest);
  if (!is_valid_id(rest.substr(0, next))) return false;
  std::string_view hist = rest.substr(next);
  return hist.starts_with("/_history/") && is_valid_id(hist.substr(10));
}

// A member name as it may appear in an error path: element names only, so
// that arbitrary input (possibly patient data used as a key) is not echoed.
std::string_view safe_key(std::string_view key) {
  if (key.empty() || key.size() > 64) return "?";
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return "?";
  return key;
}

class Validator {
 public:
  explicit Validator(std::string root) : path_(std::move(root)) {}

  Status status() { return ok_ ? ok_status() : Status(std::move(err_)); }

  // o is the JSON of a resource of type `def`; path_ names it.
  bool resource(const bj::object& o, const TypeDef& def) { return object(o, def); }

 private:
  bool fail(std::string message) {
    err_ = make_error(Errc::unprocessable, std::move(message), path_);
    ok_ = false;
    return false;
  }

  class Push {
   public:
    // Appends "." + name.
    Push(std::string& path, std::string_view name) : path_(path), size_(path.size()) {
      path_.push_back('.');
      path_.append(name);
    }
    Push(std::string& path, size_t index) : path_(path), size_(path.size()) {
      path_.push_back('[');
      path_.append(std::to_string(index));
      path_.push_back(']');
    }
    ~Push() { path_.resize(size_); }
    Push(const Push&) = delete;
    Push& operator=(const Push&) = delete;

   private:
    std::string& path_;
    size_t size_;
  };

  bool object(const bj::object& o, const TypeDef& def) {
    uint64_t groups_seen = 0;
    uint64_t required_seen = 0;
    bool has_value_choice = false;
    for (const auto& kv : o) {
      std::string_view key(kv.key().data(), kv.key().size());
      if (def.is_resource && key == "resourceType") continue;
      if (key.size() > 1 && key[0] == '_') {
        // Extensions of a primitive element: checked as Element(s).
        const Elem* base = def.find(key.substr(1));
        if (base) mark(*base, groups_seen, required_seen);
        Push p(path_, safe_key(key));
        if (!primitive_extension(kv.value())) return false;
        continue;
      }
      const Elem* e = def.find(key);
      if (!e) {
        Push p(path_, safe_key(key));
        return fail("unknown element");
      }
      if (e->group >= 0) {
        if (groups_seen & (uint64_t{1} << e->group)) {
          Push p(path_, e->display);
          return fail("more than one value for a choice element");
        }
        if (def.name == "Extension") has_value_choice = true;
      }
      mark(*e, groups_seen, required_seen);
      Push p(path_, e->key);
      if (!member(o, key, kv.value(), *e)) return false;
    }
    for (const Elem* r : def.required)
      if (!(required_seen & (uint64_t{1} << r->required))) {
        Push p(path_, r->key);
        return fail("missing required element");
      }
    for (size_t g = 0; g < def.groups.size(); ++g)
      if (def.group_required[g] && !(groups_seen & (uint64_t{1} << g))) {
        Push p(path_, def.groups[g]);
        return fail("missing required element");
      }
    if (def.name == "Extension" && has_value_choice && o.contains("extension"))
      return fail("an extension has either a value or nested extensions, not both");
    if (def.name == "Reference")
      if (const bj::value* ref = o.if_contains("reference")) {
        Push p(path_, "reference");
        if (!valid_reference(as_string(*ref).value_or(""))) return fail("invalid reference");
      }
    return true;
  }

  static void mark(const Elem& e, uint64_t& groups, uint64_t& required) {
    if (e.group >= 0) groups |= uint64_t{1} << e.group;
    if (e.required >= 0) required |= uint64_t{1} << e.required;
  }

  bool member(const bj::object& parent, std::string_view key, const bj::value& v, const Elem& e) {
    if (v.is_null()) return fail("null value");
    if (!e.many) {
      if (v.is_array()) return fail("expected a single value, not an array");
      return value(v, e);
    }
    if (!v.is_array()) return fail("expected an array");
    const bj::array& a = v.get_array();
    if (a.empty()) return fail("empty array");
    for (size_t i = 0; i < a.size(); ++i) {
      Push p(path_, i);
      if (a[i].is_null()) {
        // Allowed only in a primitive array whose extensions sit in "_key".
        std::string ext(1, '_');
        ext.append(key);
        if (e.kind == Kind::primitive && parent.contains(ext)) continue;
        return fail("null value");
      }
      if (!value(a[i], e)) return false;
    }
    return true;
  }

  bool value(const bj::value& v, const Elem& e) {
    switch (e.kind) {
      case Kind::primitive: return primitive(v, e.prim);
      case Kind::complex:
        if (!v.is_object()) return fail("expected an object (" + e.type_name + ")");
        return object(v.get_object(), *e.type);
      case Kind::resource: return contained(v);
      case Kind::opaque:
        if (!v.is_object()) return fail("expected an object");
        return true;
    }
    return true;
  }

  bool contained(const bj::value& v) {
    if (!v.is_object()) return fail("expected a resource object");
    const bj::object& o = v.get_object();
    const bj::value* t = o.if_contains("resourceType");
    auto type = t ? as_string(*t) : std::nullopt;
    if (!type || !is_known_r4_type(*type)) {
      Push p(path_, "resourceType");
      return fail("unknown resourceType");
    }
    const bj::value* id = o.if_contains("id");
    if (!id || !is_valid_id(as_string(*id).value_or(""))) {
      Push p(path_, "id");
      return fail("a contained resource needs a valid id");
    }
    if (const TypeDef* def = schema().find(*type); def && def->is_resource) return object(o, *def);
    return true;  // an R4 type medvault does not store: kept as is
  }

  bool primitive_extension(const bj::value& v) {
    static const TypeDef* element = schema().find("Element");
    if (v.is_object()) return object(v.get_object(), *element);
    if (!v.is_array()) return fail("expected an object or an array");
    const bj::array& a = v.get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].is_null()) continue;
      Push p(path_, i);
      if (!a[i].is_object()) return fail("expected an object");
      if (!object(a[i].get_object(), *element)) return false;
    }
    return true;
  }

  bool primitive(const bj::value& v, Prim p) {
    switch (p) {
      case Prim::boolean:
        return v.is_bool() || fail("expected true or false");
      case Prim::integer:
      case Prim::positiveInt:
      case Prim::unsignedInt: {
        auto i = as_integer(v);
        long long min = p == Prim::positiveInt ? 1 : p == Prim::unsignedInt ? 0 : -2147483648LL;
        if (!i || *i < min || *i > 2147483647LL)
          return fail(p == Prim::integer ? "invalid integer" : p == Prim::positiveInt ? "invalid positiveInt"
                                                                                      : "invalid unsignedInt");
        return true;
      }
      case Prim::decimal:
        return is_number(v) || v.is_int64() || v.is_uint64() || v.is_double() || fail("invalid decimal");
      default: break;
    }
    auto s = as_string(v);
    if (!s) return fail("expected a string");
    switch (p) {
      case Prim::string:
      case Prim::markdown: return !s->empty() || fail("empty string");
      case Prim::xhtml: return s->find("<div") != std::string_view::npos || fail("invalid xhtml");
      case Prim::code: return valid_code(*s) || fail("invalid code");
      case Prim::id: return is_valid_id(*s) || fail("invalid id");
      case Prim::uri:
      case Prim::url:
      case Prim::canonical: return valid_uri(*s) || fail("invalid uri");
      case Prim::oid: return (s->starts_with("urn:oid:") && valid_oid_text(s->substr(8))) || fail("invalid oid");
      case Prim::uuid:
        return (s->starts_with("urn:uuid:") && valid_uuid_text(s->substr(9))) || fail("invalid uuid");
      case Prim::base64Binary: return valid_base64(*s) || fail("invalid base64Binary");
      case Prim::date: return is_fhir_date(*s) || fail("invalid date");
      case Prim::dateTime: return is_fhir_datetime(*s) || fail("invalid dateTime");
      case Prim::instant: return is_fhir_instant(*s) || fail("invalid instant");
      case Prim::time: return is_fhir_time(*s) || fail("invalid time");
      default: return true;
    }
  }

  std::string path_;
  Error err_;
  bool ok_ = true;
};

}  // namespace

Status validate(const Resource& r) {
  if (!is_known_r4_type(r.type)) return make_error(Errc::unprocessable, "unknown resourceType", "resourceType");
  const TypeDef* def = is_supported_type(r.type) ? schema().find(r.type) : nullptr;
  if (!def) return make_error(Errc::unprocessable, "resource type " + r.type + " is not supported here",
                              "resourceType");
  const bj::value* t = r.json.if_contains("resourceType");
  if (!t || as_string(*t) != std::optional<std::string_view>(r.type))
    return make_error(Errc::unprocessable, "resourceType does not match", r.type + ".resourceType");
  if (!r.id.empty() && !is_valid_id(r.id)) return make_error(Errc::unprocessable, "invalid id", r.type + ".id");
  Validator v(r.type);
  v.resource(r.json, *def);
  return v.status();
}

std::vector<std::string> schema_unresolved_types() { return schema().unresolved(); }

std::vector<std::string> schema_missing_resources() {
  std::vector<std::string> out;
  for (auto t : supported_types()) {
    const TypeDef* def = schema().find(t);
    if (!def || !def->is_resource) out.emplace_back(t);
  }
  return out;
}

}  // namespace medvault::fhir
