/**
 * The processes of a cluster run: each one started in a host's namespace, its output kept,
 * the time and manner of its exit recorded, and every one that is still running at the end
 * stopped by its PID.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Host, Segment } from '../netns.js';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  out: string;
  err: string;
  /** Date.now() at the exit (undefined while it runs), the code, or the signal that ended it. */
  exitedAt?: number;
  code?: number | null;
  signal?: NodeJS.Signals | null;
  /** Resolves once the process has exited and its output has been read to the end. */
  readonly closed: Promise<void>;
}

/**
 * node parses NODE_EXTRA_CA_CERTS at every start (about 85 ms of CPU for the system bundle on
 * this machine, times thirty clients); securestream pins its own CA and never reads it.
 */
const ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'),
);

export class Procs {
  readonly all: Proc[] = [];

  constructor(private readonly net: Segment) {}

  /** Starts `cmd ARGS` on `host`; stdout and stderr are piped and kept. */
  start(name: string, host: Host, cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
    const child = this.net.spawn(host, cmd, args, { env: ENV, ...opts });
    const closed = new Promise<void>((resolve) => {
      child.once('close', () => {
        resolve();
      });
    });
    const p: Proc = { name, child, pid: child.pid ?? -1, out: '', err: '', closed };
    child.stdout?.on('data', (b: Buffer) => (p.out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (p.err += b.toString()));
    child.once('exit', (code, signal) => {
      p.exitedAt = Date.now();
      p.code = code;
      p.signal = signal;
    });
    // A command that cannot start (ip missing) reports it here, then "close" follows.
    child.once('error', (e) => {
      p.err += `${e.message}\n`;
      p.exitedAt ??= Date.now();
    });
    this.all.push(p);
    return p;
  }

  /** Sends `signal` to the process by its PID (ip netns exec ran it in place). */
  static signal(p: Proc, signal: NodeJS.Signals): void {
    // pid -1 would mean every process: a command that never started has none
    if (p.exitedAt === undefined && p.pid > 0) process.kill(p.pid, signal);
  }

  /** SIGKILL to every process still running, by PID; resolves once all have closed. */
  async stopAll(): Promise<void> {
    for (const p of this.all) {
      try {
        Procs.signal(p, 'SIGKILL');
      } catch {
        // exited in between
      }
    }
    await Promise.all(this.all.map((p) => p.closed));
  }
}

/** Waits until `cond` holds, checking every 25 ms; throws naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  for (const deadline = Date.now() + ms; !cond();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
