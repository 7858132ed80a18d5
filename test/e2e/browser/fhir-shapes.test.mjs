// web/fhir.js without a browser: what the search box sends, and the
// Consent shapes the front desk writes, read back as the policy reads them
// (docs/access-policy.md, "Consent directives").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consentResource, consentSummary, patientQueries } from '../../../web/fhir.js';

test('search box: dates, names, identifiers', () => {
  assert.deepEqual(patientQueries('1963-07-15'), [{ birthdate: '1963-07-15' }]);
  assert.deepEqual(patientQueries(' 15/07/1963 '), [{ birthdate: '1963-07-15' }]);
  assert.deepEqual(patientQueries('2/3/1990'), [{ birthdate: '1990-03-02' }], 'day first, as in French');
  for (const bad of ['31/02/1963', '1963-13-01', '00/01/2000', '1963-02-30']) assert.deepEqual(patientQueries(bad), [], bad);
  assert.deepEqual(patientQueries('Cumm'), [{ name: 'Cumm' }]);
  assert.deepEqual(patientQueries('Jean 2'), [{ name: 'Jean 2' }], 'text with a space is a name');
  assert.deepEqual(patientQueries('999-75-6358'), [{ name: '999-75-6358' }, { identifier: '999-75-6358' }]);
  assert.deepEqual(patientQueries('urn:x|42'), [{ name: 'urn:x|42' }, { identifier: 'urn:x|42' }]);
  assert.deepEqual(patientQueries('   '), []);
  assert.deepEqual(patientQueries(undefined), []);
});

test('consent: the directives the form writes read back as written', () => {
  const role = consentResource('p1', { label: '', to: { role: 'nurse' } });
  assert.equal(role.patient.reference, 'Patient/p1');
  assert.equal(role.status, 'active');
  assert.deepEqual(role.provision.actor[0].role.coding, [{ code: 'nurse' }]);
  assert.equal(role.provision.actor[0].reference.reference, undefined, 'a role-wide actor names nobody by reference');
  assert.deepEqual(consentSummary(role), { status: 'active', deny: true, labels: [], purposes: [], roles: ['nurse'], actors: [], except: [] });
  const gp = consentResource('p1', { label: 'HIV', to: { exceptGp: 'Practitioner/gp' } });
  assert.deepEqual(consentSummary(gp), { status: 'active', deny: true, labels: ['HIV'], purposes: [], roles: [], actors: [], except: ['Practitioner/gp'] });
  assert.equal(consentResource('p1', { label: 'R', to: { role: 'nurse' } }).provision.securityLabel[0].system,
    'http://terminology.hl7.org/CodeSystem/v3-Confidentiality');
  // Hostile or foreign shapes: a summary or null, never a throw.
  for (const c of [null, {}, { provision: 'x' }, { provision: { type: 'permit', actor: 'x', securityLabel: 3 } }]) consentSummary(c);
  assert.equal(consentSummary({ status: 'active' }), null);
});
