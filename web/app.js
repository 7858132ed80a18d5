// medvault staff web app: sign-in (password + code, passkey, client
// certificate), second-factor enrolment, patient search (name, birth date,
// identifier), the chart (problems, allergies, medications, immunizations,
// vitals and lab plots, encounters, notes), writing a note, a vital sign, an
// encounter, an allergy or a prescription, consent directives at the front
// desk, break-the-glass, the workstation lock, the user's sessions, the audit
// viewer and its CSV export (auditor), the users page (it-admin).
//
// Rules this file keeps (docs/architecture.md, "Staff web app"):
// - The page's CSP allows only same-origin scripts and styles: no inline
//   script or style, no eval, no data URLs. Text goes in with textContent,
//   never as markup; the QR code SVG is parsed with DOMParser and imported;
//   plots are built with createElementNS and setAttribute.
// - Patient data lives only in this module's memory and the DOM: never in
//   the page URL or history, never in Web Storage. Sign-out clears it; the
//   workstation lock removes it from the DOM (drafts stay in memory).
// - The session cookie is HttpOnly: the script never sees it. Every request
//   other than GET carries X-CSRF-Token (from sign-in or GET /api/auth/session).
// - Every user-visible string is in strings.js (English and French), keyed by id.

import { STRINGS } from './strings.js';
import { linePlot } from './plot.js';
import {
  CONSENT_LABELS, CONSENT_ROLES, VITALS, allergyResource, attachmentText, categories, consentResource,
  consentSummary, encounterResource, medicationResource, noteResource, patientQueries, vitalResource,
} from './fhir.js';

