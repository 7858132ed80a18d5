// fhir-kit-client (npm, written by others) against a freshly started server.
//
// Node reads NODE_EXTRA_CA_CERTS only at start-up, and the vault's
// certificate exists only once the vault is made; so this file makes the
// vault and starts the server, then runs fhir_client_cases.mjs in a child
// `node --test` that trusts the certificate.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vault } from './medvault.mjs';

let vault;
let server;
let token;

before(async () => {
  vault = new Vault();
  // A service account with full system scope: this suite is about FHIR
  // REST conformance, not the care-relationship policy.
  vault.run('user', 'add', 'drkit', '--role', 'service', '--scope', 'system/*.cruds', '--data', vault.data);
  token = vault.token('drkit');
  server = await vault.serve();
});

after(async () => {
  if (server) assert.equal(await server.stop(), 0, 'server exit code after SIGTERM');
  vault?.close();
});

test('fhir-kit-client: create, read, vread, update, delete, history, search, paging, transaction', () => {
  const cases = join(dirname(fileURLToPath(import.meta.url)), 'fhir_client_cases.mjs');
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;  // else the child believes it is nested and runs nothing
  const child = spawnSync(process.execPath, ['--test', '--test-reporter=tap', cases], {
    env: {
      ...env,
      NODE_EXTRA_CA_CERTS: vault.cert,
      MV_BASE_URL: `https://127.0.0.1:${server.port}/fhir`,
      MV_TOKEN: token,
    },
    encoding: 'utf8',
    timeout: 300000,
  });
  process.stdout.write(child.stdout);
  process.stderr.write(child.stderr);
  assert.equal(child.status, 0, 'fhir-kit-client cases failed');
  const passed = Number(/^# pass (\d+)$/m.exec(child.stdout)?.[1] ?? 0);
  assert.ok(passed >= 5, `only ${passed} fhir-kit-client cases ran`);
  const logs = server.logs.join('\n');
  assert.ok(!logs.includes('Kitclient'), 'no patient name in the server logs');
  assert.ok(!logs.includes(token), 'no token in the server logs');
});
