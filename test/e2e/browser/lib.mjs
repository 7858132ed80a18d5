// Shared set-up of the browser tests: a temporary vault with the given
// FHIR resources and users, `medvault serve` on a known port (the WebAuthn
// rpId is `localhost`), headless Debian chromium driven by playwright-core,
// TOTP codes by oathtool, and a plain HTTPS client for the API.
//
// Chromium is required: no skipping.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Vault } from '../http/medvault.mjs';

export const CHROMIUM = process.env.MEDVAULT_CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'Velvet-Orbit-Cactus-4417';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
              '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// axe-core: no serious or critical violation on what `page` shows now. The
// page's CSP (default-src 'self') refuses an injected <script>; axe's source
// is evaluated through CDP (Runtime.evaluate), which the CSP does not
// govern, so nothing is relaxed for the page itself.
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export async function axe(page, label) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  assert.deepEqual(bad, [], `axe-core on ${label}`);
}

// A port that was free a moment ago: the rpId must be `localhost` and the
// origin known before the server starts, so port 0 cannot be used.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// TOTP codes of base32 secrets. Each code is accepted once by the server,
// so code() waits for the next 30 s window when the current code of this
// secret was already handed out.
const used = new Map();
export async function totp(secret) {
  for (;;) {
    const p = spawnSync('oathtool', ['--totp', '-b', '-'], { input: secret, encoding: 'utf8' });
    assert.equal(p.status, 0, `oathtool: ${p.stderr}`);
    const code = p.stdout.trim();
    if (used.get(secret) !== code) {
      used.set(secret, code);
      return code;
    }
    await sleep(1000);
  }
}

