/** `securestream serve`: wiring from validated settings to a running FileServer. */
import { stat } from 'node:fs/promises';
import { SecureStreamError, errnoCode } from '../errors.js';
import { ALLOW_ALL, SHOW_ALL_FOLDERS, loadAccessRules, type AccessPolicy } from '../access.js';
import type { Logger } from '../log.js';
import { serveUntilSignalled, type Announce } from './control.js';
import type { ServeOptions } from '../config.js';
import { resolveRoot } from '../files.js';
import { formatHostPort } from '../transport/address.js';
import { refuseKeysUnderRoot, rulesUnderRoot } from '../rootguard.js';
import { listeningSummary } from '../logformat.js';
import { loadTlsMaterial, type TlsMaterial } from '../pki/load.js';
import { crlPath, loadCrl, type LoadedCrl } from '../revocation.js';
import { ContentWatch, contentFingerprint } from '../reloadwatch.js';
import { FileServer } from '../transport/server.js';
import { ServeStatus } from '../status/attach.js';
import type { MaterialExpiry, ReloadTrigger } from '../status/metrics.js';
import { sstreamEncoderFor } from '../transport/sstream.js';
import { resolveTlsPolicy, type TlsPolicy } from '../transport/tls.js';

/** Everything a reload re-reads from disk. */
interface Loaded {
  material: TlsMaterial;
  policy: TlsPolicy;
  rootReal: string;
  crl: LoadedCrl | undefined;
  access: AccessPolicy | undefined;
  /** Problems that refuse some clients without stopping the start: logged at start and reload. */
  warnings: string[];
}

/** Loads and validates everything `serve` needs, without listening (a cluster primary's check). */
export async function checkServe(opts: ServeOptions): Promise<void> {
  await loadAll(opts);
}

/** Reads and validates everything from disk; throws before anything is swapped in. */
async function loadAll(opts: ServeOptions, previous?: Loaded): Promise<Loaded> {
  const material = await loadTlsMaterial({ ...opts.material, role: 'server' });
  const { keyKind, keyUsage } = material.certInfo;
  const policy = resolveTlsPolicy({
    ciphers: opts.ciphers,
    tlsMax: opts.tlsMax,
    keyKind,
    keyUsage,
  });
  const crl = await loadCrl(opts.crl, material.anchors, previous?.crl);
  const access = opts.accessPath === undefined ? undefined : await loadAccessRules(opts.accessPath);
  const rootReal = await checkRoot(opts.root);
  await refuseKeysUnderRoot(
    { given: opts.root, real: rootReal },
    { ...opts.material, pkiDir: opts.pkiDir },
  );
  const warnings = [
    ...material.warnings,
    ...(crl?.warnings ?? []),
    ...(await rulesUnderRoot(rootReal, opts.accessPath)),
  ];
  return { material, policy, rootReal, crl, access, warnings };
}

/** What the log says about the material in force. */
function describe(l: Loaded): Record<string, unknown> {
  return {
    cert: l.material.certInfo.subject,
    certFingerprint256: l.material.certInfo.fingerprint256,
    certNotAfter: l.material.certInfo.notAfter,
    crl: l.crl?.path ?? null,
    revoked: l.crl?.revokedCount ?? 0,
    access: l.access ? `${l.access.source} (${l.access.rules.length} rules)` : 'any client',
  };
}

/** The files a reload reads, in a fixed order (a CRL or rules file may be absent). */
function reloadedFiles(opts: ServeOptions): string[] {
  const { caPath, certPath, keyPath } = opts.material;
  const crl = crlPath(opts.crl);
  return [
    caPath,
    certPath,
    keyPath,
    ...(crl ? [crl] : []),
    ...(opts.accessPath ? [opts.accessPath] : []),
  ];
}

