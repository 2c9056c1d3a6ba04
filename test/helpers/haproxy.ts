/**
 * Debian's HAProxy as a real peer: a configuration written to a file, the process run in the
 * foreground (optionally inside a network namespace), stopped by its PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Why HAProxy cannot be used here, or undefined when it can. */
export function haproxyMissing(): string | undefined {
  const r = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (r.error)
    return `haproxy is not installed (.ci/run installs Debian's haproxy): ${r.error.message}`;
  return r.status === 0 ? undefined : `haproxy -v failed: ${r.stderr}`;
}

/** A port free on `host` right now (HAProxy needs its ports written in its configuration). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => {
        resolve(port);
      });
    });
  });
}

export interface Haproxy {
  pid: number;
  /** What HAProxy wrote on stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Writes `config` to DIR/haproxy.cfg, checks it with `haproxy -c`, starts `haproxy -db` (in
 * the foreground, no daemon) and waits until every `[host, port]` in `ready` accepts TCP.
 * `prefix` runs it through another command first (`ip netns exec NS`), which must exec in place.
 */
export async function startHaproxy(
  dir: string,
  config: string,
  ready: [string, number][],
  prefix: string[] = [],
): Promise<Haproxy> {
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  const [cmd, ...args] = [...prefix, 'haproxy', '-f', file];
  const check = spawnSync(cmd, [...args, '-c'], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c: ${check.stdout}${check.stderr}`);
  const child: ChildProcess = spawn(cmd, [...args, '-db'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) =>
    child.once('exit', () => {
      r();
    }),
  );
  const pid = child.pid ?? -1;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  // Probing with a connection would make HAProxy open one to the backend: ask the kernel.
  const deadline = Date.now() + 10_000;
  for (const [host, port] of ready) {
    while (!listening(prefix, host, port)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`haproxy did not listen on ${host}:${port}: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { pid, output: () => err, stop };
}

/** Whether a TCP socket listens on host:port (`ss` from iproute2, in the same namespace). */
function listening(prefix: string[], host: string, port: number): boolean {
  const [cmd, ...args] = [...prefix, 'ss', '-Hltn', `src ${host}:${port}`];
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '';
}
