/**
 * The different-hosts proof: server and client in two network namespaces joined only by a
 * veth pair (198.18.0.1/30 ↔ 198.18.0.2/30, benchmarking space, no default route), so every
 * byte crosses a real link between two network stacks and loopback is not involved.
 * Needs root and `ip netns`; skipped otherwise, with the reason.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { netnsUnsupported } from '../../scripts/netns.js';
import { issueCertificate } from '../../src/pki/generate.js';
import { makeTestPki } from '../helpers/pki.js';
import { CLI, run, runCli, tempDir } from '../helpers/proc.js';

const SERVER_IP = '198.18.0.1';
const CLIENT_IP = '198.18.0.2';
const SRV_NS = `ss-srv-${process.pid}`;
const CLI_NS = `ss-cli-${process.pid}`;
// interface names are at most 15 bytes
const SRV_IF = `ssv${process.pid}s`.slice(0, 15);
const CLI_IF = `ssv${process.pid}c`.slice(0, 15);

/** Runs `ip ARGS`, failing the test with ip's own words. */
function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}${r.error?.message ?? ''}`);
  return r.stdout;
}

function namespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function makeNetwork(): void {
  ip('netns', 'add', SRV_NS);
  ip('netns', 'add', CLI_NS);
  ip('link', 'add', SRV_IF, 'type', 'veth', 'peer', 'name', CLI_IF);
  ip('link', 'set', SRV_IF, 'netns', SRV_NS);
  ip('link', 'set', CLI_IF, 'netns', CLI_NS);
  ip('-n', SRV_NS, 'addr', 'add', `${SERVER_IP}/30`, 'dev', SRV_IF);
  ip('-n', CLI_NS, 'addr', 'add', `${CLIENT_IP}/30`, 'dev', CLI_IF);
  for (const [ns, dev] of [
    [SRV_NS, SRV_IF],
    [CLI_NS, CLI_IF],
  ] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', dev, 'up');
  }
}

/**
 * A PKI whose server certificate names 198.18.0.1: from `pki init --san` when the CLI has it,
 * else the fixture CA plus a server certificate issued here. Returns serve and get flags.
 */
async function pkiFor(dir: string, t: TestContext): Promise<{ serve: string[]; get: string[] }> {
  const initDir = join(dir, 'pki-init');
  const init = await runCli(['pki', 'init', '--dir', initDir, '--san', SERVER_IP]);
  if (init.code === 0) {
    t.diagnostic(`PKI from "securestream pki init --san ${SERVER_IP}"`);
    return { serve: ['--pki', initDir], get: ['--pki', initDir] };
  }
  // exit 2 with "unknown command": the command does not exist yet; anything else is a bug
  assert.equal(init.code, 2, `pki init failed: ${init.stderr}`);
  assert.match(init.stderr, /unknown command/, init.stderr);
  t.diagnostic('no "pki init" command yet: fixture CA plus a server certificate for 198.18.0.1');
  const fixtures = await makeTestPki(join(dir, 'fixtures'));
  const ca = {
    certPem: await readFile(fixtures.ca, 'utf8'),
    keyPem: await readFile(fixtures.caKey, 'utf8'),
  };
  const now = Date.now();
  const issued = await issueCertificate(ca, {
    kind: 'server',
    commonName: SERVER_IP,
    ipAddresses: [SERVER_IP],
    keySpec: { kind: 'ec', curve: 'P-256' },
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 24 * 60 * 60_000),
  });
  const cert = join(dir, 'server-198.crt');
  const key = join(dir, 'server-198.key');
  await writeFile(cert, issued.certPem);
  await writeFile(key, issued.keyPem, { mode: 0o600 });
  return {
    serve: ['--ca', fixtures.ca, '--cert', cert, '--key', key],
    get: ['--pki', fixtures.pki],
  };
}

interface NsServer {
  child: ChildProcess;
  pid: number;
  port: number;
  logs(): Record<string, unknown>[];
  exited: Promise<void>;
}

/** `ip netns exec NS node cli.js serve …`: ip execs node in place, so the PID is the server's. */
async function startNsServer(flags: string[], root: string): Promise<NsServer> {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      SRV_NS,
      process.execPath,
      CLI,
      'serve',
      '--host',
      SERVER_IP,
      '--port',
      '0',
      '--log-format',
      'json',
      '--root',
      root,
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((r) => {
    child.on('close', () => {
      r();
    });
  });
  const server = {
    child,
    pid: child.pid ?? -1,
    port: 0,
    logs: () =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
  };
  server.port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not start: ${stderr}`));
    }, 20_000);
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      const port = /listening on 198\.18\.0\.1:(\d+) /.exec(stdout)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve(Number(port));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening: ${stderr}`));
    });
  });
  return server;
}

async function stopNsServer(s: NsServer): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  process.kill(s.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (alive(s.pid)) process.kill(s.pid, 'SIGKILL');
  }, 5_000);
  await s.exited;
  clearTimeout(timer);
}

void test('client-in-one-namespace-downloads-from-server-in-another', async (t: TestContext) => {
  const reason = netnsUnsupported();
  if (reason) {
    t.diagnostic(`skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  const work = await tempDir('securestream-netns-');
  let server: NsServer | undefined;
  const leftover: string[] = [];
  try {
    makeNetwork();
    // the client's stack knows one route, the /30 link: nothing else is reachable from it
    const routes = ip('-n', CLI_NS, 'route', 'show').trim();
    assert.equal(routes.split('\n').length, 1, routes);
    assert.match(routes, /^198\.18\.0\.0\/30 dev /);
    assert.equal(ip('-n', CLI_NS, 'route', 'show', 'default').trim(), '');

    const flags = await pkiFor(work.path, t);
    const root = join(work.path, 'root');
    const out = join(work.path, 'out');
    await mkdir(root);
    await mkdir(out);
    const made = await runCli(['payload', join(root, 'file.bin'), '--size', '3MiB']);
    assert.equal(made.code, 0, made.stderr);
    const source = await readFile(join(root, 'file.bin'));
    const sourceSha = createHash('sha256').update(source).digest('hex');

    server = await startNsServer(flags.serve, root);
    const cmdline = await readFile(`/proc/${server.pid}/cmdline`, 'utf8');
    assert.ok(cmdline.includes('serve'), `PID ${server.pid} is not the server: ${cmdline}`);

    const got = await run('ip', [
      'netns',
      'exec',
      CLI_NS,
      process.execPath,
      CLI,
      'get',
      'file.bin',
      '--server',
      `${SERVER_IP}:${server.port}`,
      '--out',
      join(out, 'file.bin'),
      '--quiet',
      ...flags.get,
    ]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, `${sourceSha}  ${join(out, 'file.bin')}\n`);
    assert.ok(source.equals(await readFile(join(out, 'file.bin'))), 'bytes differ');
    assert.deepEqual(await readdir(out), ['file.bin']);

    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && !line; i++) {
      line = server.logs().find((l) => l['msg'] === 'connection');
      if (!line) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(line, 'no connection log line');
    t.diagnostic(`server logged: ${JSON.stringify(line)}`);
    assert.match(String(line['peer']), /^198\.18\.0\.2:\d+$/);
    assert.equal(line['outcome'], 'ok');
    assert.equal(line['sha256'], sourceSha);
  } finally {
    if (server) await stopNsServer(server);
    // anything still running in our namespaces was started by this test
    for (const ns of [SRV_NS, CLI_NS]) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout;
      for (const pid of pids.split('\n').filter((p) => /^\d+$/.test(p))) {
        leftover.push(`${ns}:${pid}`);
        process.kill(Number(pid), 'SIGKILL');
      }
    }
    spawnSync('ip', ['netns', 'del', SRV_NS]);
    spawnSync('ip', ['netns', 'del', CLI_NS]);
    await work.remove();
  }
  // nothing left behind: no process, no namespace, no interface
  assert.deepEqual(leftover, [], 'processes left in the namespaces');
  assert.equal(alive(server.pid), false, `server PID ${server.pid} still alive`);
  const left = namespaces().filter((n) => n === SRV_NS || n === CLI_NS);
  assert.deepEqual(left, []);
  assert.equal(existsSync(`/sys/class/net/${SRV_IF}`), false, `${SRV_IF} still exists`);
});
