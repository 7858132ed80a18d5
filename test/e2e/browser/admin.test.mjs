// Issue 6: the administrator's users page (role it-admin, docs/admin-api.md)
// and the privacy officer's CSV export, in headless Debian chromium. The
// administrator signs in with password + TOTP, sees every account with its
// role and second factors, revokes the physician's sessions (the physician's
// open page, in another browser, is sent back to sign-in on its next
// request) and disables an account, which then cannot sign in; each change
// wants a fresh code of the administrator's authenticator (step-up). The
// privacy officer exports what the audit viewer shows as a CSV download,
// which also wants a step-up code. axe-core scans both pages.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { PASSWORD, axe, startPractice, totp } from './lib.mjs';

const RESOURCES = [
  { resourceType: 'Practitioner', id: 'dr-h', name: [{ family: 'House', given: ['Greg'] }] },
  {
    resourceType: 'Patient', id: 'pt-ada', gender: 'female', birthDate: '1980-02-03',
    name: [{ use: 'official', family: 'Lovelace', given: ['Ada'] }], generalPractitioner: [{ reference: 'Practitioner/dr-h' }],
  },
];

let app;
let page;

before(async () => {
  app = await startPractice({
    resources: RESOURCES,
    users: [
      { name: 'root', role: 'it-admin', totp: true },
      { name: 'drhouse', role: 'physician', practitioner: 'dr-h', totp: true },
      { name: 'leaver', role: 'reception', totp: true },
      { name: 'privacy', role: 'auditor', totp: true },
    ],
  });
  page = app.page;
});

after(async () => { await app?.close(); });

const row = (user) => page.locator('#admin-users tr', { has: page.locator('th', { hasText: new RegExp(`^${user}$`) }) });

test('administrator: users with role and second factors; revoke sessions; disable', async () => {
  // The physician works at another workstation.
  const doctor = await app.newPage();
  await app.signIn('drhouse', doctor);
  await app.openPatient('Love', 'Ada Lovelace', doctor);

  await app.signIn('root');
  await app.visible('#admin-title');
  assert.equal(await page.locator('#search').isVisible(), false, 'no patient search for the administrator');
  await row('drhouse').waitFor({ timeout: 15000 });
  const cells = async (user) => (await row(user).locator('th, td').allTextContents()).map((s) => s.trim());
  const doc = await cells('drhouse');
  assert.deepEqual(doc.slice(0, 6), ['drhouse', 'physician', 'TOTP: yes, passkeys: 0, certificates: 0', 'active', 'never', '1']);
  assert.deepEqual((await cells('privacy')).slice(0, 2), ['privacy', 'auditor']);
  assert.equal((await page.locator('#admin-users tr').count()), 4);
  await axe(page, 'users page');
  await app.shot('admin-users');

  // No code: nothing sent. A wrong code: refused, the administrator stays signed in.
  await row('drhouse').getByRole('button', { name: 'Revoke sessions of drhouse' }).click();
  await page.locator('#error', { hasText: 'Type your authenticator code first.' }).waitFor({ timeout: 15000 });
  const good = await totp(app.secrets.root);
  await page.fill('#admin-code', good === '000000' ? '111111' : '000000');
  await row('drhouse').getByRole('button', { name: 'Revoke sessions of drhouse' }).click();
  await page.locator('#error', { hasText: 'The code was refused' }).waitFor({ timeout: 15000 });
  assert.equal(await page.locator('#admin-title').isVisible(), true);

  await page.fill('#admin-code', good);
  await row('drhouse').getByRole('button', { name: 'Revoke sessions of drhouse' }).click();
  await page.locator('#status', { hasText: 'Every session of drhouse has ended.' }).waitFor({ timeout: 15000 });
  // The physician's next request finds the session ended.
  await doctor.click('#patient-close');
  await doctor.fill('#search-name', 'Love');
  await doctor.press('#search-name', 'Enter');
  await app.visible('#signin-title', doctor);
  assert.equal(await doctor.locator('#status').textContent(), 'Your session has ended. Please sign in again.');
  assert.ok(!(await doctor.content()).includes('Lovelace'), 'the chart is gone from the physician\'s page');

  // Disable: the account cannot sign in any more; enable again.
  await page.fill('#admin-code', await totp(app.secrets.root));
  await row('leaver').getByRole('button', { name: 'Disable leaver' }).click();
  await page.locator('#status', { hasText: 'leaver is disabled.' }).waitFor({ timeout: 15000 });
  assert.equal((await cells('leaver'))[3], 'disabled');
  const login = await app.api('POST', '/api/auth/login', {
    body: { username: 'leaver', password: PASSWORD, code: await totp(app.secrets.leaver) },
  });
  assert.equal(login.status, 401, 'a disabled account cannot sign in');
  const other = await app.newPage();
  await other.goto(`${app.origin}/`);
  await app.visible('#signin-title', other);
  await other.fill('#signin-username', 'leaver');
  await other.fill('#signin-password', PASSWORD);
  await other.fill('#signin-code', await totp(app.secrets.leaver));
  await other.click('#signin-submit');
  await other.locator('#error', { hasText: 'Sign-in failed' }).waitFor({ timeout: 15000 });

  // Roles: the reception account becomes a nurse; no role change for oneself.
  await page.fill('#admin-code', await totp(app.secrets.root));
  await row('leaver').getByRole('combobox', { name: 'New role for leaver' }).selectOption('nurse');
  await row('leaver').getByRole('button', { name: 'Change the role of leaver' }).click();
  await page.locator('#status', { hasText: 'leaver is now nurse; their sessions have ended.' }).waitFor({ timeout: 15000 });
  assert.equal((await cells('leaver'))[1], 'nurse');
  assert.equal(await row('root').getByRole('combobox').count(), 0, "no role change for one's own account");

  await page.click('#lang');
  assert.equal(await page.locator('#admin-title').textContent(), 'Utilisateurs');
  assert.equal((await cells('leaver'))[3], 'désactivé');
  await page.click('#lang');
  await page.click('#signout');
  await app.visible('#signin-title');
  assert.equal(await page.locator('#admin-users tr').count(), 0, 'the user list is cleared at sign-out');
});

