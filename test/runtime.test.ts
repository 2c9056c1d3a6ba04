/**
 * The runtime the project brings with it (issue 12): the suite runs on the Node.js pinned in
 * devDependencies, not on whatever `node` the machine has, and `--version` names it.
 */
import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { runCli } from './helpers/proc.js';

interface Manifest {
  version: string;
  engines: { node: string };
  devDependencies: Record<string, string>;
}

/** dist/test/runtime.test.js → the package root. */
async function manifest(): Promise<Manifest> {
  return JSON.parse(
    await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
  ) as Manifest;
}

describe('runtime', () => {
  it('the suite runs on the pinned Node.js (npm scripts put node_modules/.bin/node first)', async () => {
    const m = await manifest();
    assert.equal(
      process.versions.node,
      m.devDependencies['node'],
      'run the tests through npm (npm test) after npm ci, which installs the pinned node',
    );
    assert.equal(m.engines.node, '>=22');
  });

  for (const flag of ['--version', '-V']) {
    it(`${flag} prints securestream's, Node.js's and OpenSSL's versions and exits 0`, async () => {
      const m = await manifest();
      const r = await runCli([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.deepEqual(r.stdout.split('\n'), [
        `securestream ${m.version}`,
        `Node.js ${process.versions.node}`,
        `OpenSSL ${process.versions.openssl}`,
        '',
      ]);
    });
  }
});
