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
