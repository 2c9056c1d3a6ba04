/**
 * `serve` either starts whole or not at all: every port is bound before the "listening" line,
 * a failure closes what was opened and exits 1 on its own (no SIGKILL needed).
 */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cliServeRefuses, makeFixture, type Fixture } from '../helpers/fixture.js';

/** Long enough for a loaded machine, far shorter than a hang. */
const EXIT_WITHIN_MS = 15_000;

describe('serve: a start that fails', () => {
  let fx: Fixture;
  let busy: Server;
  let busyPort: number;

  before(async () => {
    fx = await makeFixture({ 'a.txt': 'a\n' });
    busy = createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    busyPort = (busy.address() as AddressInfo).port;
  });
  after(async () => {
    busy.close();
    await fx.remove();
  });

  for (const workers of ['1', '2']) {
    it(`--status-listen on a taken port (--workers ${workers}): exit 1, no "listening" line, gone without SIGKILL`, async () => {
      const r = await cliServeRefuses(
        fx.pki.pki,
        fx.root,
        ['--status-listen', `127.0.0.1:${busyPort}`, '--workers', workers, '--log-format', 'json'],
        EXIT_WITHIN_MS,
      );
      assert.equal(r.signal, null, `killed: ${r.stderr}`);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^securestream: error: cannot listen on --status-listen 127\\.0\\.0\\.1:${busyPort}: .*EADDRINUSE`,
          'm',
        ),
      );
      assert.match(
        r.stderr,
        /^securestream: hint: choose another address or port for --status-listen$/m,
      );
      assert.doesNotMatch(r.stdout, /listening/);
      assert.doesNotMatch(r.stderr, /"msg":"listening"/);
    });
  }
});
