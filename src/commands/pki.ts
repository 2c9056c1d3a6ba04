import type { PkiInitOptions, PkiIssueClientOptions, PkiRevokeOptions } from '../config.js';
import { initPki, issueClient, type InitPkiResult, type IssueClientResult } from '../pki/folder.js';
import type { KeySpec } from '../pki/generate.js';
import { revoke, type RevokeResult } from '../pki/revoke.js';

/** Receives one line of standard output (without the newline). */
export type Out = (line: string) => void;

/** Creates a PKI folder and reports what was written. */
export async function runPkiInit(opts: PkiInitOptions, out: Out): Promise<InitPkiResult> {
  const r = await initPki(opts);
  out(`created an ${describeKey(r.keySpec)} PKI in ${r.dir}`);
  for (const path of r.files) out(`  wrote ${path}${path.endsWith('.key') ? ' (mode 0600)' : ''}`);
  for (const path of r.removed) out(`  removed ${path} (revocation list of the replaced CA)`);
  for (const path of r.orphans) {
    const why = path.endsWith('.key')
      ? 'the key of a certificate the replaced CA issued'
      : 'issued by the replaced CA: it can never verify again';
    out(`  removed ${path} (${why})`);
  }
  out(`server names: ${r.serverNames.join(', ')}`);
  out(`clients: ${r.clients.join(', ')}`);
  out(`certificates valid until ${day(r.leafNotAfter)}, the CA until ${day(r.caNotAfter)}`);
  out('copy ca.crt and one client.crt/client.key pair to each client; keep ca.key private');
  return r;
}

/** Issues one more client certificate and reports where it went. */
export async function runPkiIssueClient(
  opts: PkiIssueClientOptions,
  out: Out,
): Promise<IssueClientResult> {
  const r = await issueClient(opts);
  out(`issued client certificate "${opts.name}" (${describeKey(r.keySpec)})`);
  out(`  wrote ${r.certPath}`);
  out(`  wrote ${r.keyPath} (mode 0600)`);
  out(`serial ${r.serialHex}, valid until ${day(r.notAfter)}`);
  return r;
}

/** Revokes a client certificate or serial and reports the CRL written. */
export async function runPkiRevoke(opts: PkiRevokeOptions, out: Out): Promise<RevokeResult> {
  const r = await revoke(opts);
  const what =
    r.name === undefined ? `serial ${r.serialHex}` : `"${r.name}" (serial ${r.serialHex})`;
  if (r.alreadyRevoked) {
    out(`${what} was already revoked; ${r.crlPath} is unchanged`);
    return r;
  }
  out(`revoked ${what}`);
  out(`  wrote ${r.crlPath} (CRL number ${r.crlNumber}, ${r.revokedCount} revoked)`);
  out('a running server picks up the new list on SIGHUP (kill -HUP <pid>)');
  return r;
}

function describeKey(spec: KeySpec): string {
  switch (spec.kind) {
    case 'ec':
      return `EC ${spec.curve}`;
    case 'rsa':
      return `RSA-${spec.bits}`;
    case 'rsa-pss':
      return `RSA-PSS-${spec.bits}`;
    case 'ed25519':
      return 'Ed25519';
  }
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}
