// Issue 6: consent directives recorded at the front desk. Reception opens a
// patient and sees the "Consent directives" panel: the patient's directives
// and a form offering only what the policy enforces (access/facts.cc
// parse_consent: a deny of all records or of one sensitivity label, to one
// role or to everyone but the GP). Reception records that the patient
// refuses all access by physicians; the physician, at another workstation,
// can then no longer open the patient ("not available") nor find her.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { axe, startPractice } from './lib.mjs';

const RESOURCES = [
  { resourceType: 'Practitioner', id: 'dr-f', name: [{ family: 'Fontaine', given: ['Marc'] }] },
  {
    resourceType: 'Patient', id: 'pt-bea', gender: 'female', birthDate: '1990-09-09',
    name: [{ use: 'official', family: 'Bernard', given: ['Béatrice'] }], generalPractitioner: [{ reference: 'Practitioner/dr-f' }],
  },
  { resourceType: 'Condition', id: 'c-bea', subject: { reference: 'Patient/pt-bea' }, code: { text: 'Migraine with aura' } },
];
const NAME = 'Béatrice Bernard';

let app;
let page;

before(async () => {
  app = await startPractice({
    resources: RESOURCES,
    users: [
      { name: 'drf', role: 'physician', practitioner: 'dr-f', totp: true },
      { name: 'desk', role: 'reception', totp: true },
    ],
  });
  page = app.page;
});

after(async () => { await app?.close(); });

test('reception records consent directives; a refusal to physicians takes effect', async () => {
  // The physician can open the chart before any directive.
  const doctor = await app.newPage();
  await app.signIn('drf', doctor);
  await app.openPatient('Bern', NAME, doctor);
  await doctor.locator('#patient-conditions li', { hasText: 'Migraine with aura' }).waitFor({ timeout: 15000 });
  assert.equal(await doctor.locator('#consent').isVisible(), false, 'the consent panel is the front desk\'s');
  await doctor.click('#patient-close');
  await doctor.fill('#search-name', 'Bern');
  await doctor.press('#search-name', 'Enter');
  await doctor.locator('#search-results button', { hasText: NAME }).waitFor({ timeout: 15000 });

  await app.signIn('desk');
  await app.openPatient('Bern', NAME);
  await app.visible('#consent');
  assert.deepEqual(await page.locator('#consent-list li').allTextContents(), ['No directive recorded.']);
  const choices = await page.locator('#consent-to option').allTextContents();
  assert.deepEqual(choices, ['role physician', 'role nurse', 'role reception', 'role manager',
                             'everyone except their GP (Practitioner/dr-f)']);
  await axe(page, 'front desk chart with the consent panel');

  const sent = [];
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/fhir/Consent')) sent.push(r.postDataJSON()); });
  // 1. Psychiatric records: nobody but the GP.
  await page.selectOption('#consent-what', 'PSY');
  await page.selectOption('#consent-to', 'gp:Practitioner/dr-f');
  await page.click('#consent-form button[type=submit]');
  await page.locator('#consent-list li', { hasText: 'records labelled PSY' }).waitFor({ timeout: 15000 });
  assert.equal(await page.locator('#status').textContent(), 'Directive saved.');
  assert.deepEqual(sent[0].provision, {
    type: 'deny',
    securityLabel: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PSY' }],
    provision: [{ type: 'permit', actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'PRCP' }] }, reference: { reference: 'Practitioner/dr-f' } }] }],
  });
  // The GP keeps access to the rest of the chart.
  await doctor.locator('#search-results button', { hasText: NAME }).click();
  await doctor.locator('#patient-conditions li', { hasText: 'Migraine with aura' }).waitFor({ timeout: 15000 });
  await doctor.click('#patient-close');

  // 2. All records: no physician.
  await page.selectOption('#consent-what', '');
  await page.selectOption('#consent-to', 'role:physician');
  await page.click('#consent-form button[type=submit]');
  await page.locator('#consent-list li', { hasText: 'all their records' }).waitFor({ timeout: 15000 });
  const lines = (await page.locator('#consent-list li').allTextContents()).sort();
  assert.deepEqual(lines, [
    'active: refuses all their records to physician',
    'active: refuses records labelled PSY to everyone except Practitioner/dr-f',
  ]);
  assert.equal(sent[1].provision.actor[0].role.coding[0].code, 'physician');
  assert.equal(sent[1].patient.reference, 'Patient/pt-bea');

  // The physician's page: the result still listed from before opens nothing.
  await doctor.locator('#search-results button', { hasText: NAME }).click();
  await doctor.locator('#error', { hasText: 'This patient record is not available.' }).waitFor({ timeout: 15000 });
  assert.equal(await doctor.locator('#patient').isVisible(), false);
  assert.ok(!(await doctor.content()).includes('Migraine'), 'no clinical data shown');
  await doctor.fill('#search-name', 'Bern');
  await doctor.press('#search-name', 'Enter');
  await doctor.locator('#search-summary', { hasText: 'No patient found.' }).waitFor({ timeout: 15000 });

  // French: the panel is re-rendered from memory.
  await page.click('#lang');
  assert.equal(await page.locator('#h-consent').textContent(), 'Directives de consentement');
  assert.ok((await page.locator('#consent-list li').allTextContents()).includes('active : refuse tout son dossier à médecin'));
  await page.click('#lang');
  await app.shot('frontdesk-consent');
  await page.click('#signout');
  await app.visible('#signin-title');
  assert.deepEqual(app.problems, [], 'no CSP violation, no script error');
});
