// medvault staff web app: sign-in (password + code, passkey), second-factor
// enrolment, patient search and view, the user's sessions.
//
// Rules this file keeps (docs/architecture.md, "Staff web app"):
// - The page's CSP allows only same-origin scripts and styles: no inline
//   script or style, no eval, no data URLs. Text goes in with textContent,
//   never as markup; the QR code SVG is parsed with DOMParser and imported.
// - Patient data lives only in this module's memory and the DOM: never in
//   the page URL or history, never in Web Storage. Sign-out clears it.
// - The session cookie is HttpOnly: the script never sees it. Every request
//   other than GET carries X-CSRF-Token (from sign-in or GET /api/auth/session).
// - Every user-visible string is in STRINGS, keyed by id.

const STRINGS = {
  en: {
    'app.name': 'medvault',
    'skip': 'Skip to content',
    'loading': 'Loading…',
    'signin.title': 'Sign in',
    'signin.username': 'User name',
    'signin.password': 'Password',
    'signin.code': 'Code',
    'signin.code.hint': 'The 6-digit code of your authenticator app, or a recovery code. Leave empty if you have no second factor yet.',
    'signin.submit': 'Sign in',
    'signin.or': 'or',
    'signin.passkey': 'Sign in with a passkey',
    'signin.failed': 'Sign-in failed. Check your user name, password and code.',
    'signin.throttled': 'Too many attempts, try again in {n} s',
    'signin.ended': 'Your session has ended. Please sign in again.',
    'signin.signedout': 'You are signed out.',
    'passkey.unsupported': 'This browser cannot use passkeys.',
    'passkey.cancelled': 'The passkey request was cancelled or timed out.',
    'header.who': '{user} ({role})',
    'header.signout': 'Sign out',
    'enrol.title': 'Set up a second factor',
    'enrol.intro': 'Your account needs a second factor before you can open patient records. Choose one.',
    'totp.title': 'Authenticator app',
    'totp.start': 'Set up an authenticator app',
    'totp.scan': 'Scan this QR code with your authenticator app, or type the key into it. Then enter the code it shows.',
    'totp.qr': 'QR code for your authenticator app',
    'totp.secret': 'Key:',
    'totp.code': 'Code shown by the app',
    'totp.confirm': 'Confirm',
    'totp.wrong': 'That code is not right. Wait for the next code and try again.',
    'recovery.title': 'Your recovery codes',
    'recovery.intro': 'Keep these codes somewhere safe: each one signs you in once if you lose your authenticator. They are shown only now.',
    'recovery.done': 'I have saved these codes',
    'passkey.title': 'Passkey',
    'passkey.label': 'Name of the passkey (optional)',
    'passkey.label.default': 'Passkey',
    'passkey.register': 'Register a passkey',
    'passkey.another': 'Register another passkey',
    'passkey.registered': 'Passkey registered.',
    'passkey.failed': 'The passkey could not be registered.',
    'search.title': 'Find a patient',
    'search.name': 'Name or its beginning',
    'search.submit': 'Search',
    'search.none': 'No patient found.',
    'search.count': 'Patients found: {n}',
    'search.more': 'Only the first {n} are shown: type more of the name.',
    'patient.birthdate': 'Birth date',
    'patient.gender': 'Gender',
    'patient.identifiers': 'Identifiers',
    'patient.conditions': 'Conditions',
    'patient.noconditions': 'No condition recorded.',
    'patient.unnamed': '(no name)',
    'patient.close': 'Close',
    'patient.notfound': 'This patient cannot be shown.',
    'gender.male': 'male',
    'gender.female': 'female',
    'gender.other': 'other',
    'gender.unknown': 'unknown',
    'condition.since': 'since {date}',
    'role.physician': 'physician',
    'role.nurse': 'nurse',
    'role.reception': 'reception',
    'role.manager': 'manager',
    'role.it-admin': 'IT administrator',
    'role.auditor': 'auditor',
    'account.title': 'Your account',
    'sessions.title': 'Your sessions',
    'sessions.created': 'Started',
    'sessions.last_used': 'Last used',
    'sessions.expires': 'Expires',
    'sessions.actions': 'Actions',
    'sessions.current': 'this browser',
    'sessions.end': 'End this session',
    'sessions.logout_all': 'Sign out everywhere',
    'error.generic': 'Something went wrong (HTTP {status}).',
    'error.network': 'The server cannot be reached.',
    'error.forbidden': 'You are not allowed to do this.',
  },
};

