// FHIR R4 shapes the staff web app writes and reads: the resources built
// for "add a note" and "record a vital sign", and helpers to read clinical
// resources for the chart. Pure functions, no DOM, no network. The coding
// system URIs below are identifiers, never fetched.

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

// The vital signs the form offers: key -> LOINC code, English display, UCUM unit.
export const VITALS = {
  hr: { code: '8867-4', display: 'Heart rate', unit: '/min' },
  rr: { code: '9279-1', display: 'Respiratory rate', unit: '/min' },
  temp: { code: '8310-5', display: 'Body temperature', unit: 'Cel' },
  weight: { code: '29463-7', display: 'Body weight', unit: 'kg' },
  spo2: { code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry', unit: '%' },
};

function utf8ToBase64(text) {
  let s = '';
  for (const b of new TextEncoder().encode(text)) s += String.fromCharCode(b);
  return btoa(s);
}

// A progress note (LOINC 11506-3) about `patientId`, its text as a UTF-8
// text/plain attachment.
export function noteResource(patientId, text, now = new Date()) {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ system: LOINC, code: '11506-3', display: 'Progress note' }] },
    subject: { reference: `Patient/${patientId}` },
    date: now.toISOString(),
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: utf8ToBase64(text) } }],
  };
}

// A final vital-sign Observation; `kind` is a key of VITALS, `value` a finite number.
export function vitalResource(patientId, kind, value, now = new Date()) {
  const v = VITALS[kind];
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs', display: 'Vital signs' }] }],
    code: { coding: [{ system: LOINC, code: v.code, display: v.display }], text: v.display },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: now.toISOString(),
    valueQuantity: { value, unit: v.unit, system: UCUM, code: v.unit },
  };
}

// The text of a text/* attachment given inline, else ''. Hostile content
// (bad base64, bad UTF-8) gives '' or replacement characters, never a throw.
export function attachmentText(att) {
  if (!att || typeof att.data !== 'string' || !/^text\//.test(att.contentType ?? '')) return '';
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(att.data), (c) => c.charCodeAt(0)));
  } catch {
    return '';
  }
}

// 'vital-signs' | 'laboratory' | ... : the Observation's category codes.
export function categories(resource) {
  return (resource.category ?? []).flatMap((c) => (c.coding ?? []).map((x) => x.code));
}

// What the patient search box holds: a birth date (YYYY-MM-DD, or
// DD/MM/YYYY as written in French), else a name prefix; text with a digit
// or a '|' is also tried as an identifier (`value` or `system|value`).
// Returns the list of FHIR Patient search parameter sets to run (their
// results are merged), [] for an empty box or an impossible date.
export function patientQueries(text) {
  const s = String(text ?? '').trim();
  if (!s) return [];
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  let ymd = m ? [m[1], m[2], m[3]] : null;
  if (!ymd && (m = /^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$/.exec(s))) ymd = [m[3], m[2].padStart(2, '0'), m[1].padStart(2, '0')];
  if (ymd) {
    const iso = ymd.join('-');
    const d = new Date(`${iso}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === iso ? [{ birthdate: iso }] : [];
  }
  const out = [{ name: s }];
  if (/[\d|]/.test(s) && !/\s/.test(s)) out.push({ identifier: s });
  return out;
}

const ref = (r) => (r ? { reference: r } : undefined);
const drop = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''));

// A finished ambulatory encounter starting now; `practitioner` ("Practitioner/x"
// or '') is the participant, which also records the care relationship.
export function encounterResource(patientId, reason, practitioner, now = new Date()) {
  return drop({
    resourceType: 'Encounter',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
    type: reason ? [{ text: reason }] : undefined,
    subject: { reference: `Patient/${patientId}` },
    participant: practitioner ? [{ individual: ref(practitioner) }] : undefined,
    period: { start: now.toISOString(), end: now.toISOString() },
  });
}

export const CRITICALITIES = ['low', 'high', 'unable-to-assess'];

// An active allergy or intolerance to `substance` (free text).
export function allergyResource(patientId, substance, criticality, practitioner, now = new Date()) {
  return drop({
    resourceType: 'AllergyIntolerance',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    criticality: CRITICALITIES.includes(criticality) ? criticality : undefined,
    code: { text: substance },
    patient: { reference: `Patient/${patientId}` },
    recordedDate: now.toISOString(),
    recorder: ref(practitioner),
  });
}

// An active prescription (order) of `medication` with its dosage, both free text.
export function medicationResource(patientId, medication, dosage, practitioner, now = new Date()) {
  return drop({
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: { text: medication },
    subject: { reference: `Patient/${patientId}` },
    authoredOn: now.toISOString(),
    requester: ref(practitioner),
    dosageInstruction: dosage ? [{ text: dosage }] : undefined,
  });
}

// The sensitivity labels a directive can name: those the policy restricts
// (access/facts.cc kRestricted), with the v3 system each belongs to.
const V3_CONF = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const V3_ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const CONSENT_LABELS = ['R', 'V', 'BH', 'PSY', 'PSYTHPN', 'ETH', 'SUD', 'HIV', 'STD', 'SEX', 'SDV', 'GDIS', 'TBOO'];
export const CONSENT_ROLES = ['physician', 'nurse', 'reception', 'manager'];

// A patient's refusal in the compact form the policy enforces
// (docs/access-policy.md, "Consent directives"): a deny of all the patient's
// data or of the data carrying `label`, either to one medvault role
// (`to: {role}`) or to everyone but the patient's GP (`to: {exceptGp}`, a
// nested permit for that practitioner). FHIR wants a reference on every
// actor: a role-wide actor names its role in `display` only, which matches
// nobody by reference.
export function consentResource(patientId, { label, to }, now = new Date()) {
  const provision = { type: 'deny' };
  if (label) provision.securityLabel = [{ system: label === 'R' || label === 'V' ? V3_CONF : V3_ACT, code: label }];
  if (to.role) {
    provision.actor = [{ role: { coding: [{ code: to.role }], text: to.role }, reference: { display: `role ${to.role}` } }];
  } else {
    provision.provision = [{
      type: 'permit',
      actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'PRCP' }] }, reference: { reference: to.exceptGp } }],
    }];
  }
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: `Patient/${patientId}` },
    dateTime: now.toISOString(),
    provision,
  };
}

// What a Consent refuses, as the policy reads it: {status, label (codes),
// roles, actors, except (references of nested permits)}; null for a shape
// the app does not summarise (e.g. a base permit).
export function consentSummary(c) {
  const p = c?.provision;
  if (!p || typeof p !== 'object') return null;
  const codes = (v) => (Array.isArray(v) ? v : v ? [v] : []).flatMap((x) => [x?.code, ...(x?.coding ?? []).map((y) => y?.code)]).filter(Boolean);
  const actors = (list) => (Array.isArray(list) ? list : []);
  return {
    status: c.status ?? '',
    deny: p.type === 'deny',
    labels: codes(p.securityLabel),
    purposes: codes(p.purpose),
    roles: actors(p.actor).flatMap((a) => codes(a?.role)).filter((r) => CONSENT_ROLES.includes(r)),
    actors: actors(p.actor).map((a) => a?.reference?.reference).filter(Boolean),
    except: (Array.isArray(p.provision) ? p.provision : []).filter((n) => n?.type !== 'deny')
      .flatMap((n) => actors(n?.actor).map((a) => a?.reference?.reference)).filter(Boolean),
  };
}