test('privacy officer: CSV export of the viewer, with step-up', async () => {
  await app.signIn('privacy');
  await app.visible('#audit-title');
  await page.fill('#audit-user', 'root');
  await page.click('#audit-submit');
  await page.locator('#audit-entries tr', { hasText: 'user-disable' }).first().waitFor({ timeout: 15000 });
  const shown = await page.locator('#audit-entries tr').count();

  // Without a code: refused by the page; with a wrong one: refused by the server.
  await page.click('#audit-export');
  await page.locator('#error', { hasText: 'Type your authenticator code to export.' }).waitFor({ timeout: 15000 });
  const good = await totp(app.secrets.privacy);
  await page.fill('#audit-export-code', good === '000000' ? '111111' : '000000');
  await page.click('#audit-export');
  await page.locator('#error', { hasText: 'Export refused' }).waitFor({ timeout: 15000 });

  await page.fill('#audit-export-code', good);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#audit-export')]);
  assert.equal(download.suggestedFilename(), 'medvault-audit.csv');
  const csv = readFileSync(await download.path(), 'utf8');
  const lines = csv.trimEnd().split('\r\n');
  assert.equal(lines[0], 'seq,time,user,role,action,type,id,patient,purpose,outcome,address,flagged,explanation,detail');
  assert.equal(lines.length - 1, shown, 'one row per entry the viewer shows');
  assert.ok(lines.slice(1).every((l) => l.split(',')[2] === 'root'), 'only that user');
  assert.ok(lines.some((l) => l.includes(',user-disable,')), 'the disable is in the export');
  assert.ok(lines.some((l) => l.includes(',token-revoke-all,')), 'the revocation is in the export');
  await page.locator('#status', { hasText: `Exported ${shown} entries.` }).waitFor({ timeout: 15000 });
  await axe(page, 'audit viewer with export');

  // The server side: no step-up, another role, a wrong code.
  const q = '/api/audit/export?user=root';
  const login = await app.api('POST', '/api/auth/login', { body: { username: 'privacy', password: PASSWORD, code: await totp(app.secrets.privacy) } });
  const cookie = login.headers['set-cookie'][0].split(';')[0];
  const noCode = await app.api('GET', q, { headers: { Cookie: cookie } });
  assert.equal(noCode.status, 401, 'no step-up code');
  assert.ok(!noCode.body.includes('user-disable'));
  const wrong = await app.api('GET', q, { headers: { Cookie: cookie, 'X-Step-Up': '12345x' } });
  assert.equal(wrong.status, 401);
  const ok = await app.api('GET', q, { headers: { Cookie: cookie, 'X-Step-Up': await totp(app.secrets.privacy) } });
  assert.equal(ok.status, 200, ok.body);
  assert.match(ok.headers['content-type'], /^text\/csv/);
  assert.equal(ok.headers['content-disposition'], 'attachment; filename="medvault-audit.csv"');
  const bad = await app.api('GET', '/api/audit/export?nope=1', { headers: { Cookie: cookie, 'X-Step-Up': '000000' } });
  assert.equal(bad.status, 400, 'a bad filter is refused before the code is looked at');
  const rootLogin = await app.api('POST', '/api/auth/login', { body: { username: 'root', password: PASSWORD, code: await totp(app.secrets.root) } });
  const rootCookie = rootLogin.headers['set-cookie'][0].split(';')[0];
  const notAuditor = await app.api('GET', q, { headers: { Cookie: rootCookie, 'X-Step-Up': '000000' } });
  assert.equal(notAuditor.status, 403, 'the export is for the auditor');
  // Another role's attempt is audited as a refused query, and spent no code.
  const attempt = JSON.parse((await app.api('GET', '/api/audit?user=root&limit=5', { headers: { Cookie: cookie } })).body).entries;
  assert.ok(attempt.some((e) => e.action === 'audit-query' && e.outcome === '4'), 'the refused export is audited');

  // The export itself is audited (an audit-query entry and the step-up).
  await page.fill('#audit-user', 'privacy');
  await page.click('#audit-submit');
  await page.locator('#audit-entries tr', { hasText: 'audit-query' }).first().waitFor({ timeout: 15000 });
  await page.click('#signout');
  await app.visible('#signin-title');
  assert.deepEqual(app.problems, [], 'no CSP violation, no script error');
});