const lang = 'en';
const SEARCH_PAGE = 20;

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
async function call(method, path, { body, accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
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
  for (const v of ['signin', 'enrol', 'home']) $(`view-${v}`).hidden = v !== view;
  const signedIn = view !== 'signin';
  $('who').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  const heading = { signin: 'signin-title', enrol: 'enrol-title', home: 'search-title' }[view];
  $(heading).focus();
}

function clear(el) { el.replaceChildren(); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// Drops everything of the signed-in user from memory and the page.
function forget() {
  state.session = null;
  state.patientId = null;
  for (const id of ['search-results', 'patient-identifiers', 'patient-conditions', 'sessions', 'recovery-codes', 'totp-qr'])
    clear($(id));
  for (const id of ['patient-name', 'patient-birthdate', 'patient-gender', 'search-summary', 'totp-secret', 'who'])
    $(id).textContent = '';
  for (const f of ['signin-form', 'search-form', 'totp-form']) $(f).reset();
  $('patient').hidden = true;
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
  const role = STRINGS[lang][`role.${session.role}`] ?? session.role;
  $('who').textContent = t('header.who', { user: session.user, role });
  if (session.enrol_required) {
    show('enrol');
    return;
  }
  show('home');
  await loadSessions();
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

async function passkeySignIn() {
  if (!window.PublicKeyCredential) { fail(t('passkey.unsupported')); return; }
  try {
    const begin = await call('POST', '/api/auth/passkey/login/begin', { body: {} });
    const pk = begin.publicKey;
    const cred = await navigator.credentials.get({
      publicKey: { ...pk, challenge: fromB64u(pk.challenge), allowCredentials: withIds(pk.allowCredentials) },
    });
    const r = cred.response;
    const session = await call('POST', '/api/auth/passkey/login/finish', {
      body: {
        ceremony: begin.ceremony,
        id: cred.id,
        clientDataJSON: toB64u(r.clientDataJSON),
        authenticatorData: toB64u(r.authenticatorData),
        signature: toB64u(r.signature),
        userHandle: r.userHandle ? toB64u(r.userHandle) : '',
      },
    });
    await signedIn(session);
  } catch (err) {
    if (!passkeyError(err)) signinFailed(err);
  }
}

async function signOut() {
  try {
    await call('POST', '/api/auth/logout');
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 401)) { failWith(err); return; }
  }
  signedOut(t('signin.signedout'));
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
  const name = ev.target.name.value.trim();
  if (!name) return;
  const list = $('search-results');
  clear(list);
  say(t('loading'));
  try {
    const q = new URLSearchParams({ name, _count: String(SEARCH_PAGE) });
    const bundle = await fhir(`/fhir/Patient?${q}`);
    const patients = (bundle.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === 'Patient');
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
    if (bundle.link?.some((l) => l.relation === 'next')) summary += ' ' + t('search.more', { n: SEARCH_PAGE });
    $('search-summary').textContent = summary;
    say('');
  } catch (err) {
    say('');
    failWith(err);
  }
}

async function openPatient(id) {
  state.patientId = id;
  say(t('loading'));
  try {
    const path = encodeURIComponent(id);
    const [p, conditions] = await Promise.all([
      fhir(`/fhir/Patient/${path}`),
      fhir(`/fhir/Condition?${new URLSearchParams({ patient: id, _count: '100' })}`),
    ]);
    if (state.patientId !== id) return;  // another patient was opened meanwhile
    $('patient-name').textContent = humanName(p);
    $('patient-birthdate').textContent = p.birthDate ?? '';
    $('patient-gender').textContent = p.gender ? t(`gender.${p.gender}`) : '';
    const ids = $('patient-identifiers');
    clear(ids);
    for (const i of p.identifier ?? []) {
      const kind = codeText(i.type) || i.system || '';
      ids.append(el('li', kind ? `${kind}: ${i.value ?? ''}` : i.value ?? ''));
    }
    const list = $('patient-conditions');
    clear(list);
    const found = (conditions.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === 'Condition');
    for (const c of found) {
      const since = c.onsetDateTime ? ' — ' + t('condition.since', { date: c.onsetDateTime.slice(0, 10) }) : '';
      list.append(el('li', codeText(c.code) + since));
    }
    if (!found.length) list.append(el('li', t('patient.noconditions'), 'hint'));
    fail('');
    say('');
    $('patient').hidden = false;
    $('patient-name').focus();
  } catch (err) {
    say('');
    if (err instanceof HttpError && (err.status === 404 || err.status === 410)) fail(t('patient.notfound'));
    else failWith(err);
  }
}

function closePatient() {
  state.patientId = null;
  $('patient').hidden = true;
  for (const id of ['patient-identifiers', 'patient-conditions']) clear($(id));
  for (const id of ['patient-name', 'patient-birthdate', 'patient-gender']) $(id).textContent = '';
  $('search-name').focus();
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
}

function wire() {
  $('signin-form').addEventListener('submit', passwordSignIn);
  $('signin-passkey').addEventListener('click', passkeySignIn);
  $('signout').addEventListener('click', signOut);
  $('totp-start').addEventListener('click', startTotp);
  $('totp-form').addEventListener('submit', confirmTotp);
  $('recovery-done').addEventListener('click', () => { clear($('recovery-codes')); refreshSession(); });
  $('enrol-passkey').addEventListener('click', () => registerPasskey($('enrol-passkey-label')));
  $('home-passkey').addEventListener('click', () => registerPasskey($('home-passkey-label')));
  $('search-form').addEventListener('submit', search);
  $('patient-close').addEventListener('click', closePatient);
  $('logout-all').addEventListener('click', signOutEverywhere);
}

translatePage();
wire();
refreshSession();
