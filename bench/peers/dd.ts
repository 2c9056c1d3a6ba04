/**
 * `dd conv=fsync` of the served file: what the disk alone allows for a durable copy of the
 * same bytes, no network and no TLS (the floor a durable download cannot beat). It has no
 * server; an idle `sleep` stands in so that the round's bookkeeping stays the same.
 */
import { freePort, start, stop } from '../procs.js';
import type { Command, Server } from './types.js';

export async function startNoServer(): Promise<Server> {
  const port = await freePort();
  const proc = start('sleep', ['3600']);
  return {
    proc,
    port,
    stop: async () => {
      await stop(proc);
    },
  };
}

export function ddCopy(path: string, out: string): Command {
  return { cmd: 'dd', args: [`if=${path}`, `of=${out}`, 'bs=4M', 'conv=fsync', 'status=none'] };
}
