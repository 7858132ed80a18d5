// Helpers for the Node end-to-end tests: a throw-away vault, accounts and
// tokens through the `medvault` command line, and the server on port 0 (the
// port read from its {"event":"listening","port":N} stderr line).
// The binary comes from $MEDVAULT_BIN, else build/src/cli/medvault.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const medvaultBin = process.env.MEDVAULT_BIN || join(repo, 'build', 'src', 'cli', 'medvault');

export class Vault {
  constructor() {
    this.tmp = mkdtempSync(join(tmpdir(), 'mv-e2e-node-'));
    this.data = join(this.tmp, 'vault');
    this.cert = join(this.data, 'tls', 'cert.pem');
    this.env = { ...process.env, MEDVAULT_PASSPHRASE: 'correct horse battery staple node', MEDVAULT_TEST_FAST_KDF: '1' };
    this.run('init', '--data', this.data);
  }

  run(...args) {
    const p = spawnSync(medvaultBin, args, { env: this.env, encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`medvault ${args[0]} failed (${p.status}): ${p.stderr}`);
    return p;
  }

  addUser(name, role) { this.run('user', 'add', name, '--role', role, '--data', this.data); }

  token(user, ttl = '1h') {
    return this.run('token', 'issue', '--data', this.data, '--user', user, '--ttl', ttl).stdout.trim();
  }

  // Starts `medvault serve` (on port 0 unless `listen` says otherwise, with
  // `extra` arguments); resolves to { port, stop() } once it listens.
  serve({ listen = '127.0.0.1:0', extra = [] } = {}) {
    const proc = spawn(medvaultBin, ['serve', '--data', this.data, '--listen', listen, ...extra],
                       { env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
    const logs = [];
    return new Promise((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start: ' + logs.join('\n'))), 60000);
      createInterface({ input: proc.stderr }).on('line', (line) => {
        logs.push(line);
        try {
          const ev = JSON.parse(line);
          if (ev.event === 'listening') {
            clearTimeout(timer);
            resolvePort({
              port: ev.port,
              logs,
              stop: () => new Promise((done) => {
                proc.once('exit', (code) => done(code));
                proc.kill('SIGTERM');
              }),
            });
          }
        } catch { /* not a JSON line */ }
      });
      proc.once('exit', (code) => reject(new Error(`server exited (${code}): ${logs.join('\n')}`)));
    });
  }

  close() { rmSync(this.tmp, { recursive: true, force: true }); }
}
