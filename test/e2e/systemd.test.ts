/**
 * packaging/systemd (issue 12): the units pass `systemd-analyze verify`, keep the promised
 * settings, and a server started by `systemd-socket-activate` (LISTEN_FDS) serves a real get.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildProgram } from '../../src/program.js';
import { manPage } from '../../scripts/man.js';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import { CLI } from '../helpers/proc.js';
import { ROOT } from '../helpers/source.js';

const has = (cmd: string): boolean => spawnSync(cmd, ['--version']).error === undefined;
const skip = !has('systemd-analyze') || !has('systemd-socket-activate');
const why = skip && 'systemd tools not installed (.ci/run installs Debian systemd)';

/** A port that was free a moment ago (systemd-socket-activate needs a number). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => {
        if (a && typeof a === 'object') resolve(a.port);
        else reject(new Error('no port'));
      });
    });
  });
}

const unit = (name: string): Promise<string> =>
  readFile(join(ROOT, 'packaging/systemd', name), 'utf8');
const setting = (text: string, key: string): string[] =>
  [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1] ?? '');

function seconds(d: string): number {
  const m = /^(\d+)(ms|s|min)?$/.exec(d);
  assert.ok(m, d);
  return Number(m[1]) * ({ ms: 0.001, s: 1, min: 60 }[m[2] ?? 's'] ?? 1);
}

describe('systemd units', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture({ 'file.bin': Buffer.alloc(300_000, 7) });
  });
  after(async () => {
    await fx.remove();
  });

  it('the service reloads with SIGHUP, outwaits --grace, and is hardened without MemoryDenyWriteExecute', async () => {
    const s = await unit('securestream.service');
    assert.deepEqual(setting(s, 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
    const exec = setting(s, 'ExecStart')[0] ?? '';
    assert.match(exec, / serve /);
    const grace = /--grace (\S+)/.exec(exec)?.[1] ?? '60s'; // serve's default is 60 s
    assert.ok(
      seconds(setting(s, 'TimeoutStopSec')[0] ?? '0') > seconds(grace),
      'TimeoutStopSec > --grace',
    );
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['PrivateTmp', 'yes'],
      ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
      ['User', 'securestream'],
    ] as const)
      assert.deepEqual(setting(s, key), [value], key);
    assert.deepEqual(setting(s, 'MemoryDenyWriteExecute'), []);
    const sock = await unit('securestream.socket');
    assert.equal(setting(sock, 'ListenStream').length, 1, 'serve takes exactly one socket');
  });

  it('systemd-analyze verify passes for both units', { skip: why }, async () => {
    const dir = join(fx.path, 'units');
    await mkdir(join(dir, 'man/man1'), { recursive: true });
    // verify checks Documentation=man:securestream(1) and that ExecStart's program exists
    await writeFile(join(dir, 'man/man1/securestream.1'), manPage(buildProgram(), new Date()));
    const svc = (await unit('securestream.service')).replace('/usr/local/bin/securestream', CLI);
    await writeFile(join(dir, 'securestream.service'), svc);
    await writeFile(join(dir, 'securestream.socket'), await unit('securestream.socket'));
    spawnSync('chmod', ['+x', CLI]);
    const r = spawnSync(
      'systemd-analyze',
      ['verify', 'securestream.socket', 'securestream.service'],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, MANPATH: join(dir, 'man') },
      },
    );
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, '');
  });

  it(
    'a server started by systemd-socket-activate listens on the passed socket and serves a get',
    { skip: why },
    async () => {
      const port = await freePort();
      const sa = spawn(
        'systemd-socket-activate',
        [
          '-l',
          `127.0.0.1:${port}`,
          process.execPath,
          CLI,
          'serve',
          '--pki',
          fx.pki.pki,
          '--root',
          fx.root,
          '--port',
          '1',
          '--log-format',
          'json',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      sa.stderr.on('data', (b: Buffer) => (err += b.toString()));
      try {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => {
            reject(new Error(`not listening: ${err}`));
          }, 10_000);
          sa.stderr.on('data', () => {
            if (err.includes('Listening on')) {
              clearTimeout(t);
              resolve();
            }
          });
        });
        const out = join(fx.path, 'copy.bin');
        const r = await cliGet(port, fx.pki.pki, 'file.bin', out, ['--quiet']);
        assert.equal(r.code, 0, `${r.stderr}\n${err}`);
        assert.deepEqual(await readFile(out), Buffer.alloc(300_000, 7));
        // --port 1 was ignored for the passed socket: the banner names systemd's port
        const listening = err.split('\n').find((l) => l.includes('"msg":"listening"')) ?? '';
        assert.equal((JSON.parse(listening) as { port: number }).port, port);
      } finally {
        const exited = new Promise((r) => sa.on('exit', r));
        sa.kill('SIGTERM');
        await exited;
      }
    },
  );
});
