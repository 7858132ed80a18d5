// Issue 4, "What must be shown" 1: a physician signs in to the staff web app
// in a real browser (headless Debian chromium, driven by playwright-core)
// with a password, registers a passkey on a virtual authenticator (CTAP2,
// internal, resident key, user verification), signs out, signs in again
// with the passkey alone, finds a patient by name prefix and sees the
// imported name and birth date; the workstation locks and the passkey
// unlocks it (a new session; the old one ended); the passkey-only physician
// breaks the glass for a patient outside her care with the passkey as
// step-up (no TOTP exists). Along the way: the session cookie's
// attributes, the refusal of a signed-out cookie, the 401 and 429 messages,
// and no Content-Security-Policy violation. A second test enrols an
// authenticator app (TOTP by oathtool), gets the recovery codes and signs in
// with one.
//
// Screenshots (sign-in, enrolment, patient) go to $MEDVAULT_SCREENSHOTS, else
// to the test's temporary directory. Chromium is required: no skipping.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { Vault } from '../http/medvault.mjs';
import { freePort } from './lib.mjs';

const CHROMIUM = process.env.MEDVAULT_CHROMIUM || '/usr/bin/chromium';
const USER = 'drweb';
const NURSE = 'nurseweb';
const PASSWORD = 'Velvet-Orbit-Cactus-4417';
const COOKIE = '__Host-mv_session';

// The practice's data: Élodie's GP is the physician's practitioner (the care
// relationship that lets the physician read her conditions).
const PATIENT = { id: 'pt-elodie', name: 'Élodie Marchetti', birthDate: '1984-03-17' };
const RESOURCES = [
  { resourceType: 'Practitioner', id: 'dr-web', name: [{ family: 'Weber', given: ['Anna'] }] },
  {
    resourceType: 'Patient', id: PATIENT.id, gender: 'female', birthDate: PATIENT.birthDate,
    name: [{ use: 'official', family: 'Marchetti', given: ['Élodie'] }],
    identifier: [{ type: { text: 'MRN' }, system: 'urn:medvault:test:mrn', value: 'MRN-004217' }],
    generalPractitioner: [{ reference: 'Practitioner/dr-web' }],
  },
  {
    resourceType: 'Patient', id: 'pt-hugo', gender: 'male', birthDate: '1990-11-02',
    name: [{ use: 'official', family: 'Marchal', given: ['Hugo'] }],
  },
  {
    resourceType: 'Patient', id: 'pt-other', gender: 'female', birthDate: '1975-05-30',
    name: [{ use: 'official', family: 'Okafor', given: ['Grace'] }],
    generalPractitioner: [{ reference: 'Practitioner/dr-web' }],
  },
  {
    resourceType: 'Condition', id: 'c-diabetes', subject: { reference: `Patient/${PATIENT.id}` },
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006', display: 'Type 2 diabetes mellitus' }] },
    onsetDateTime: '2015-06-01',
  },
  {
    resourceType: 'Condition', id: 'c-hypertension', subject: { reference: `Patient/${PATIENT.id}` },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '59621000', display: 'Essential hypertension' }] },
  },
  {
    resourceType: 'Condition', id: 'c-hugo', subject: { reference: 'Patient/pt-hugo' },
    code: { text: 'Fractured left wrist' },
  },
  {
    resourceType: 'Condition', id: 'c-other', subject: { reference: 'Patient/pt-other' },
    code: { text: 'Asthma' },
  },
];

let vault;
let server;
let port;
let context;
let page;
let shots;
const problems = [];  // CSP violations and uncaught page errors


// A plain HTTPS request outside the browser, trusting the vault's certificate.
function plainRequest(method, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, method, path, servername: 'localhost', ca: readFileSync(vault.cert),
      headers: { Host: `localhost:${port}`, Accept: 'application/json', ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.once('error', reject);
    req.end();
  });
}

async function sessionCookie() {
  const cookies = await context.cookies(`https://localhost:${port}/`);
  return cookies.find((c) => c.name === COOKIE);
}

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

