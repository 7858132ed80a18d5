// Issue 6: sign-in with a client certificate (a smart card or an installed
// certificate) from the sign-in page. A throwaway CA made with the openssl
// command line issues a client certificate mapped to a physician's account
// (`medvault user cert-add`); the server runs with --client-ca. Playwright
// presents the certificate (browser.newContext clientCertificates) and the
// button "Sign in with my card / certificate" calls POST
// /api/auth/certificate. Without a certificate the same button is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPractice } from './lib.mjs';

function openssl(cwd, ...args) {
  const p = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  assert.equal(p.status, 0, `openssl ${args[0]}: ${p.stderr}`);
}

// A CA and one client certificate (EC P-256) in `dir`: {ca, cert, key} paths.
function makeCertificates(dir) {
  mkdirSync(dir, { recursive: true });
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=medvault browser test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  openssl(dir, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'card.key', '-out', 'card.csr', '-subj', '/CN=Dr Card');
  openssl(dir, 'x509', '-req', '-in', 'card.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '4097',
    '-days', '2', '-out', 'card.pem', '-extfile', 'ext.cnf');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'card.pem'), key: join(dir, 'card.key') };
}

let app;
let certs;

before(async () => {
  const serveArgs = [];
  app = await startPractice({
    resources: [{ resourceType: 'Practitioner', id: 'dr-card', name: [{ family: 'Card' }] }],
    users: [{ name: 'drcard', role: 'physician', practitioner: 'dr-card', totp: true }],
    serveArgs,
    beforeServe(vault) {
      certs = makeCertificates(join(vault.tmp, 'pki'));
      vault.run('user', 'cert-add', 'drcard', '--cert', certs.cert, '--data', vault.data);
      serveArgs.push('--client-ca', certs.ca);
    },
  });
});

after(async () => { await app?.close(); });

test('sign in with my card / certificate', async () => {
  const card = await app.newPage({ clientCertificates: [{ origin: app.origin, certPath: certs.cert, keyPath: certs.key }] });
  await card.goto(`${app.origin}/`);
  await app.visible('#signin-title', card);
  assert.equal(await card.locator('#signin-cert').textContent(), 'Sign in with my card / certificate');
  await card.click('#signin-cert');
  await app.visible('#view-home', card);
  assert.equal(await card.locator('#who').textContent(), 'drcard (physician)');
  await card.click('#signout');
  await app.visible('#signin-title', card);

  // No certificate presented: refused, the page says so.
  const page = app.page;
  await page.goto(`${app.origin}/`);
  await app.visible('#signin-title');
  await page.click('#lang');
  assert.equal(await page.locator('#signin-cert').textContent(), 'Se connecter avec ma carte / mon certificat');
  await page.click('#lang');
  await page.click('#signin-cert');
  await page.locator('#error', { hasText: 'Sign-in failed' }).waitFor({ timeout: 15000 });
  assert.equal(await page.locator('#view-home').isVisible(), false);
  assert.deepEqual(app.problems, [], 'no CSP violation, no script error');
});