// The first of the browser's preferred languages that the app has.
function pickLanguage() {
  for (const l of navigator.languages ?? [navigator.language ?? 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (base in STRINGS) return base;
  }
  return 'en';
}

let lang = pickLanguage();
const SEARCH_PAGE = 20;
const CLINICAL_PAGE = 500;   // resources of one type fetched for the chart
const LIST_MAX = 30;         // entries shown per chart list
const PLOTS_MAX = 12;        // plots shown per group (vitals, labs)

// t('signin.throttled', {n: 3}): the string of `key` with {name} replaced.
function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

const $ = (id) => document.getElementById(id);

// Everything the app knows; patient data only here and in the DOM.
const state = {
  session: null,   // the session object of the API (user, role, csrf, ...)
  patientId: null, // the patient shown, if any
  search: null,    // {patients, more} of the last search, for re-rendering
  audit: null,     // entries of the last audit query, for re-rendering
  auditQuery: '',  // the query string of those entries (the CSV export repeats it)
  users: null,     // the administrator's user list, for re-rendering
  staffRoles: [],  // the roles a staff account may be given (from the same answer)
  chart: null,     // {patient, lists: {kind: resources | null (refused)}, refused}
  grants: new Map(),  // patient id -> {until: Date, name}: break-the-glass grants
  locked: null,    // while locked: {user, patientId, drafts}
  loads: 0,        // chart loads started (only the newest one clears aria-busy)
};

// ---- HTTP -----------------------------------------------------------------

class HttpError extends Error {
  constructor(status, retryAfter) {
    super(`HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// A same-origin request; JSON in and out. Throws HttpError for a status
// >= 400 and TypeError when the network fails.
async function call(method, path, { body, accept = 'application/json', headers: extra = {} } = {}) {
  const headers = { ...extra, Accept: accept };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = state.session?.csrf ?? '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'error',
  });
  if (!res.ok) {
    const retry = Number.parseInt(res.headers.get('Retry-After') ?? '', 10);
    throw new HttpError(res.status, Number.isFinite(retry) ? retry : null);
  }
  const type = res.headers.get('Content-Type') ?? '';
  return res.status !== 204 && type.includes('json') ? res.json() : null;
}

const fhir = (path) => call('GET', path, { accept: 'application/fhir+json' });

// ---- base64url <-> ArrayBuffer (WebAuthn) --------------------------------

function fromB64u(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
}

function toB64u(buf) {
  let s = '';
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const withIds = (list) => (list ?? []).map((c) => ({ ...c, id: fromB64u(c.id) }));

// ---- messages and views ---------------------------------------------------

function say(text) { $('status').textContent = text ?? ''; }

function fail(text) {
  const e = $('error');
  e.textContent = text ?? '';
  e.hidden = !text;
}

// The message for a failed call; an ended session sends the user back to
// sign-in.
function failWith(err) {
  if (err instanceof HttpError) {
    if (err.status === 401 && state.session) { signedOut(t('signin.ended')); return; }
    fail(err.status === 403 ? t('error.forbidden') : t('error.generic', { status: err.status }));
  } else {
    fail(t('error.network'));
  }
}

function show(view) {
  for (const v of ['signin', 'enrol', 'home', 'lock']) $(`view-${v}`).hidden = v !== view;
  const signedIn = view !== 'signin';
  $('who').hidden = !signedIn;
  $('purpose').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  // The privacy officer (auditor) has the audit viewer instead of patients,
  // the administrator (it-admin) the users page.
  const auditor = state.session?.role === 'auditor';
  const admin = state.session?.role === 'it-admin';
  $('audit').hidden = !auditor;
  $('admin').hidden = !admin;
  $('search').hidden = auditor || admin;
  const home = auditor ? 'audit-title' : admin ? 'admin-title' : 'search-title';
  const heading = { signin: 'signin-title', enrol: 'enrol-title', home, lock: 'lock-title' }[view];
  $(heading).focus();
}

function clear(el) { el.replaceChildren(); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// Removes every patient datum from the page (not from memory).
function clearPatientData() {
  clearChart();
  clear($('search-results'));
  clear($('audit-entries'));
  clear($('admin-users'));
  $('search-summary').textContent = '';
  $('audit-summary').textContent = '';
  for (const f of ['search-form', 'note-form', 'vital-form', 'audit-form', 'audit-export-form', 'encounter-form',
                   'allergy-form', 'medication-form', 'consent-form']) $(f).reset();
  $('admin-code').value = '';
  $('admin-use-passkey').checked = false;
  renderBanner();
  $('bg-dialog').close();
  $('bg-form').reset();
}

// Drops everything of the signed-in user from memory and the page.
function forget() {
  stopIdleTimer();
  state.session = null;
  state.patientId = null;
  state.search = null;
  state.audit = null;
  state.auditQuery = '';
  state.users = null;
  state.chart = null;
  state.locked = null;
  state.grants.clear();
  clearPatientData();
  for (const id of ['sessions', 'recovery-codes', 'totp-qr']) clear($(id));
  for (const id of ['totp-secret', 'who', 'purpose', 'lock-intro']) $(id).textContent = '';
  for (const f of ['signin-form', 'totp-form', 'lock-form']) $(f).reset();
  $('totp-setup').hidden = true;
  $('recovery').hidden = true;
  $('totp-start').hidden = false;
}

function signedOut(message) {
  forget();
  fail('');
  say(message);
  show('signin');
}

// Shows the app for a session object of the API.
async function signedIn(session) {
  state.session = session;
  fail('');
  say('');
  renderWho();
  renderStepUp();
  startIdleTimer();
  if (session.enrol_required) {
    show('enrol');
    return;
  }
  show('home');
  if (session.role === 'it-admin') await loadUsers();
  await loadSessions();
}

// The purpose of use the server applies (docs/access-policy.md): the app
// sends no X-Purpose-Of-Use, so the role's default, HOPERAT for the manager
// and TREAT otherwise (a break-the-glass grant is honoured under TREAT; the
// banner shows it).
function purposeOfUse() {
  return state.session?.role === 'manager' ? 'HOPERAT' : 'TREAT';
}

function renderWho() {
  if (!state.session) return;
  const { user, role } = state.session;
  $('who').textContent = t('header.who', { user, role: STRINGS[lang][`role.${role}`] ?? role });
  $('purpose').textContent = t('header.purpose', { purpose: t(`purpose.${purposeOfUse()}`) });
}

async function refreshSession() {
  try {
    await signedIn(await call('GET', '/api/auth/session'));
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) signedOut('');
    else failWith(err);
  }
}

// ---- sign-in and sign-out -------------------------------------------------

function signinFailed(err) {
  if (err instanceof HttpError && err.status === 429) fail(t('signin.throttled', { n: err.retryAfter ?? 1 }));
  else if (err instanceof HttpError && err.status === 401) fail(t('signin.failed'));
  else failWith(err);
}

async function passwordSignIn(ev) {
  ev.preventDefault();
  const form = ev.target;
  const body = { username: form.username.value.trim(), password: form.password.value };
  const code = form.code.value.replace(/\s+/g, '');
  if (code) body.code = code;
  form.password.value = '';
  form.code.value = '';
  try {
    await signedIn(await call('POST', '/api/auth/login', { body }));
  } catch (err) {
    signinFailed(err);
    form.password.focus();
  }
}

function passkeyError(err) {
  // NotAllowedError: the user cancelled, or no passkey, or a timeout.
  if (err instanceof DOMException) fail(err.name === 'NotAllowedError' ? t('passkey.cancelled') : err.message);
  else return false;
  return true;
}

// An assertion ceremony with the server: `${path}/begin` gives the options,
// the authenticator signs, `${path}/finish` checks it; returns its answer.
async function passkeyCeremony(path) {
  const begin = await call('POST', `${path}/begin`, { body: {} });
  const pk = begin.publicKey;
  const cred = await navigator.credentials.get({
    publicKey: { ...pk, challenge: fromB64u(pk.challenge), allowCredentials: withIds(pk.allowCredentials) },
  });
  const r = cred.response;
  return call('POST', `${path}/finish`, {
    body: {
      ceremony: begin.ceremony,
      id: cred.id,
      clientDataJSON: toB64u(r.clientDataJSON),
      authenticatorData: toB64u(r.authenticatorData),
      signature: toB64u(r.signature),
      userHandle: r.userHandle ? toB64u(r.userHandle) : '',
    },
  });
}

// Signs in with a passkey; while the screen is locked, unlocks instead.
async function passkeySignIn() {
  if (!window.PublicKeyCredential) { fail(t('passkey.unsupported')); return; }
  try {
    const session = await passkeyCeremony('/api/auth/passkey/login');
    if (state.locked) await unlocked(session);
    else await signedIn(session);
  } catch (err) {
    if (!passkeyError(err)) signinFailed(err);
  }
}

// Signs in with the client certificate the browser presented during the
// TLS handshake (a smart card or an installed certificate; `serve --client-ca`).
async function certificateSignIn() {
  try {
    await signedIn(await call('POST', '/api/auth/certificate', { body: {} }));
  } catch (err) {
    signinFailed(err);
  }
}

async function signOut(message = t('signin.signedout')) {
  try {
    await call('POST', '/api/auth/logout');
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 401)) { failWith(err); return; }
  }
  signedOut(message);
}

async function signOutEverywhere() {
  try {
    await call('POST', '/api/auth/logout-all');
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 401)) { failWith(err); return; }
  }
  signedOut(t('signin.signedout'));
}

// ---- enrolment ------------------------------------------------------------

async function startTotp() {
  try {
    const e = await call('POST', '/api/auth/totp/enrol', { body: {} });
    const doc = new DOMParser().parseFromString(e.qr_svg, 'image/svg+xml');
    const svg = doc.documentElement;
    const qr = $('totp-qr');
    clear(qr);
    if (svg.localName === 'svg' && !doc.getElementsByTagName('parsererror').length) {
      const node = document.importNode(svg, true);
      for (const s of node.querySelectorAll('script, foreignObject')) s.remove();
      node.setAttribute('role', 'img');
      node.setAttribute('aria-label', t('totp.qr'));
      qr.append(node);
    }
    $('totp-secret').textContent = e.secret.replace(/(.{4})/g, '$1 ').trim();
    $('totp-start').hidden = true;
    $('totp-setup').hidden = false;
    $('totp-code').focus();
  } catch (err) {
    failWith(err);
  }
}

async function confirmTotp(ev) {
  ev.preventDefault();
  const code = ev.target.code.value.replace(/\s+/g, '');
  try {
    const r = await call('POST', '/api/auth/totp/confirm', { body: { code } });
    fail('');
    const list = $('recovery-codes');
    clear(list);
    for (const c of r.recovery_codes) list.append(el('li', c));
    $('totp-setup').hidden = true;
    $('recovery').hidden = false;
    $('recovery-title').focus();
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) fail(t('totp.wrong'));
    else failWith(err);
  }
}

async function registerPasskey(labelInput) {
  if (!window.PublicKeyCredential) { fail(t('passkey.unsupported')); return; }
  try {
    const begin = await call('POST', '/api/auth/passkey/register/begin', { body: {} });
    const pk = begin.publicKey;
    const cred = await navigator.credentials.create({
      publicKey: {
        ...pk,
        challenge: fromB64u(pk.challenge),
        user: { ...pk.user, id: fromB64u(pk.user.id) },
        excludeCredentials: withIds(pk.excludeCredentials),
      },
    });
    await call('POST', '/api/auth/passkey/register/finish', {
      body: {
        ceremony: begin.ceremony,
        clientDataJSON: toB64u(cred.response.clientDataJSON),
        attestationObject: toB64u(cred.response.attestationObject),
        label: labelInput.value.trim() || t('passkey.label.default'),
      },
    });
    labelInput.value = '';
    await refreshSession();
    say(t('passkey.registered'));
  } catch (err) {
    if (passkeyError(err)) return;
    // 400: the browser's answer was refused; 401: the ceremony expired or was used.
    if (err instanceof HttpError && (err.status === 400 || err.status === 401)) fail(t('passkey.failed'));
    else failWith(err);
  }
}

// ---- patients -------------------------------------------------------------

function humanName(p) {
  const names = p.name ?? [];
  const n = names.find((x) => x.use === 'official') ?? names[0];
  if (!n) return t('patient.unnamed');
  if (n.text) return n.text;
  return [...(n.prefix ?? []), ...(n.given ?? []), n.family ?? ''].join(' ').trim() || t('patient.unnamed');
}

const codeText = (cc) => cc?.text ?? cc?.coding?.find((c) => c.display)?.display ?? cc?.coding?.[0]?.code ?? '';

async function search(ev) {
  ev.preventDefault();
  const text = ev.target.name.value.trim();
  if (!text) return;
  const queries = patientQueries(text);
  if (!queries.length) { fail(t('search.badquery')); return; }
  clear($('search-results'));
  $('search-summary').textContent = '';
  say(t('loading'));
  try {
    // A name prefix and an identifier may both match: one list, no duplicates.
    const bundles = await Promise.all(queries.map((q) =>
      fhir(`/fhir/Patient?${new URLSearchParams({ ...q, _count: String(SEARCH_PAGE) })}`)));
    const byId = new Map();
    for (const b of bundles) for (const p of resources(b, 'Patient')) byId.set(p.id, p);
    const more = bundles.some((b) => b.link?.some((l) => l.relation === 'next'));
    state.search = { patients: [...byId.values()], more };
    fail('');
    renderSearch();
    say('');
  } catch (err) {
    say('');
    failWith(err);
  }
}

function renderSearch() {
  const list = $('search-results');
  clear(list);
  if (!state.search) return;
  const { patients, more } = state.search;
  for (const p of patients) {
    const b = el('button', '', 'result');
    b.type = 'button';
    b.append(el('span', humanName(p), 'result-name'), el('span', p.birthDate ?? '', 'result-date'));
    b.addEventListener('click', () => openPatient(p.id));
    const li = el('li');
    li.append(b);
    list.append(li);
  }
  let summary = patients.length ? t('search.count', { n: patients.length }) : t('search.none');
  if (more) summary += ' ' + t('search.more', { n: SEARCH_PAGE });
  $('search-summary').textContent = summary;
}

const resources = (bundle, type) => (bundle?.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === type);

// The chart's lists: kind -> the types searched with patient=<id>.
const CHART_TYPES = {
  conditions: ['Condition'],
  allergies: ['AllergyIntolerance'],
  medications: ['MedicationRequest', 'MedicationStatement'],
  immunizations: ['Immunization'],
  observations: ['Observation'],
  encounters: ['Encounter'],
  notes: ['DocumentReference'],
};

// The resources of `type` about patient `id`; null when the server refuses
// the type to this user (403: reception cannot see clinical data).
// A physician without care relationship gets empty results (searches are
// filtered), which renderChart() reads as "offer emergency access".
async function searchClinical(type, id) {
  try {
    const q = new URLSearchParams({ patient: id, _count: String(CLINICAL_PAGE) });
    return resources(await fhir(`/fhir/${type}?${q}`), type);
  } catch (err) {
    if (err instanceof HttpError && err.status === 403) return null;
    if (err instanceof HttpError && err.status === 404) return [];  // a type this server does not serve
    throw err;
  }
}

async function loadChart(id) {
  const patient = await fhir(`/fhir/Patient/${encodeURIComponent(id)}`);
  const lists = {};
  await Promise.all(Object.entries(CHART_TYPES).map(async ([kind, types]) => {
    const found = await Promise.all(types.map((type) => searchClinical(type, id)));
    lists[kind] = found.every((f) => f === null) ? null : found.flatMap((f) => f ?? []);
  }));
  // The front desk records consent directives (reception reads and writes Consent).
  const consents = state.session?.role === 'reception' ? await searchClinical('Consent', id) : null;
  return { patient, lists, consents };
}

async function openPatient(id, { focus = true } = {}) {
  state.patientId = id;
  const load = ++state.loads;
  $('patient').setAttribute('aria-busy', 'true');  // until the newest load has ended
  say(t('loading'));
  try {
    const chart = await loadChart(id);
    if (state.patientId !== id || state.locked) return;  // another patient was opened, or the screen locked
    state.chart = chart;
    renderChart();
    fail('');
    say('');
    $('patient').hidden = false;
    if (focus) $('patient-name').focus();
  } catch (err) {
    say('');
    if (err instanceof HttpError && [403, 404, 410].includes(err.status)) {
      state.patientId = null;
      fail(t('patient.notfound'));
    }
    else failWith(err);
  } finally {
    if (state.loads === load) $('patient').removeAttribute('aria-busy');
  }
}

// Reloads the chart shown (after a write or a break-the-glass grant).
async function reloadChart() {
  if (state.patientId) await openPatient(state.patientId, { focus: false });
}

function clearChart() {
  $('patient').hidden = true;
  for (const id of ['patient-identifiers', 'patient-conditions', 'chart-allergies', 'chart-medications',
                    'chart-immunizations', 'chart-vitals', 'chart-labs', 'chart-encounters', 'chart-notes'])
    clear($(id));
  for (const id of ['patient-name', 'patient-birthdate', 'patient-gender']) $(id).textContent = '';
  $('bg-offer').hidden = true;
  $('consent').hidden = true;
  clear($('consent-list'));
}

function closePatient() {
  state.patientId = null;
  state.chart = null;
  clearChart();
  renderBanner();
  renderWho();
  $('search-name').focus();
}

// The clinical date of a resource (ISO text), for ordering and display.
const dateOf = (r) => r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.effectiveInstant ?? r.issued ??
  r.occurrenceDateTime ?? r.authoredOn ?? r.period?.start ?? r.onsetDateTime ?? r.recordedDate ?? r.date ?? '';
const day = (iso) => (iso ? String(iso).slice(0, 10) : '');
const newestFirst = (list) => [...list].sort((a, b) => String(dateOf(b)).localeCompare(String(dateOf(a))));

// Fills list `ul` with one line per resource (newest first, at most LIST_MAX).
function fillList(ul, list, line) {
  clear(ul);
  const sorted = newestFirst(list);
  for (const r of sorted.slice(0, LIST_MAX)) ul.append(line(r));
  if (!sorted.length) ul.append(el('li', t('chart.none'), 'hint'));
  if (sorted.length > LIST_MAX) ul.append(el('li', t('chart.more', { n: sorted.length - LIST_MAX }), 'hint'));
}

// "text — date" as a list item with a <time>.
function dated(text, iso) {
  const li = el('li');
  if (iso) {
    const tm = el('time', day(iso), 'date');
    tm.dateTime = day(iso);
    li.append(tm, ' ');
  }
  li.append(text);
  return li;
}

function renderChart() {
  const c = state.chart;
  if (!c) return;
  const p = c.patient;
  $('patient-name').textContent = humanName(p);
  $('patient-birthdate').textContent = p.birthDate ?? '';
  $('patient-gender').textContent = p.gender ? t(`gender.${p.gender}`) : '';
  const ids = $('patient-identifiers');
  clear(ids);
  for (const i of p.identifier ?? []) {
    const kind = codeText(i.type) || i.system || '';
    ids.append(el('li', kind ? `${kind}: ${i.value ?? ''}` : i.value ?? ''));
  }
  const { lists } = c;
  for (const kind of Object.keys(CHART_TYPES)) {
    const sec = kind === 'observations' ? ['sec-vitals', 'sec-labs'] : [`sec-${kind}`];
    for (const s of sec) $(s).hidden = lists[kind] === null;
  }
  // Nothing clinical visible to a clinician: no care relationship (searches
  // are filtered, instance reads answer 404) unless the glass is broken.
  const clinician = ['physician', 'nurse'].includes(state.session?.role);
  const empty = Object.values(lists).every((l) => l !== null && l.length === 0);
  $('bg-offer').hidden = !(clinician && empty && !activeGrant(p.id));
  $('write').hidden = !clinician || !$('bg-offer').hidden;
  $('medication-form').hidden = state.session?.role !== 'physician';  // prescribing is the physician's
  renderConsents();
  if (lists.conditions) {
    const ul = $('patient-conditions');
    fillList(ul, lists.conditions, (x) => {
      const since = x.onsetDateTime ? ' — ' + t('condition.since', { date: day(x.onsetDateTime) }) : '';
      return el('li', codeText(x.code) + since);
    });
    if (!lists.conditions.length) { clear(ul); ul.append(el('li', t('patient.noconditions'), 'hint')); }
  }
  if (lists.allergies) fillList($('chart-allergies'), lists.allergies, (x) => dated(codeText(x.code), x.recordedDate ?? x.onsetDateTime));
  if (lists.medications) {
    fillList($('chart-medications'), lists.medications, (x) =>
      dated([codeText(x.medicationCodeableConcept) || x.medicationReference?.display || '',
             x.dosageInstruction?.[0]?.text].filter(Boolean).join(' — '), dateOf(x)));
  }
  if (lists.immunizations) fillList($('chart-immunizations'), lists.immunizations, (x) => dated(codeText(x.vaccineCode), dateOf(x)));
  if (lists.encounters) {
    fillList($('chart-encounters'), lists.encounters, (x) =>
      dated([codeText(x.type?.[0]), codeText(x.reasonCode?.[0])].filter(Boolean).join(' — ') || x.class?.code || '', dateOf(x)));
  }
  if (lists.notes) {
    fillList($('chart-notes'), lists.notes, (x) => {
      const li = dated(codeText(x.type) || x.description || '', dateOf(x));
      const text = attachmentText(x.content?.[0]?.attachment);
      if (text) li.append(el('p', text.length > 400 ? text.slice(0, 400) + '…' : text, 'note-text'));
      return li;
    });
  }
  if (lists.observations) {
    renderPlots($('chart-vitals'), lists.observations.filter((o) => categories(o).includes('vital-signs')));
    renderPlots($('chart-labs'), lists.observations.filter((o) => categories(o).includes('laboratory')));
  }
}

// One series per observed quantity: the Observation's code (or each
// component's code, e.g. the two pressures of a blood pressure) and unit.
function seriesOf(observations) {
  const series = new Map();
  const add = (code, q, when) => {
    if (typeof q?.value !== 'number' || !Number.isFinite(q.value)) return;
    const tm = Date.parse(when);
    if (Number.isNaN(tm)) return;
    const name = codeText(code);
    const unit = q.unit ?? q.code ?? '';
    const key = `${name}\u0000${unit}`;
    if (!series.has(key)) series.set(key, { name, unit, points: [] });
    series.get(key).points.push({ t: tm, v: q.value, when });
  };
  for (const o of observations) {
    const when = dateOf(o);
    add(o.code, o.valueQuantity, when);
    for (const c of o.component ?? []) add(c.code, c.valueQuantity, when);
  }
  for (const s of series.values()) s.points.sort((a, b) => a.t - b.t);
  return [...series.values()].sort((a, b) => b.points.length - a.points.length || a.name.localeCompare(b.name));
}

function renderPlots(box, observations) {
  clear(box);
  const all = seriesOf(observations);
  if (!all.length) { box.append(el('p', t('chart.none'), 'hint')); return; }
  for (const s of all.slice(0, PLOTS_MAX)) {
    const last = s.points[s.points.length - 1];
    const value = `${last.v} ${s.unit}`.trim();
    const fig = el('figure', undefined, 'plot-box');
    const label = t('chart.plot', { name: s.name, n: s.points.length, first: day(s.points[0].when), last: day(last.when), value });
    fig.append(linePlot(s.points, label));
    const cap = el('figcaption');
    cap.append(el('span', s.name, 'plot-name'), ' ', el('span', t('chart.latest', { value, date: day(last.when) }), 'hint'));
    fig.append(cap);
    box.append(fig);
  }
  if (all.length > PLOTS_MAX) box.append(el('p', t('chart.more', { n: all.length - PLOTS_MAX }), 'hint'));
}

// ---- audit viewer (auditor) -------------------------------------------------

async function auditQuery(ev) {
  ev.preventDefault();
  const f = ev.target;
  const q = new URLSearchParams();
  if (f.patient.value.trim()) q.set('patient', f.patient.value.trim());
  else if (f.user.value.trim()) q.set('user', f.user.value.trim());
  else if (f.from.value && f.to.value) { q.set('from', f.from.value); q.set('to', f.to.value); }
  else { fail(t('audit.need')); return; }
  if (f.flagged.checked) q.set('flagged', '1');
  q.set('limit', '500');
  say(t('loading'));
  try {
    state.audit = (await call('GET', `/api/audit?${q}`)).entries ?? [];
    state.auditQuery = q.toString();
    renderAudit();
    fail('');
    say('');
  } catch (err) {
    say('');
    failWith(err);
  }
}

function renderAudit() {
  const body = $('audit-entries');
  clear(body);
  if (!state.audit) return;
  for (const e of state.audit) {
    const tr = el('tr', undefined, e.flagged ? 'flagged' : undefined);
    const action = el('td', e.action ?? '');
    if (e.flagged) action.append(' ', el('span', t('audit.flag'), 'tag flag'));
    const outcome = STRINGS[lang][`outcome.${e.outcome}`] ? t(`outcome.${e.outcome}`) : String(e.outcome ?? '');
    tr.append(el('td', when(e.time)), el('td', `${e.user ?? ''} (${e.role ?? ''})`), action,
              el('td', [e.type, e.id].filter(Boolean).join('/')), el('td', e.patient ?? ''),
              el('td', outcome), el('td', e.explanation ?? ''));
    body.append(tr);
  }
  $('audit-summary').textContent = t('audit.count', { n: state.audit.length });
}

// ---- writing: a note, a vital sign -----------------------------------------

async function saveNote(ev) {
  ev.preventDefault();
  const text = $('note-text').value.trim();
  if (!text || !state.patientId) return;
  try {
    await call('POST', '/fhir/DocumentReference', { body: noteResource(state.patientId, text) });
    $('note-form').reset();
    await reloadChart();
    say(t('note.saved'));
  } catch (err) {
    failWith(err);
  }
}

async function saveVital(ev) {
  ev.preventDefault();
  const kind = $('vital-kind').value;
  const raw = $('vital-value').value.trim().replace(',', '.');
  const value = Number(raw);
  if (!raw || !Number.isFinite(value) || !(kind in VITALS)) { fail(t('vital.invalid')); $('vital-value').focus(); return; }
  try {
    await call('POST', '/fhir/Observation', { body: vitalResource(state.patientId, kind, value) });
    $('vital-value').value = '';
    await reloadChart();
    say(t('vital.saved'));
  } catch (err) {
    failWith(err);
  }
}

// Saves a resource built from a small chart form, then reloads the chart.
async function saveFromForm(ev, { field, type, build, saved }) {
  ev.preventDefault();
  const value = $(field).value.trim();
  if (!value) { fail(t('write.empty')); $(field).focus(); return; }
  if (!state.patientId) return;
  try {
    await call('POST', `/fhir/${type}`, { body: build(state.patientId, value, state.session?.practitioner ?? '') });
    ev.target.reset();
    await reloadChart();
    say(t(saved));
  } catch (err) {
    failWith(err);
  }
}

const saveEncounter = (ev) => saveFromForm(ev, {
  field: 'encounter-reason', type: 'Encounter', saved: 'encounter.saved',
  build: (id, reason, pr) => encounterResource(id, reason, pr),
});
const saveAllergy = (ev) => saveFromForm(ev, {
  field: 'allergy-substance', type: 'AllergyIntolerance', saved: 'allergy.saved',
  build: (id, substance, pr) => allergyResource(id, substance, $('allergy-criticality').value, pr),
});
const saveMedication = (ev) => saveFromForm(ev, {
  field: 'medication-name', type: 'MedicationRequest', saved: 'medication.saved',
  build: (id, med, pr) => medicationResource(id, med, $('medication-dosage').value.trim(), pr),
});

// ---- consent directives (reception) ------------------------------------------

// The patient's GP ("Practitioner/x"), if the chart names one.
const gpOf = (p) => (p?.generalPractitioner ?? []).map((r) => r?.reference).find((r) => /^Practitioner\/[^/]+$/.test(r ?? '')) ?? '';

function consentLine(c) {
  const s = consentSummary(c);
  const status = c.status ?? '';
  if (!s || !s.deny) return el('li', t('consent.other', { status, id: c.id ?? '' }));
  const what = s.labels.length ? t('consent.what.label', { label: s.labels.join(', ') }) : t('consent.what.all');
  const roles = [...s.roles.map((r) => STRINGS[lang][`role.${r}`] ?? r), ...s.actors];
  let to = roles.length ? t('consent.line.to.roles', { roles: roles.join(', ') }) : t('consent.line.to.all');
  if (s.except.length) to += ' ' + t('consent.line.except', { refs: s.except.join(', ') });
  return el('li', t('consent.line', { status, what, to }));
}

// The reception's consent panel: the directives and the form's choices,
// limited to what the policy enforces (docs/access-policy.md).
function renderConsents() {
  const c = state.chart;
  const show = !!c && Array.isArray(c.consents);
  $('consent').hidden = !show;
  if (!show) return;
  const ul = $('consent-list');
  clear(ul);
  for (const x of c.consents) ul.append(consentLine(x));
  if (!c.consents.length) ul.append(el('li', t('consent.none'), 'hint'));
  const what = $('consent-what');
  const keepWhat = what.value;
  clear(what);
  what.append(new Option(t('consent.what.all'), ''));
  for (const l of CONSENT_LABELS) what.append(new Option(t('consent.what.label', { label: l }), l));
  what.value = keepWhat;
  const to = $('consent-to');
  const keepTo = to.value;
  clear(to);
  for (const r of CONSENT_ROLES) to.append(new Option(t('consent.to.role', { role: STRINGS[lang][`role.${r}`] ?? r }), `role:${r}`));
  const gp = gpOf(c.patient);
  if (gp) to.append(new Option(t('consent.to.exceptgp', { gp }), `gp:${gp}`));
  if ([...to.options].some((o) => o.value === keepTo)) to.value = keepTo;
}

async function saveConsent(ev) {
  ev.preventDefault();
  if (!state.patientId) return;
  const label = $('consent-what').value;
  const [kind, value] = $('consent-to').value.split(/:(.*)/s);
  const to = kind === 'gp' ? { exceptGp: value } : { role: value };
  try {
    await call('POST', '/fhir/Consent', { body: consentResource(state.patientId, { label, to }) });
    await reloadChart();
    say(t('consent.saved'));
  } catch (err) {
    failWith(err);
  }
}

// ---- user administration (it-admin) -------------------------------------------

async function loadUsers() {
  try {
    const answer = await call('GET', '/api/admin/users');
    state.users = answer.users ?? [];
    state.staffRoles = answer.staff_roles ?? [];
    renderUsers();
  } catch (err) {
    failWith(err);
  }
}

function renderUsers() {
  const body = $('admin-users');
  clear(body);
  if (!state.users) return;
  const yn = (b) => t(b ? 'admin.yes' : 'admin.no');
  for (const u of state.users) {
    const tr = el('tr', undefined, u.disabled ? 'disabled' : undefined);
    const m = u.mfa ?? {};
    const th = el('th', u.username);
    th.scope = 'row';
    tr.append(th, el('td', STRINGS[lang][`role.${u.role}`] ?? u.role),
              el('td', t('admin.mfa', { totp: yn(m.totp), passkeys: m.passkeys ?? 0, certificates: m.certificates ?? 0 })),
              el('td', t(u.disabled ? 'admin.disabled' : 'admin.active')),
              el('td', u.expires ? when(u.expires) : t('admin.never')),
              el('td', String(u.sessions ?? 0)));
    const actions = el('td');
    // Staff move between staff roles; not the administrator's own role.
    if (state.staffRoles.includes(u.role) && u.username !== state.session?.user) {
      const pick = el('select');
      pick.setAttribute('aria-label', t('admin.role_for', { user: u.username }));
      for (const r of state.staffRoles) {
        const o = el('option', t(`role.${r}`));
        o.value = r;
        o.selected = r === u.role;
        pick.append(o);
      }
      const b = el('button', t('admin.setrole', { user: u.username }));
      b.type = 'button';
      b.addEventListener('click', () => adminAction(u.username, 'role', { role: pick.value }));
      actions.append(pick, ' ', b, ' ');
    }
    for (const what of [u.disabled ? 'enable' : 'disable', 'revoke']) {
      const b = el('button', t(`admin.${what}`, { user: u.username }), what === 'enable' ? undefined : 'danger');
      b.type = 'button';
      b.dataset.user = u.username;
      b.dataset.action = what;
      b.addEventListener('click', () => adminAction(u.username, what));
      actions.append(b, ' ');
    }
    tr.append(actions);
    body.append(tr);
  }
}

async function adminAction(user, what, body = {}) {
  const withPasskey = canPasskeyStepUp() && $('admin-use-passkey').checked;
  let code = $('admin-code').value.replace(/\s+/g, '');
  if (!code && !withPasskey) { fail(t('admin.needcode')); $('admin-code').focus(); return; }
  $('admin-code').value = '';
  try {
    if (withPasskey) code = await passkeyStepUp();
    await call('POST', `/api/admin/users/${encodeURIComponent(user)}/${what}`, { body, headers: { 'X-Step-Up': code } });
    fail('');
    say(t(`admin.done.${what}`, { user, role: body.role ? t(`role.${body.role}`) : '' }));
    await loadUsers();
  } catch (err) {
    // 401 here is the step-up code, not the session (GET /api/auth/session tells).
    if (passkeyError(err)) return;
    if (err instanceof HttpError && err.status === 401 && (await sessionAlive())) { fail(t('admin.badcode')); $('admin-code').focus(); }
    else failWith(err);
  }
}

// Whether the session still works (a 401 from a step-up check is then the code's).
async function sessionAlive() {
  try {
    await call('GET', '/api/auth/session');
    return true;
  } catch {
    return false;
  }
}

// ---- audit export (auditor) ---------------------------------------------------

// Downloads the entries of the last query as CSV from GET /api/audit/export
// (Accept must name JSON too, as for every API route: errors are JSON), which wants a fresh code of the auditor's authenticator (X-Step-Up). The
// file goes straight from memory to the browser's download, through a blob
// URL revoked at once.
async function exportAudit(ev, withPasskey = false) {
  ev.preventDefault();
  let code = $('audit-export-code').value.replace(/\s+/g, '');
  $('audit-export-code').value = '';
  if (!state.auditQuery) { fail(t('audit.need')); return; }
  if (!code && !withPasskey) { fail(t('audit.export.needcode')); $('audit-export-code').focus(); return; }
  try {
    if (withPasskey) code = await passkeyStepUp();
    const res = await fetch(`/api/audit/export?${state.auditQuery}`, {
      headers: { Accept: 'text/csv, application/json', 'X-Step-Up': code }, credentials: 'same-origin', cache: 'no-store', redirect: 'error',
    });
    if (!res.ok) throw new HttpError(res.status, null);
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = el('a');
    a.href = url;
    a.download = 'medvault-audit.csv';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
    fail('');
    say(t('audit.export.done', { n: state.audit?.length ?? 0 }));
  } catch (err) {
    if (passkeyError(err)) return;
    if (err instanceof HttpError && err.status === 401 && (await sessionAlive())) { fail(t('audit.export.badcode')); $('audit-export-code').focus(); }
    else failWith(err);
  }
}

// ---- break-the-glass -------------------------------------------------------

function activeGrant(id) {
  const g = state.grants.get(id);
  if (g && g.until.getTime() > Date.now()) return g;
  if (g) state.grants.delete(id);
  return null;
}

const hhmm = (d) => d.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

// The banner is shown while the patient on screen is under a grant.
function renderBanner() {
  const b = $('bg-banner');
  const g = !state.locked && state.patientId && state.chart ? activeGrant(state.patientId) : null;
  b.hidden = !g;
  b.textContent = g ? t('bg.banner', { patient: g.name, time: hhmm(g.until) }) : '';
}

function openBreakGlass() {
  $('bg-form').reset();
  $('bg-error').hidden = true;
  $('bg-dialog').showModal();
  $('bg-reason').focus();
}

async function breakGlass(ev, withPasskey = false) {
  ev.preventDefault();
  const id = state.patientId;
  const reason = $('bg-reason').value.trim();
  let code = $('bg-code').value.replace(/\s+/g, '');
  const wrong = (text) => { $('bg-error').textContent = text; $('bg-error').hidden = false; };
  if (!reason || (!code && !withPasskey) || !id) { wrong(t('bg.refused')); return; }
  try {
    if (withPasskey) code = await passkeyStepUp();
    const headers = { 'X-Step-Up': code };
    const r = await call('POST', '/api/break-glass', { body: { patient: id, reason }, headers });
    $('bg-code').value = '';
    const until = new Date(r.until);
    state.grants.set(id, { until, name: humanName(state.chart.patient) });
    $('bg-dialog').close();
    // Hide the banner and refresh the chart once the grant has ended.
    setTimeout(() => { renderBanner(); renderWho(); reloadChart(); }, Math.max(0, until.getTime() - Date.now()) + 500);
    await reloadChart();
    renderBanner();
    renderWho();
    $('patient-name').focus();
  } catch (err) {
    $('bg-code').value = '';
    if (err instanceof DOMException) wrong(err.name === 'NotAllowedError' ? t('passkey.cancelled') : err.message);
    else if (err instanceof HttpError && [400, 401, 403, 404].includes(err.status)) wrong(t('bg.refused'));
    else wrong(err instanceof HttpError ? t('error.generic', { status: err.status }) : t('error.network'));
  }
}

// ---- step-up with a passkey ---------------------------------------------------

// Accounts with passkeys may answer a step-up with one instead of a TOTP
// code (GET /api/auth/session: methods.passkeys).
const canPasskeyStepUp = () => (state.session?.methods?.passkeys ?? 0) > 0 && !!window.PublicKeyCredential;

function renderStepUp() {
  for (const id of ['bg-passkey', 'audit-export-passkey', 'admin-passkey-box']) $(id).hidden = !canPasskeyStepUp();
}

// Runs the step-up ceremony with the user's own passkeys and returns the
// one-time token for X-Step-Up (valid 2 minutes, used once).
async function passkeyStepUp() {
  return (await passkeyCeremony('/api/auth/step-up')).step_up;
}

// ---- workstation lock ------------------------------------------------------

let idleTimer = null;

// Seconds of inactivity before the screen locks: <html data-lock-after-s>
// when set (tests), else half the server's idle timeout, at most 5 minutes,
// so the lock comes well before the server ends the session.
function lockDelayS() {
  const set = Number(document.documentElement.dataset.lockAfterS);
  if (Number.isFinite(set) && set > 0) return set;
  const idle = Number(state.session?.idle_timeout_s) || 900;
  return Math.max(10, Math.min(idle / 2, 300));
}

function stopIdleTimer() {
  clearTimeout(idleTimer);
  idleTimer = null;
}

function startIdleTimer() {
  stopIdleTimer();
  if (state.session && !state.locked) idleTimer = setTimeout(lock, lockDelayS() * 1000);
}

function activity() { if (idleTimer) startIdleTimer(); }

// Locks the screen: the drafts and the open patient are kept in memory,
// every patient datum leaves the DOM, and the server session is ended so
// that the cookie left in the browser opens nothing; unlocking signs in again.
function lock() {
  stopIdleTimer();
  if (!state.session || state.locked) return;
  if ($('bg-dialog').open) $('bg-dialog').close();
  state.locked = {
    user: state.session.user,
    patientId: state.patientId,
    drafts: { note: $('note-text').value, vitalKind: $('vital-kind').value, vitalValue: $('vital-value').value, search: $('search-name').value },
  };
  state.chart = null;
  state.patientId = null;
  clearPatientData();
  fail('');
  say('');
  $('lock-intro').textContent = t('lock.intro', { user: state.locked.user });
  show('lock');
  renderWho();
  call('POST', '/api/auth/logout').catch(() => {});  // already ended or offline: nothing to undo
}

async function unlocked(session) {
  const was = state.locked;
  if (!was) return;
  if (session.user !== was.user) { await signOut(t('lock.other')); return; }
  state.locked = null;
  $('lock-form').reset();
  await signedIn(session);
  $('search-name').value = was.drafts.search;
  if (was.patientId) await openPatient(was.patientId, { focus: false });
  $('note-text').value = was.drafts.note;
  $('vital-kind').value = was.drafts.vitalKind;
  $('vital-value').value = was.drafts.vitalValue;
  renderBanner();
  (was.drafts.note ? $('note-text') : $('search-name')).focus();
}

async function unlockWithPassword(ev) {
  ev.preventDefault();
  const body = { username: state.locked?.user ?? '', password: $('lock-password').value };
  const code = $('lock-code').value.replace(/\s+/g, '');
  if (code) body.code = code;
  $('lock-form').reset();
  try {
    await unlocked(await call('POST', '/api/auth/login', { body }));
  } catch (err) {
    if (err instanceof HttpError && err.status === 429) fail(t('signin.throttled', { n: err.retryAfter ?? 1 }));
    else if (err instanceof HttpError && err.status === 401) fail(t('lock.failed'));
    else failWith(err);
    $('lock-password').focus();
  }
}

// ---- sessions -------------------------------------------------------------

function when(v) {
  if (v === undefined || v === null || v === '') return '';
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleString(lang);
}

async function loadSessions() {
  try {
    const r = await call('GET', '/api/auth/sessions');
    const body = $('sessions');
    clear(body);
    for (const s of r.sessions ?? []) {
      const tr = el('tr');
      tr.append(el('td', when(s.created)), el('td', when(s.last_used)), el('td', when(s.expires)));
      const actions = el('td');
      if (s.current) {
        actions.append(el('span', t('sessions.current'), 'tag'));
      } else {
        const b = el('button', t('sessions.end'));
        b.type = 'button';
        b.addEventListener('click', () => endSession(s.id));
        actions.append(b);
      }
      tr.append(actions);
      body.append(tr);
    }
  } catch (err) {
    failWith(err);
  }
}

async function endSession(id) {
  try {
    await call('DELETE', `/api/auth/sessions/${encodeURIComponent(id)}`);
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 404)) { failWith(err); return; }
  }
  await loadSessions();
}

// ---- start ----------------------------------------------------------------

function translatePage() {
  document.documentElement.lang = lang;
  document.title = t('app.name');
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll('[data-i18n-label]')) e.setAttribute('aria-label', t(e.dataset.i18nLabel));
}

// Switches between French and English and re-renders what is on screen
// from memory: form fields, the open chart and drafts are kept.
function switchLanguage() {
  lang = lang === 'fr' ? 'en' : 'fr';
  translatePage();
  renderWho();
  renderSearch();
  renderAudit();
  renderUsers();
  renderChart();
  renderBanner();
  if (state.locked) $('lock-intro').textContent = t('lock.intro', { user: state.locked.user });
  if (state.session && !state.locked && !$('view-home').hidden) loadSessions();
}

function wire() {
  $('signin-form').addEventListener('submit', passwordSignIn);
  $('signin-passkey').addEventListener('click', passkeySignIn);
  $('signout').addEventListener('click', () => signOut());
  $('lang').addEventListener('click', switchLanguage);
  $('totp-start').addEventListener('click', startTotp);
  $('totp-form').addEventListener('submit', confirmTotp);
  $('recovery-done').addEventListener('click', () => { clear($('recovery-codes')); refreshSession(); });
  $('enrol-passkey').addEventListener('click', () => registerPasskey($('enrol-passkey-label')));
  $('home-passkey').addEventListener('click', () => registerPasskey($('home-passkey-label')));
  $('search-form').addEventListener('submit', search);
  $('patient-close').addEventListener('click', closePatient);
  $('logout-all').addEventListener('click', signOutEverywhere);
  $('note-form').addEventListener('submit', saveNote);
  $('audit-form').addEventListener('submit', auditQuery);
  $('vital-form').addEventListener('submit', saveVital);
  $('encounter-form').addEventListener('submit', saveEncounter);
  $('allergy-form').addEventListener('submit', saveAllergy);
  $('medication-form').addEventListener('submit', saveMedication);
  $('consent-form').addEventListener('submit', saveConsent);
  $('audit-export-form').addEventListener('submit', exportAudit);
  $('audit-export-passkey').addEventListener('click', (ev) => exportAudit(ev, true));
  $('bg-passkey').addEventListener('click', (ev) => breakGlass(ev, true));
  $('signin-cert').addEventListener('click', certificateSignIn);
  $('bg-open').addEventListener('click', openBreakGlass);
  $('bg-form').addEventListener('submit', breakGlass);
  $('bg-cancel').addEventListener('click', () => { $('bg-form').reset(); $('bg-dialog').close(); });
  $('lock-form').addEventListener('submit', unlockWithPassword);
  $('lock-passkey').addEventListener('click', passkeySignIn);
  $('lock-signout').addEventListener('click', () => signOut());
  for (const type of ['keydown', 'pointerdown', 'input', 'wheel']) document.addEventListener(type, activity, { capture: true, passive: true });
}

translatePage();
wire();
refreshSession();
