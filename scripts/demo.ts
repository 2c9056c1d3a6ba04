/**
 * `npm run demo`: the whole job on localhost with the real CLI, in a temporary folder: a PKI,
 * a 64 MiB payload, a server, two clients at once, and a report that the digests match.
 * Every process is started and stopped by PID; the folder is removed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli.js');

function cli(args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', rej);
    p.on('close', (code) => {
      if (code === 0) res(out.trim());
      else rej(new Error(`securestream ${args[0] ?? ''} exited with ${code}`));
    });
  });
}

interface Server {
  proc: ChildProcess;
  port: number;
  /** The server's own log lines (JSON), one per connection. */
  log: () => Record<string, unknown>[];
}

function startServer(args: string[]): Promise<Server> {
  return new Promise((res, rej) => {
    const proc = spawn(process.execPath, [CLI, 'serve', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const log = (): Record<string, unknown>[] =>
      err
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    proc.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on \S+:(\d+) /.exec(out);
      if (m?.[1]) {
        process.stdout.write(`${out.trim()}\n`);
        res({ proc, port: Number(m[1]), log });
      }
    });
    proc.on('exit', (code) => {
      rej(new Error(`server exited with ${code}`));
    });
  });
}

const digestOf = (line: string): string => line.split(/\s+/)[0] ?? '';

async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'securestream-demo-'));
  let server: ChildProcess | undefined;
  try {
    const pki = join(dir, 'pki');
    const data = join(dir, 'data');
    await mkdir(data);
    console.log(`demo folder: ${dir}\n`);
    console.log(await cli(['pki', 'init', '--dir', pki, '--client', 'alice', '--client', 'bob']));
    const payload = await cli(['payload', join(data, 'payload.bin'), '--size', '64MiB']);
    console.log(`\npayload: ${payload}\n`);
    const s = await startServer([
      '--root',
      data,
      '--pki',
      pki,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--log-format',
      'json',
    ]);
    server = s.proc;
    const started = Date.now();
    const clients = ['alice', 'bob'];
    const results = await Promise.all(
      clients.map((name) =>
        cli([
          'get',
          'payload.bin',
          '--server',
          `localhost:${s.port}`,
          '--ca',
          join(pki, 'ca.crt'),
          '--cert',
          join(pki, `${name}.crt`),
          '--key',
          join(pki, `${name}.key`),
          '--out',
          join(dir, `${name}-payload.bin`),
          '--quiet',
        ]),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    const want = digestOf(payload);
    console.log('\nreport');
    console.log(`  ${'source (server)'.padEnd(22)}${want}  payload.bin, 64 MiB`);
    let ok = true;
    for (const [i, line] of results.entries()) {
      const name = clients[i] ?? '';
      const sent = s.log().find((l) => l['msg'] === 'connection' && l['subject'] === `CN=${name}`);
      const sentHex = typeof sent?.['sha256'] === 'string' ? sent['sha256'] : '(no log line)';
      const match = digestOf(line) === want && sentHex === want;
      ok &&= match;
      console.log(`  ${`server -> ${name}`.padEnd(22)}${sentHex}  trailer digest sent`);
      console.log(
        `  ${`${name} stored`.padEnd(22)}${digestOf(line)}  ${match ? 'MATCH' : 'MISMATCH'}`,
      );
    }
    console.log(
      `  two clients, ${(128 / seconds).toFixed(0)} MiB/s together, ${seconds.toFixed(2)} s`,
    );
    console.log(ok ? '\nall copies are identical' : '\ndigests differ');
    return ok ? 0 : 1;
  } finally {
    if (server && server.exitCode === null && server.pid) {
      const exited = new Promise((r) => server?.once('exit', r));
      process.kill(server.pid, 'SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
