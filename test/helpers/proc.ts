/**
 * Real processes for end-to-end tests: the built CLI, started by PID and always stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/helpers → dist/src/cli.js */
export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout as bytes, for binary output. */
  stdoutBytes: Buffer;
  stderr: string;
}

/** Runs `securestream ARGS` to completion (killed after `timeoutMs`). */
export function runCli(
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], opts);
}

/** Runs any command to completion, capturing its output. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Added to this process's environment; a variable set to undefined is left out.
      ...(opts.env && { env: { ...process.env, ...opts.env } }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString(),
        stdoutBytes: Buffer.concat(out),
        stderr: Buffer.concat(err).toString(),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input);
  });
}

export interface ServerProcess {
  proc: ChildProcess;
  pid: number;
  port: number;
  /** The "listening" line printed on stdout. */
  banner: string;
  /** Everything the server logged on stderr so far (JSON lines). */
  logs(): string;
  /** Parsed JSON log lines so far. */
  logLines(): Record<string, unknown>[];
  /**
   * Resolves when a log line matching `pred` appears among the lines from index `since` on
   * (rejects after `timeoutMs`, default 10 s).
   */
  waitForLog(
    pred: (l: Record<string, unknown>) => boolean,
    opts?: { timeoutMs?: number; since?: number },
  ): Promise<Record<string, unknown>>;
  /** Sends `signal` (default SIGTERM) to the PID and waits for exit; SIGKILL after 10 s. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `securestream serve ARGS --port 0 --log-format json` and waits for its banner. */
export async function startServer(
  args: string[],
  opts: { cwd?: string; host?: string } = {},
): Promise<ServerProcess> {
  const proc = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--host',
      opts.host ?? '127.0.0.1',
      '--port',
      '0',
      '--log-format',
      'json',
      ...args,
    ],
    { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) =>
    proc.on('exit', (code) => {
      r(code);
    }),
  );
  const banner = await new Promise<string>((resolveBanner, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start: ${stderr}`));
    }, 20_000);
    proc.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      const line = stdout.split('\n').find((l) => l.includes('listening on'));
      if (line) {
        clearTimeout(timer);
        resolveBanner(line);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${stderr}`));
    });
  });
  const port = Number(/listening on \S*:(\d+) /.exec(banner)?.[1]);
  const logLines = (): Record<string, unknown>[] =>
    stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    proc,
    pid: proc.pid ?? -1,
    port,
    banner,
    logs: () => stderr,
    logLines,
    async waitForLog(pred, { timeoutMs = 10_000, since = 0 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logLines().slice(since).find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching log line in: ${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      process.kill(proc.pid ?? -1, signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A fresh temporary folder and its removal. */
export async function tempDir(
  prefix = 'securestream-test-',
): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Runs `fn` with a fresh temporary folder, removed afterwards whatever `fn` did. */
export async function inTempDir<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await tempDir();
  try {
    return await fn(dir.path);
  } finally {
    await dir.remove();
  }
}
