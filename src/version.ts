/**
 * What `securestream --version` prints: securestream's own version and the Node.js and
 * OpenSSL it runs on (the TLS stack is OpenSSL's, so a report of a TLS problem needs both).
 */
import { readFileSync } from 'node:fs';

/**
 * Set by the bundles (scripts/bundle.ts, scripts/dist.ts: the single executable has no
 * package.json beside it); undefined in the tsc build, which reads package.json from the
 * package root.
 */
declare const SECURESTREAM_VERSION: string | undefined;

/** securestream's version, e.g. "0.1.0", from package.json (dist/src/version.js → ../../). */
export function ownVersion(): string {
  if (typeof SECURESTREAM_VERSION === 'string') return SECURESTREAM_VERSION;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Three lines: `securestream X`, `Node.js X`, `OpenSSL X` (versions without a leading v). */
export function versionReport(
  versions: { node: string; openssl: string } = process.versions,
): string {
  return [
    `securestream ${ownVersion()}`,
    `Node.js ${versions.node}`,
    `OpenSSL ${versions.openssl}`,
  ].join('\n');
}
