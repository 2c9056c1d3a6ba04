/** `securestream serve`: wiring from validated settings to a running FileServer. */
import { stat } from 'node:fs/promises';
import { SecureStreamError, errnoCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { MaterialPaths } from '../config.js';
import { resolveRoot } from '../files.js';
import { loadTlsMaterial, type TlsMaterial } from '../pki/load.js';
import { FileServer, type ServerLimits } from '../transport/server.js';
import type { Authorizer } from '../transport/session.js';
import { sstreamEncoderFor } from '../transport/sstream.js';
import {
  resolveTlsPolicy,
  type ServerKeyKind,
  type TlsMax,
  type TlsPolicy,
} from '../transport/tls.js';

export interface ServeOptions {
  root: string;
  host?: string | undefined;
  port: number;
  material: MaterialPaths;
  ciphers?: string[] | undefined;
  tlsMax?: TlsMax | undefined;
  limits: ServerLimits;
  graceMs: number;
  /** Send every file as sstream-v1, encrypted to the client certificate's key. */
  encrypt: boolean;
}

/** Everything a reload re-reads from disk. */
interface Loaded {
  material: TlsMaterial;
  policy: TlsPolicy;
  rootReal: string;
}

const ALLOW_ALL: Authorizer = () => ({
  allowed: true,
  rule: 'default (any certificate from the CA)',
});

async function loadAll(opts: ServeOptions): Promise<Loaded> {
  const material = await loadTlsMaterial({ ...opts.material, role: 'server' });
  const kind = material.certInfo.keyKind;
  const keyKind: ServerKeyKind = kind === 'ec' || kind === 'rsa' ? kind : 'other';
  const policy = resolveTlsPolicy({ ciphers: opts.ciphers, tlsMax: opts.tlsMax, keyKind });
  return { material, policy, rootReal: await checkRoot(opts.root) };
}

async function checkRoot(root: string): Promise<string> {
  try {
    if (!(await stat(root)).isDirectory()) {
      throw new SecureStreamError('root-invalid', `--root "${root}" is not a folder`);
    }
    return await resolveRoot(root);
  } catch (e) {
    if (e instanceof SecureStreamError) throw e;
    if (errnoCode(e) === 'ENOENT') {
      throw new SecureStreamError(
        'root-invalid',
        `--root "${root}" does not exist`,
        'create it or pass --root DIR',
      );
    }
    throw new SecureStreamError(
      'root-invalid',
      `cannot use --root "${root}": ${(e as Error).message}`,
    );
  }
}

export interface RunningServer {
  server: FileServer;
  address: string;
  port: number;
  /** Re-reads material and rules; on failure keeps the old ones and says why. */
  reload(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Starts the server; `say` prints the one "listening" line for people and scripts. */
export async function startServe(
  opts: ServeOptions,
  log: Logger,
  say: (line: string) => void,
): Promise<RunningServer> {
  const loaded = await loadAll(opts);
  const wire = (l: Loaded) => ({
    pem: { ca: l.material.ca, cert: l.material.cert, key: l.material.key },
    policy: l.policy,
    rootReal: l.rootReal,
    authorize: ALLOW_ALL,
    encoderFor: opts.encrypt ? sstreamEncoderFor : () => undefined,
  });
  const server = new FileServer(
    { ...wire(loaded), host: opts.host, port: opts.port, limits: opts.limits },
    log,
  );
  const addr = await server.listen();
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  say(
    `securestream: listening on ${shown}:${addr.port} (TLS ${loaded.policy.tlsMax === '1.3' ? '1.2-1.3' : '1.2 only'}, ` +
      `ciphers ${loaded.policy.ciphers.join(':')}; client certificates required; mode ${opts.encrypt ? 'sstream-v1' : 'plain'}; root ${loaded.rootReal})`,
  );
  log.info(
    {
      address: addr.address,
      port: addr.port,
      ciphers: loaded.policy.ciphers,
      tlsMax: loaded.policy.tlsMax,
      cert: loaded.material.certInfo.subject,
      certNotAfter: loaded.material.certInfo.notAfter,
    },
    'listening',
  );
  return {
    server,
    address: addr.address,
    port: addr.port,
    async reload() {
      try {
        const next = await loadAll(opts);
        server.reload(wire(next));
        log.info(
          { cert: next.material.certInfo.subject, certNotAfter: next.material.certInfo.notAfter },
          'reloaded',
        );
        return true;
      } catch (e) {
        log.error(
          { reason: e instanceof Error ? e.message : String(e) },
          'reload failed; keeping the previous material',
        );
        return false;
      }
    },
    async stop() {
      const { forced } = await server.shutdown(opts.graceMs);
      log.info({ forced }, 'stopped');
    },
  };
}

/**
 * Runs until SIGTERM/SIGINT: the first stops accepting and lets transfers finish within the
 * grace period, a second closes every connection at once. SIGHUP reloads.
 */
export async function serveUntilSignalled(running: RunningServer, log: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: closing every connection now');
        running.server.destroyAll();
        return;
      }
      stopping = true;
      log.info({ signal, connections: running.server.connectionCount }, 'shutting down');
      void running.stop().then(resolve);
    };
    process.on('SIGTERM', () => {
      stop('SIGTERM');
    });
    process.on('SIGINT', () => {
      stop('SIGINT');
    });
    process.on('SIGHUP', () => {
      void running.reload();
    });
  });
}