// Starts a practice: `resources` imported, `users` = [{name, role,
// practitioner?, totp?: true, stepUp?: true}] with PASSWORD; `env` extra
// server environment, `serveArgs` extra `serve` arguments, `beforeServe(vault)`
// a hook run before the server starts. Resolves to an object with the vault,
// server, page and helpers; call close() in after().
export async function startPractice({ resources, users, env = {}, serveArgs = [], beforeServe }) {
  assert.ok(existsSync(CHROMIUM), `chromium is required at ${CHROMIUM} (apt-get install chromium)`);
  const vault = new Vault();
  Object.assign(vault.env, env);
  const shots = process.env.MEDVAULT_SCREENSHOTS || join(vault.tmp, 'screenshots');
  mkdirSync(shots, { recursive: true });

  const ndjson = join(vault.tmp, 'practice.ndjson');
  writeFileSync(ndjson, resources.map((r) => JSON.stringify(r)).join('\n') + '\n');
  vault.run('import', '--data', vault.data, ndjson);
  const secrets = {};      // user -> TOTP secret for sign-in
  const stepUps = {};      // user -> step-up secret for break-the-glass
  for (const u of users) {
    const args = ['user', 'add', u.name, '--role', u.role, '--data', vault.data];
    if (u.practitioner) args.push('--practitioner', u.practitioner);
    vault.run(...args);
    vault.env.MEDVAULT_NEW_PASSWORD = PASSWORD;  // never in argv
    try {
      vault.run('user', 'set-password', u.name, '--data', vault.data);
    } finally {
      delete vault.env.MEDVAULT_NEW_PASSWORD;
    }
    if (u.stepUp) stepUps[u.name] = vault.run('user', 'step-up-enroll', u.name, '--data', vault.data).stdout.trim();
  }

  if (beforeServe) await beforeServe(vault);
  const port = await freePort();
  const server = await vault.serve({
    listen: `127.0.0.1:${port}`,
    extra: ['--public-url', `https://localhost:${port}`, ...serveArgs],
  });
  const origin = `https://localhost:${port}`;

  // A plain HTTPS request outside the browser, trusting the vault's certificate.
  const api = (method, path, { headers = {}, body } = {}) => new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({
      host: '127.0.0.1', port, method, path, servername: 'localhost', ca: readFileSync(vault.cert),
      headers: {
        Host: `localhost:${port}`, Accept: 'application/json', ...headers,
        ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.once('error', reject);
    req.end(data);
  });

  // Enrols an authenticator app for the users that want one, through the API.
  for (const u of users.filter((x) => x.totp)) {
    const login = await api('POST', '/api/auth/login', { body: { username: u.name, password: PASSWORD } });
    assert.equal(login.status, 200, login.body);
    const cookie = login.headers['set-cookie'][0].split(';')[0];
    const headers = { Cookie: cookie, 'X-CSRF-Token': JSON.parse(login.body).csrf, Origin: origin };
    const enrol = await api('POST', '/api/auth/totp/enrol', { headers, body: {} });
    assert.equal(enrol.status, 200, enrol.body);
    secrets[u.name] = JSON.parse(enrol.body).secret;
    const confirm = await api('POST', '/api/auth/totp/confirm', { headers, body: { code: await totp(secrets[u.name]) } });
    assert.equal(confirm.status, 200, confirm.body);
    assert.equal((await api('POST', '/api/auth/logout', { headers })).status, 204);
  }

  const context = await chromium.launchPersistentContext(join(vault.tmp, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    locale: 'en-GB',
    args: ARGS,
  });
  const page = context.pages()[0] ?? await context.newPage();
  const problems = [];  // CSP violations and uncaught page errors
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });

  const visible = (selector, p = page) => p.locator(selector).waitFor({ state: 'visible', timeout: 15000 });
  let browser = null;  // a second, non-persistent browser for other users' contexts
  return {
    vault, server, port, origin, context, page, problems, secrets, stepUps, api, visible, shots,
    shot: (name, path) => page.screenshot({ path: path ?? join(shots, `${name}.png`), fullPage: !path }),
    // A page in a fresh browser context (another person at another
    // workstation); `options` go to browser.newContext (clientCertificates...).
    async newPage(options = {}) {
      browser ??= await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
      const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB', ...options });
      const p = await ctx.newPage();
      p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      return p;
    },
    // Opens the app and signs in with password and a fresh TOTP code.
    async signIn(user, p = page) {
      await p.goto(`${origin}/`);
      await visible('#signin-title', p);
      await p.fill('#signin-username', user);
      await p.fill('#signin-password', PASSWORD);
      if (secrets[user]) await p.fill('#signin-code', await totp(secrets[user]));
      await p.click('#signin-submit');
      await visible('#view-home', p);
    },
    // Finds a patient by name prefix and opens the chart.
    async openPatient(prefix, name, p = page) {
      await p.fill('#search-name', prefix);
      await p.press('#search-name', 'Enter');
      await p.locator('#search-results button', { hasText: name }).click();
      await visible('#patient', p);
      await p.locator('#patient-name', { hasText: name }).waitFor({ timeout: 15000 });
      // The chart may already show this patient while the new load is still in flight.
      await p.locator('#patient:not([aria-busy])').waitFor({ timeout: 15000 });
    },
    async close() {
      await browser?.close();
      await context?.close();
      if (server) assert.equal(await server.stop(), 0, 'server exit code after SIGTERM');
      vault?.close();
    },
  };
}

// The resources of one patient of the Synthea sample in /work/shared/data
// (or $MEDVAULT_SYNTHEA): the Patient and every resource naming it, plus
// `patch` applied to the Patient.
export function syntheaPatient(id, patch = {}) {
  const dir = process.env.MEDVAULT_SYNTHEA || '/work/shared/data/synthea-10';
  const out = [];
  for (const type of ['Patient', 'Condition', 'AllergyIntolerance', 'MedicationRequest', 'Immunization', 'Encounter', 'DocumentReference']) {
    const file = join(dir, `${type}.000.ndjson`);
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes(id)) continue;
      const r = JSON.parse(line);
      out.push(type === 'Patient' ? { ...r, ...patch } : r);
    }
  }
  assert.ok(out.some((r) => r.resourceType === 'Patient' && r.id === id), `Synthea patient ${id} not found in ${dir}`);
  return out;
}
