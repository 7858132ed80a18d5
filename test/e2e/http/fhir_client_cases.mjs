// The fhir-kit-client cases, run by fhir_client.test.mjs with MV_BASE_URL,
// MV_TOKEN and NODE_EXTRA_CA_CERTS set (skipped when run on their own).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client } from 'fhir-kit-client';

const baseUrl = process.env.MV_BASE_URL;

describe('fhir-kit-client', { skip: !baseUrl && 'run through fhir_client.test.mjs' }, () => {
  const client = new Client({ baseUrl, customHeaders: { Authorization: `Bearer ${process.env.MV_TOKEN}` } });
  const status = async (promise) => {
    try {
      await promise;
      return 200;
    } catch (e) {
      assert.equal(e.response?.data?.resourceType, 'OperationOutcome', 'errors carry an OperationOutcome');
      return e.response.status;
    }
  };

  test('capability statement tells the truth', async () => {
    const cs = await client.capabilityStatement();
    assert.equal(cs.resourceType, 'CapabilityStatement');
    assert.equal(cs.fhirVersion, '4.0.1');
    const patient = cs.rest[0].resource.find((r) => r.type === 'Patient');
    for (const p of ['name', 'family', 'given', 'birthdate', 'gender', 'identifier', 'telecom'])
      assert.ok(patient.searchParam.some((s) => s.name === p), p);
    assert.deepEqual(cs.rest[0].interaction.map((i) => i.code).sort(), ['batch', 'history-system', 'transaction']);
  });

  test('create, read, vread, update with If-Match, delete, history', async () => {
    const created = await client.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', name: [{ family: 'Kitclient', given: ['Ada'] }], birthDate: '1970-01-02' },
    });
    assert.ok(created.id);
    assert.equal(created.meta.versionId, '1');
    const read = await client.read({ resourceType: 'Patient', id: created.id });
    assert.deepEqual(read, created);

    const changed = { ...read, gender: 'female' };
    const updated = await client.update({
      resourceType: 'Patient', id: created.id, body: changed, options: { headers: { 'If-Match': 'W/"1"' } },
    });
    assert.equal(updated.meta.versionId, '2');
    assert.equal(updated.gender, 'female');
    assert.equal(await status(client.update({
      resourceType: 'Patient', id: created.id, body: changed, options: { headers: { 'If-Match': 'W/"1"' } },
    })), 412);

    const v1 = await client.vread({ resourceType: 'Patient', id: created.id, version: '1' });
    assert.equal(v1.gender, undefined);
    assert.equal(v1.meta.versionId, '1');

    const outcome = await client.delete({ resourceType: 'Patient', id: created.id });
    assert.equal(outcome.resourceType, 'OperationOutcome');
    assert.equal(await status(client.read({ resourceType: 'Patient', id: created.id })), 410);
    assert.equal(await status(client.read({ resourceType: 'Patient', id: 'no-such-id' })), 404);

    const history = await client.resourceHistory({ resourceType: 'Patient', id: created.id });
    assert.equal(history.type, 'history');
    assert.deepEqual(history.entry.map((e) => e.request.method), ['DELETE', 'PUT', 'POST']);
    const typeHistory = await client.typeHistory({ resourceType: 'Patient' });
    assert.ok(typeHistory.entry.length >= 3);
    const systemHistory = await client.systemHistory();
    assert.ok(systemHistory.entry.length >= 3);
  });

  test('search with paging, forward and back', async () => {
    for (let i = 0; i < 7; i++) {
      await client.create({
        resourceType: 'Patient',
        body: { resourceType: 'Patient', name: [{ family: 'Kitclient', given: [`Page${i}`] }], gender: 'other' },
      });
    }
    const first = await client.search({ resourceType: 'Patient', searchParams: { family: 'kitclient', gender: 'other', _count: 3 } });
    assert.equal(first.type, 'searchset');
    assert.equal(first.total, undefined); // not counted past the page without _total=accurate
    assert.equal(first.entry.length, 3);
    const second = await client.nextPage({ bundle: first });
    const third = await client.nextPage({ bundle: second });
    assert.equal(second.entry.length, 3);
    assert.equal(third.entry.length, 1);
    assert.equal(third.total, 7); // the last page ran out of matches: exact
    const accurate = await client.search({
      resourceType: 'Patient', searchParams: { family: 'kitclient', gender: 'other', _count: 3, _total: 'accurate' },
    });
    assert.equal(accurate.total, 7);
    assert.deepEqual(accurate.entry.map((e) => e.resource.id), first.entry.map((e) => e.resource.id));
    assert.equal(await client.nextPage({ bundle: third }), undefined);
    const ids = [first, second, third].flatMap((b) => b.entry.map((e) => e.resource.id));
    assert.equal(new Set(ids).size, 7);
    const back = await client.prevPage({ bundle: second });
    assert.deepEqual(back.entry.map((e) => e.resource.id), first.entry.map((e) => e.resource.id));

    const posted = await client.search({
      resourceType: 'Patient', searchParams: { given: 'page3' }, options: { postSearch: true },
    });
    assert.equal(posted.total, 1);
    const counted = await client.search({ resourceType: 'Patient', searchParams: { family: 'kitclient', _summary: 'count' } });
    assert.equal(counted.total, 7);
    assert.equal(counted.entry, undefined);
  });

  test('transaction with urn:uuid references, then $everything', async () => {
    const patientUrn = 'urn:uuid:6f1c5e3a-0d2b-4c4e-9a51-2b7f0c1d9e01';
    const encounterUrn = 'urn:uuid:6f1c5e3a-0d2b-4c4e-9a51-2b7f0c1d9e02';
    const response = await client.transaction({
      body: {
        resourceType: 'Bundle', type: 'transaction',
        entry: [
          { fullUrl: patientUrn, resource: { resourceType: 'Patient', name: [{ family: 'Kitclient', given: ['Tx'] }] },
            request: { method: 'POST', url: 'Patient' } },
          { fullUrl: encounterUrn, request: { method: 'POST', url: 'Encounter' },
            resource: { resourceType: 'Encounter', status: 'finished',
                        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
                        subject: { reference: patientUrn } } },
          { request: { method: 'POST', url: 'Condition' },
            resource: { resourceType: 'Condition', code: { text: 'headache' }, subject: { reference: patientUrn },
                        encounter: { reference: encounterUrn } } },
        ],
      },
    });
    assert.equal(response.type, 'transaction-response');
    assert.deepEqual(response.entry.map((e) => e.response.status), ['201 Created', '201 Created', '201 Created']);
    const [patientRef, encounterRef, conditionRef] = response.entry.map((e) => e.response.location.split('/_history')[0]);
    const condition = await client.read({ resourceType: 'Condition', id: conditionRef.split('/')[1] });
    assert.equal(condition.subject.reference, patientRef);
    assert.equal(condition.encounter.reference, encounterRef);

    const everything = await client.operation({
      name: '$everything', resourceType: 'Patient', id: patientRef.split('/')[1], method: 'GET',
    });
    assert.equal(everything.total, 3);

    // A failing transaction changes nothing.
    const before = await client.search({ resourceType: 'Patient', searchParams: { family: 'kitclient', _summary: 'count' } });
    assert.equal(await status(client.transaction({
      body: { resourceType: 'Bundle', type: 'transaction', entry: [
        { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family: 'Kitclient' }] } },
        { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', birthDate: 'not-a-date' } },
      ] },
    })), 422);
    const afterwards = await client.search({ resourceType: 'Patient', searchParams: { family: 'kitclient', _summary: 'count' } });
    assert.equal(afterwards.total, before.total);
  });

  test('batch answers each entry', async () => {
    const response = await client.batch({
      body: { resourceType: 'Bundle', type: 'batch', entry: [
        { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family: 'Kitclient' }] } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
      ] },
    });
    assert.equal(response.type, 'batch-response');
    assert.equal(response.entry[0].response.status, '201 Created');
    assert.equal(response.entry[1].response.status, '404 Not Found');
  });
});