/** Expiry dates of the material in force, for the metrics. */
function expiry(l: Loaded): MaterialExpiry {
  const ca = l.material.anchors.cas.map((c) => Date.parse(c.validTo));
  return {
    certificateNotAfter: l.material.certInfo.notAfter.getTime(),
    caNotAfter: Math.min(...ca),
    crlNextUpdate: l.crl?.nextUpdate?.getTime(),
  };
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
  reload(trigger?: ReloadTrigger): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Starts the server and announces it through `announce`. `connectionIdPrefix` keeps
 * connection ids unique across worker processes.
 */
export async function startServe(
  opts: ServeOptions,
  log: Logger,
  announce: Announce,
  connectionIdPrefix = '',
): Promise<RunningServer> {
  const watched = reloadedFiles(opts);
  const baseline = opts.reloadIntervalMs && (await contentFingerprint(watched));
  let loaded = await loadAll(opts);
  const wire = (l: Loaded) => ({
    pem: {
      ca: l.material.ca,
      cert: l.material.cert,
      key: l.material.key,
      crl: l.crl?.pem,
      trust: { anchors: l.material.anchors.cas, crls: l.crl?.lists ?? [] },
    },
    policy: l.policy,
    rootReal: l.rootReal,
    authorize: l.access?.authorize ?? ALLOW_ALL,
    folderVisible: l.access?.folderVisible ?? SHOW_ALL_FOLDERS,
    encoderFor: opts.encrypt ? sstreamEncoderFor : () => undefined,
  });
  const status = new ServeStatus(opts.status);
  const server = new FileServer(
    {
      ...wire(loaded),
      observer: status.observer,
      host: opts.host,
      port: opts.port,
      fd: opts.fd,
      limits: opts.limits,
      connectionIdPrefix,
      preface: opts.preface,
      http: opts.http,
      httpLimits: opts.httpLimits,
    },
    log,
  );
  // Everything binds before the server is announced: a status port that is taken must not
  // leave a half-started server answering clients.
  const addr = await server.listen();
  try {
    status.material(expiry(loaded));
    await status.start(server, log);
  } catch (e) {
    await status.close();
    await server.shutdown(0);
    throw e;
  }
  const fields = {
    address: addr.address,
    port: addr.port,
    ciphers: loaded.policy.ciphers,
    tlsMax: loaded.policy.tlsMax,
    mode: opts.encrypt ? 'sstream-v1' : 'plain',
    root: loaded.rootReal,
    http: opts.http,
    ...describe(loaded),
    limits: opts.limits,
    ...(opts.http ? { httpLimits: opts.httpLimits } : {}),
    graceMs: opts.graceMs,
    statusListen: status.address && formatHostPort(status.address.address, status.address.port),
    trustedProxies: opts.preface.proxyProtocol
      ? opts.preface.trustedProxies.map((n) => `${n.address}/${n.prefix}`)
      : undefined,
  };
  announce(`securestream: ${listeningSummary(fields)}`, fields);
  for (const w of loaded.warnings) log.warn({ warning: w }, 'certificate warning');
  // One reload at a time: a second SIGHUP waits for the first, so the last one read wins.
  let reloading: Promise<boolean> = Promise.resolve(true);
  const reloadOnce = async (trigger: ReloadTrigger): Promise<boolean> => {
    try {
      const next = await loadAll(opts, loaded);
      server.reload(wire(next));
      loaded = next;
      log.info({ trigger, ...describe(next) }, 'reloaded');
      status.reloaded(trigger, true);
      status.material(expiry(next));
      for (const w of next.warnings) log.warn({ warning: w }, 'certificate warning');
      return true;
    } catch (e) {
      status.reloaded(trigger, false);
      log.error(
        {
          trigger,
          reason: e instanceof Error ? e.message : String(e),
          code: (e as { code?: unknown }).code,
        },
        'reload failed; keeping the previous material',
      );
      return false;
    }
  };
  const reload = (trigger: ReloadTrigger = 'signal'): Promise<boolean> => {
    reloading = reloading.then(() => reloadOnce(trigger));
    return reloading;
  };
  const watch = opts.reloadIntervalMs
    ? new ContentWatch(watched, opts.reloadIntervalMs, () => reload('interval'))
    : undefined;
  if (baseline) watch?.start(baseline);
  return {
    server,
    address: addr.address,
    port: addr.port,
    reload,
    async stop() {
      watch?.stop();
      status.drain();
      const { forced } = await server.shutdown(opts.graceMs);
      await status.close();
      log.info({ forced }, 'stopped');
    },
  };
}

/**
 * `securestream serve`: one process, or with `--workers N` the primary of N worker processes
 * (cluster.ts) or one of those workers. Returns once the server has stopped; `out` prints the
 * one "listening" line.
 */
export async function runServe(opts: ServeOptions, out: (line: string) => void): Promise<void> {
  const { createLogger } = await import('../log.js');
  const terminal = process.stderr.isTTY;
  const pretty = (opts.logFormat ?? (terminal ? 'pretty' : 'json')) === 'pretty';
  const log = createLogger({
    pretty,
    color: terminal && !process.env['NO_COLOR'], // https://no-color.org
    clearLine: terminal,
  });
  // On a terminal the pretty "listening" line says what the banner says: print it once.
  // Scripts read the banner from stdout, which is then not a terminal.
  const bannerToo = !(pretty && terminal && process.stdout.isTTY);
  const announce: Announce = (banner, fields) => {
    if (bannerToo) out(banner);
    log.info(fields, 'listening');
  };
  if (opts.workers === 1) {
    await serveUntilSignalled(() => startServe(opts, log, announce), log);
    return;
  }
  const cluster = await import('./cluster.js');
  if (cluster.isClusterWorker()) {
    const id = cluster.workerId();
    const wlog = log.child({ worker: id });
    await serveUntilSignalled(
      () => startServe(opts, wlog, cluster.announceToPrimary, `${id}-`),
      wlog,
      cluster.workerControls,
    );
  } else {
    await checkServe(opts); // one clear error here rather than one per worker
    await cluster.runPrimary(opts.workers, log, announce, opts.status);
  }
}
