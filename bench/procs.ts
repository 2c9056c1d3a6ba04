/**
 * Every process and temporary folder the benchmark makes, in one registry, so that a normal
 * end, an error or Ctrl-C stops each of them by PID and removes each folder. Children start in
 * their own process group (`detached`), so a wrapper such as /usr/bin/time and the program it
 * runs are stopped together by the group id, which is the PID we started.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * NODE_EXTRA_CA_CERTS as this machine sets it, if it does. Every process the bench starts runs
 * without it: node parses that bundle at every start-up (about 85 ms of CPU per process where
 * it names the 144-certificate system bundle), although securestream pins its own CA and never
 * consults a default trust store, just as curl given --cacert ignores its bundle variables.
 */
export const DROPPED_EXTRA_CA = process.env['NODE_EXTRA_CA_CERTS'];
const BENCH_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'),
);

const live = new Map<number, ChildProcess>();
const dirs = new Set<string>();

/** A started process, tracked until it exits. */
export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
}

export interface SpawnOptions {
  cwd?: string;
  /** Files for stdout and stderr; `pipe` keeps them readable on `child`. Default: discarded. */
  stdout?: string;
  stderr?: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts a tracked process in its own process group. */
export function start(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const fds: number[] = [];
  const sink = (where: string | undefined): 'ignore' | 'pipe' | number => {
    if (where === undefined) return 'ignore';
    if (where === 'pipe') return 'pipe';
    const fd = openSync(where, 'a');
    fds.push(fd);
    return fd;
  };
  const stdio: StdioOptions = ['ignore', sink(opts.stdout), sink(opts.stderr)];
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? BENCH_ENV,
    stdio,
    detached: true,
  });
  for (const fd of fds) closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${cmd}`);
  live.set(pid, child);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(pid);
      resolve(code ?? signal ?? -1);
    });
  });
  child.once('error', () => live.delete(pid));
  return { child, pid, exited };
}

/** Sends `signal` to the process group we started, then to the PID itself. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

/** Stops one process: `signal` first, SIGKILL after `graceMs`; resolves when it has exited. */
export async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
  if (!live.has(p.pid)) return p.exited;
  signalGroup(p.pid, signal);
  const timer = setTimeout(() => {
    signalGroup(p.pid, 'SIGKILL');
  }, graceMs);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for exit; past `timeoutMs` the process is killed and this rejects. */
export async function waitExit(p: Proc, timeoutMs: number, what: string): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      signalGroup(p.pid, 'SIGKILL');
      reject(new Error(`${what} did not finish within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A new temporary folder under `parent`, removed by {@link cleanup}. */
export function tempDir(parent: string, prefix: string): string {
  const dir = mkdtempSync(join(parent, prefix));
  dirs.add(dir);
  return dir;
}

/** Forgets a folder removed early. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Kills every tracked process (group) and removes every temporary folder, synchronously. */
export function cleanup(): void {
  for (const pid of live.keys()) signalGroup(pid, 'SIGKILL');
  live.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** On Ctrl-C, SIGTERM or a crash: clean up, then exit. */
export function cleanupOnExit(): void {
  const bail = (code: number) => () => {
    process.stderr.write('\nbench: interrupted; stopping peers and removing temp folders\n');
    cleanup();
    process.exit(code);
  };
  process.once('SIGINT', bail(130));
  process.once('SIGTERM', bail(143));
  process.once('SIGHUP', bail(129));
  process.once('exit', cleanup);
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => {
        resolve(port);
      });
    });
  });
}

/** Resolves once 127.0.0.1:port accepts TCP connections, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => {
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} is not listening on port ${port}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
