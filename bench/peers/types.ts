/** What every peer module offers the cases: a server started by PID, and client commands. */
import type { Pki } from '../pki.js';
import type { Proc } from '../procs.js';

/** Shared by every peer of one benchmark run. */
export interface PeerContext {
  /** Scratch folder (on disk) for configs, keys and logs. */
  tmp: string;
  /** Folder whose files are served, by name. */
  root: string;
  pki: Pki;
}

/** A running server on 127.0.0.1. */
export interface Server {
  readonly proc: Proc;
  readonly port: number;
  /** The server's own log file, when it writes one. */
  readonly log?: string;
  /** Stops the server by PID and waits for it to exit. */
  stop(): Promise<void>;
}

/** A client command line that downloads `name` into a file. */
export interface Command {
  cmd: string;
  args: string[];
}
