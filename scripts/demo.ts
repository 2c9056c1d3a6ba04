/**
 * `npm run demo`: the whole job on localhost with the real CLI, in a temporary folder: a PKI,
 * a 64 MiB payload, a server, two clients at once and a report that the digests match; then
 * what the tool is for: a client whose certificate comes from a CA the server does not know,
 * and a client whose certificate was revoked, are both refused, and the report says why.
 *
 * Every process is started and stopped by PID. Ctrl-C (SIGINT to the whole process group),
 * SIGTERM or SIGHUP to the demo alone, and a closed stdout (`npm run demo | head -3`) all end
 * the same way: every child stopped, the folder (it holds a CA key) removed, then exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli.js');
/** How long a child may take to exit after SIGTERM before it gets SIGKILL, in ms. */
const STOP_MS = 5000;
/** How long to wait for the server to log a refused handshake, in ms. */
const LOG_WAIT_MS = 5000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The children alive right now, and the one way the demo ends early. */
const children = new Set<ChildProcess>();
let stopping: Promise<never> | undefined;

function start(args: string[]): ChildProcess {
  if (stopping) throw new Error('stopping');
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs `securestream ARGS` to its end. */
async function cli(args: string[]): Promise<Run> {
  const child = start(args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout: stdout.trim(), stderr: stderr.trim() };
}

/** Runs a command that must succeed and returns its stdout. */
async function must(args: string[]): Promise<string> {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`securestream ${args.slice(0, 2).join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function say(text = ''): void {
  if (!stopping) process.stdout.write(`${text}\n`);
}

/**
 * Stops every child by PID (SIGTERM, SIGKILL after STOP_MS), removes the folder and exits with
 * `code`. The first call wins; later ones wait with it.
 */
function shutdown(dir: string, code: number): Promise<never> {
  stopping ??= (async () => {
    await Promise.all(
      [...children].map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = once(c, 'exit');
        c.kill('SIGTERM');
        const timer = setTimeout(() => c.kill('SIGKILL'), STOP_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
    await rm(dir, { recursive: true, force: true });
    process.exit(code);
  })();
  return stopping;
}

interface Server {
  port: number;
  banner: string;
  /** The server's log records so far (JSON lines on its stderr). */
  log(): Record<string, unknown>[];
}

async function startServer(args: string[]): Promise<Server> {
  const proc = start(['serve', ...args, '--log-format', 'json']);
  let out = '';
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const log = (): Record<string, unknown>[] =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return new Promise((res, rej) => {
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^(securestream: listening on \S+:(\d+) .*)$/m.exec(out);
      if (m?.[1] && m[2]) res({ port: Number(m[2]), banner: m[1], log });
    });
    proc.once('exit', (code) => {
      rej(new Error(`the server exited with ${code}: ${err.trim()}`));
    });
  });
}

/** Waits for the `n`-th "handshake failed" record of the server (1-based). */
async function refusalRecord(s: Server, n: number): Promise<Record<string, unknown> | undefined> {
  for (const deadline = Date.now() + LOG_WAIT_MS; Date.now() < deadline;) {
    const hit = s.log().filter((l) => l['msg'] === 'handshake failed')[n - 1];
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 25));
  }
  return undefined;
}

const digestOf = (line: string): string => line.split(/\s+/)[0] ?? '';
const label = (s: string): string => `  ${s.padEnd(24)}`;

async function main(dir: string): Promise<number> {
  const pki = join(dir, 'pki');
  const rogue = join(dir, 'rogue-pki');
  const data = join(dir, 'data');
  await mkdir(data);
  say(`demo folder: ${dir}`);
  say('\n== a CA, a server certificate and client certificates for alice, bob and carol');
  say(
    await must([
      'pki',
      'init',
      '--dir',
      pki,
      '--client',
      'alice',
      '--client',
      'bob',
      '--client',
      'carol',
    ]),
  );
  say('\n== carol leaves: her certificate is revoked');
  say(await must(['pki', 'revoke', 'carol', '--dir', pki]));
  say('\n== mallory has a certificate from another CA, one the server does not trust');
  const rogueOut = await must(['pki', 'init', '--dir', rogue, '--client', 'mallory']);
  say(rogueOut.split('\n')[0]);
  say('\n== a 64 MiB payload');
  const payload = await must(['payload', join(data, 'payload.bin'), '--size', '64MiB']);
  say(payload);
  say('\n== the server (it reads pki/crl.pem, so carol is refused)');
  const s = await startServer(['--root', data, '--pki', pki, '--host', '127.0.0.1', '--port', '0']);
  say(s.banner);
  const get = (name: string, folder: string, out: string): Promise<Run> =>
    cli([
      'get',
      'payload.bin',
      '--server',
      `localhost:${s.port}`,
      '--ca',
      join(pki, 'ca.crt'),
      '--cert',
      join(folder, `${name}.crt`),
      '--key',
      join(folder, `${name}.key`),
      '--out',
      join(dir, out),
      '--quiet',
    ]);

  say('\n== alice and bob download at once');
  const clients = ['alice', 'bob'];
  const started = Date.now();
  const results = await Promise.all(clients.map((c) => get(c, pki, `${c}-payload.bin`)));
  const seconds = (Date.now() - started) / 1000;
  say('== mallory and carol try');
  const refusals: { who: string; why: string; run: Run; record?: Record<string, unknown> }[] = [];
  for (const [who, folder, why] of [
    ['mallory', rogue, 'unknown CA'],
    ['carol', pki, 'revoked'],
  ] as const) {
    const run = await get(who, folder, `${who}-payload.bin`);
    const record = await refusalRecord(s, refusals.length + 1);
    refusals.push({ who, why, run, ...(record ? { record } : {}) });
  }

  const want = digestOf(payload);
  say('\nreport');
  say(`${label('source (server)')}${want}  payload.bin, 64 MiB`);
  let ok = true;
  for (const [i, r] of results.entries()) {
    const name = clients[i] ?? '';
    const sent = s.log().find((l) => l['msg'] === 'connection' && l['subject'] === `CN=${name}`);
    const sentHex = typeof sent?.['sha256'] === 'string' ? sent['sha256'] : '(no log line)';
    const match = r.code === 0 && digestOf(r.stdout) === want && sentHex === want;
    ok &&= match;
    say(`${label(`server -> ${name}`)}${sentHex}  trailer digest sent`);
    say(
      `${label(`${name} stored`)}${digestOf(r.stdout) || r.stderr}  ${match ? 'MATCH' : 'MISMATCH'}`,
    );
  }
  say(`  two clients, ${(128 / seconds).toFixed(0)} MiB/s together, ${seconds.toFixed(2)} s`);
  for (const { who, why, run, record } of refusals) {
    const reason = typeof record?.['reason'] === 'string' ? record['reason'] : '(no log line)';
    const refused = run.code === 3 && record !== undefined;
    ok &&= refused;
    say(
      `${label(`${who} (${why})`)}${refused ? 'REFUSED' : 'NOT REFUSED'} at the handshake, exit ${run.code}`,
    );
    say(`${label('')}server log: ${reason}`);
    say(`${label('')}${who} saw: ${run.stderr.split('\n')[0] ?? ''}`);
  }
  say(
    ok
      ? '\nall copies are identical; the unknown CA and the revoked certificate were both refused'
      : '\nsomething is wrong: see the lines marked MISMATCH or NOT REFUSED',
  );
  return ok ? 0 : 1;
}

const dir = await mkdtemp(join(tmpdir(), 'securestream-demo-'));
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const) {
  process.on(signal, () => void shutdown(dir, code));
}
// `npm run demo | head -3`: the reader is gone, so is the point of going on.
process.stdout.on('error', () => void shutdown(dir, 141));
main(dir).then(
  (code) => shutdown(dir, code),
  (e: unknown) => {
    if (!stopping)
      process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return shutdown(dir, 1);
  },
);