const visible = (selector) => page.locator(selector).waitFor({ state: 'visible', timeout: 15000 });

before(async () => {
  assert.ok(existsSync(CHROMIUM), `chromium is required at ${CHROMIUM} (apt-get install chromium)`);
  vault = new Vault();
  shots = process.env.MEDVAULT_SCREENSHOTS || join(vault.tmp, 'screenshots');
  mkdirSync(shots, { recursive: true });

  const ndjson = join(vault.tmp, 'practice.ndjson');
  writeFileSync(ndjson, RESOURCES.map((r) => JSON.stringify(r)).join('\n') + '\n');
  vault.run('import', '--data', vault.data, ndjson);
  for (const [name, role] of [[USER, 'physician'], [NURSE, 'nurse']]) {
    vault.run('user', 'add', name, '--role', role, '--practitioner', 'dr-web', '--data', vault.data);
    vault.env.MEDVAULT_NEW_PASSWORD = PASSWORD;  // never in argv
    try {
      vault.run('user', 'set-password', name, '--data', vault.data);
    } finally {
      delete vault.env.MEDVAULT_NEW_PASSWORD;
    }
  }

  port = await freePort();
  server = await vault.serve({
    listen: `127.0.0.1:${port}`,
    extra: ['--public-url', `https://localhost:${port}`],
  });

  context = await chromium.launchPersistentContext(join(vault.tmp, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
});

after(async () => {
  await context?.close();
  if (server) assert.equal(await server.stop(), 0, 'server exit code after SIGTERM');
  vault?.close();
});

test('password, passkey registration, passkey sign-in, patient search and view', async () => {
  // -- the page and its headers ------------------------------------------------
  const res = await page.goto(`https://localhost:${port}/`);
  assert.equal(res.status(), 200);
  const h = res.headers();
  assert.equal(h['content-security-policy'], "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  assert.match(h['content-type'], /^text\/html/);
  await visible('#signin-title');
  assert.equal(await page.locator('#signin-title').textContent(), 'Sign in');
  assert.equal(await page.locator('label[for=signin-username]').textContent(), 'User name');
  await shot('1-sign-in');

  // -- a wrong password: the one fixed 401 message -------------------------------
  await page.fill('#signin-username', USER);
  await page.fill('#signin-password', 'not-the-password-1');
  await page.click('#signin-submit');
  await page.locator('#error', { hasText: 'Sign-in failed' }).waitFor({ timeout: 15000 });
  assert.equal(await page.inputValue('#signin-password'), '', 'the password field is cleared');

  // -- throttling: the 429 message with the wait (an unknown account's counter) --
  let throttled = '';
  for (let i = 0; i < 8 && !throttled; ++i) {
    await page.fill('#signin-username', 'nobody-here');
    await page.fill('#signin-password', `wrong-guess-${i}`);
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/auth/login'));
    await page.click('#signin-submit');
    if ((await answer).status() === 429) throttled = await page.locator('#error').textContent();
  }
  assert.match(throttled, /^Too many attempts, try again in \d+ s$/);

  // -- password sign-in: a second factor must be enrolled ------------------------
  await page.fill('#signin-username', USER);
  await page.fill('#signin-password', PASSWORD);
  await page.click('#signin-submit');
  await visible('#enrol-title');
  assert.equal(await page.locator('#who').textContent(), `${USER} (physician)`);
  const first = await sessionCookie();
  assert.ok(first, 'a session cookie after the password sign-in');
  assert.equal(first.httpOnly, true, 'session cookie HttpOnly');
  assert.equal(first.secure, true, 'session cookie Secure');
  assert.equal(first.sameSite, 'Strict', 'session cookie SameSite=Strict');
  assert.equal(first.path, '/');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the script cannot read the session cookie');

  // The authenticator-app QR code goes in under the CSP (DOMParser + importNode).
  await page.click('#totp-start');
  await visible('#totp-qr svg');
  assert.match(await page.locator('#totp-secret').textContent(), /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
  await shot('2-enrolment');

  // -- passkey registration on a virtual authenticator ---------------------------
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  await page.fill('#enrol-passkey-label', 'Test laptop');
  await page.click('#enrol-passkey');
  await visible('#search-title');  // enrolment done: the app proper
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true);
  assert.equal(credentials[0].rpId, 'localhost');

  // -- sign out: the old cookie is dead for the server too -----------------------
  await page.click('#signout');
  await visible('#signin-title');
  assert.equal(await sessionCookie(), undefined, 'cookie cleared by sign-out');
  const replay = await plainRequest('GET', '/api/auth/session', { Cookie: `${COOKIE}=${first.value}` });
  assert.equal(replay.status, 401, 'a signed-out session cookie is refused');

  // -- passkey sign-in, no password ----------------------------------------------
  assert.equal(await page.inputValue('#signin-password'), '');
  await page.click('#signin-passkey');
  await visible('#search-title');
  assert.equal(await page.locator('#who').textContent(), `${USER} (physician)`);
  const second = await sessionCookie();
  assert.ok(second && second.value !== first.value, 'a new session');
  assert.equal(second.httpOnly && second.secure && second.sameSite === 'Strict', true);

  // -- patient search by name prefix and the patient view ------------------------
  await page.fill('#search-name', 'March');
  await page.press('#search-name', 'Enter');
  const results = page.locator('#search-results button');
  await results.first().waitFor({ timeout: 15000 });
  const names = await page.locator('#search-results .result-name').allTextContents();
  assert.deepEqual(names.sort(), ['Hugo Marchal', PATIENT.name]);
  await page.locator('#search-results button', { hasText: PATIENT.name }).click();
  await visible('#patient');
  assert.equal(await page.locator('#patient-name').textContent(), PATIENT.name);
  assert.equal(await page.locator('#patient-birthdate').textContent(), PATIENT.birthDate);
  assert.equal(await page.locator('#patient-gender').textContent(), 'female');
  assert.deepEqual(await page.locator('#patient-identifiers li').allTextContents(), ['MRN: MRN-004217']);
  const conditions = await page.locator('#patient-conditions li').allTextContents();
  assert.deepEqual(conditions.sort(), ['Essential hypertension', 'Type 2 diabetes mellitus — since 2015-06-01']);
  await shot('3-patient');

  // Patient data stays out of the page URL and the browser's storage.
  assert.equal(page.url(), `https://localhost:${port}/`);
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);

  // -- workstation lock, unlocked with the passkey: the chart comes back -------
  await page.evaluate(() => { document.documentElement.dataset.lockAfterS = '1'; });
  await page.keyboard.press('Shift');  // activity: the lock timer restarts with 1 s
  await visible('#lock-title');
  assert.ok(!(await page.content()).includes('Marchetti'), 'the locked page holds no patient data');
  await page.evaluate(() => { delete document.documentElement.dataset.lockAfterS; });
  await page.click('#lock-passkey');
  await page.locator('#patient-name', { hasText: PATIENT.name }).waitFor({ timeout: 15000 });
  const third = await sessionCookie();
  assert.ok(third && third.value !== second.value, 'unlocking opened a new session');
  const locked = await plainRequest('GET', '/api/auth/session', { Cookie: `${COOKIE}=${second.value}` });
  assert.equal(locked.status, 401, 'the session of before the lock was ended');

  // -- break the glass with the passkey as step-up (no relationship to Hugo) ----
  const stepUps = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/break-glass')) stepUps.push(r.headers()['x-step-up']); });
  await page.click('#patient-close');
  await page.fill('#search-name', 'Marchal');
  await page.press('#search-name', 'Enter');
  await page.locator('#search-results button', { hasText: 'Hugo Marchal' }).click();
  await page.locator('#patient-name', { hasText: 'Hugo Marchal' }).waitFor({ timeout: 15000 });
  await visible('#bg-offer');
  assert.ok(!(await page.content()).includes('Fractured left wrist'), 'no clinical data without relationship');
  await page.click('#bg-open');
  await visible('#bg-dialog');
  assert.equal(await page.locator('#bg-passkey').textContent(), 'Open the record with my passkey');
  await page.fill('#bg-reason', 'Found unconscious in the car park');
  await page.click('#bg-passkey');
  await visible('#bg-banner');
  assert.match(await page.locator('#bg-banner').textContent(), /^Emergency access to Hugo Marchal until \d\d:\d\d$/);
  await page.locator('#patient-conditions li', { hasText: 'Fractured left wrist' }).waitFor({ timeout: 15000 });
  assert.equal(stepUps.length, 1, 'one break-the-glass request');
  assert.match(stepUps[0], /^mvu_[A-Za-z0-9_-]{43}$/, 'the step-up is the passkey ceremony\'s one-time token');
  await shot('4-break-the-glass-passkey');

  // -- the user's sessions; sign out everywhere ----------------------------------
  await page.locator('#sessions tr').first().waitFor({ timeout: 15000 });
  assert.ok((await page.locator('#sessions').textContent()).includes('this browser'));
  await page.click('#logout-all');
  await visible('#signin-title');
  assert.equal(await page.locator('#patient-name').textContent(), '', 'patient data cleared from the page');
  const replay2 = await plainRequest('GET', '/api/auth/session', { Cookie: `${COOKIE}=${third.value}` });
  assert.equal(replay2.status, 401, 'a session ended by "sign out everywhere" is refused');

  assert.deepEqual(problems, [], 'no CSP violation, no script error');
  const logs = server.logs.join('\n');
  for (const secret of [PASSWORD, 'Marchetti', PATIENT.birthDate, first.value, second.value, third.value])
    assert.ok(!logs.includes(secret), 'no password, patient data or cookie in the server logs');
});

// The current TOTP code of a base32 secret (oathtool reads the key on stdin).
function totp(secret) {
  const p = spawnSync('oathtool', ['--totp', '-b', '-'], { input: secret, encoding: 'utf8' });
  assert.equal(p.status, 0, `oathtool: ${p.stderr}`);
  return p.stdout.trim();
}

test('authenticator app enrolment, recovery codes, sign-in with a recovery code', async () => {
  await page.goto(`https://localhost:${port}/`);
  await visible('#signin-title');
  await page.fill('#signin-username', NURSE);
  await page.fill('#signin-password', PASSWORD);
  await page.click('#signin-submit');
  await visible('#enrol-title');
  await page.click('#totp-start');
  await visible('#totp-qr svg');
  const secret = (await page.locator('#totp-secret').textContent()).replace(/ /g, '');

  // A wrong code first: the message, and the enrolment stays open.
  const good = totp(secret);
  await page.fill('#totp-code', good === '000000' ? '111111' : '000000');
  await page.click('#totp-form button[type=submit]');
  await page.locator('#error', { hasText: 'That code is not right' }).waitFor({ timeout: 15000 });
  await page.fill('#totp-code', totp(secret));
  await page.click('#totp-form button[type=submit]');
  await visible('#recovery');
  const codes = await page.locator('#recovery-codes li').allTextContents();
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  await page.click('#recovery-done');
  await visible('#search-title');
  assert.equal(await page.locator('#recovery-codes li').count(), 0, 'recovery codes are gone from the page');

  // Sign out; the password alone is no longer enough; a recovery code is.
  await page.click('#signout');
  await visible('#signin-title');
  await page.fill('#signin-username', NURSE);
  await page.fill('#signin-password', PASSWORD);
  await page.click('#signin-submit');
  await page.locator('#error', { hasText: 'Sign-in failed' }).waitFor({ timeout: 15000 });
  await page.fill('#signin-password', PASSWORD);
  await page.fill('#signin-code', codes[0]);
  await page.click('#signin-submit');
  await visible('#search-title');
  assert.equal(await page.locator('#who').textContent(), `${NURSE} (nurse)`);
  await page.click('#signout');
  await visible('#signin-title');
  assert.deepEqual(problems, [], 'no CSP violation, no script error');
});
