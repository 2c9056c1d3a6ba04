/**
 * A private OpenSSH server on 127.0.0.1: its own ECDSA P-256 host key, one authorized ECDSA
 * P-256 key for root, cipher aes128-gcm@openssh.com only, config and keys in a temporary
 * folder, in the foreground (`-D`). Clients: sftp, and scp with the legacy protocol (`-O`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOOLS } from '../env.js';
import { freePort, start, stop, tempDir, waitForPort } from '../procs.js';
import type { Command, PeerContext, Server } from './types.js';

export const SSH_CIPHER = 'aes128-gcm@openssh.com';
/** sshd's compiled-in privilege separation folder; made if missing, removed again after. */
const PRIVSEP = '/run/sshd';

export interface SshServer extends Server {
  /** The client's private key. */
  identity: string;
}

function keygen(path: string): void {
  const r = spawnSync(
    TOOLS.sshKeygen.path,
    ['-q', '-t', 'ecdsa', '-b', '256', '-N', '', '-f', path],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

export async function startSshd(ctx: PeerContext): Promise<SshServer> {
  const dir = tempDir(ctx.tmp, 'sshd-');
  const port = await freePort();
  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'client_key'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  const cfg = join(dir, 'sshd_config');
  writeFileSync(
    cfg,
    `ListenAddress 127.0.0.1
Port ${port}
HostKey ${dir}/host_key
PidFile ${dir}/sshd.pid
AuthorizedKeysFile ${dir}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Ciphers ${SSH_CIPHER}
Compression no
UseDNS no
Subsystem sftp internal-sftp
LogLevel ERROR
`,
  );
  const madePrivsep = !existsSync(PRIVSEP);
  if (madePrivsep) mkdirSync(PRIVSEP, { mode: 0o755 });
  const proc = start(TOOLS.sshd.path, ['-f', cfg, '-D', '-e'], { stderr: join(dir, 'sshd.log') });
  try {
    await Promise.race([
      waitForPort(port, 10_000, 'sshd'),
      proc.exited.then((c) => {
        throw new Error(`sshd exited (${c}): ${readFileSync(join(dir, 'sshd.log'), 'utf8')}`);
      }),
    ]);
  } catch (e) {
    await stop(proc);
    throw e;
  }
  return {
    proc,
    port,
    log: join(dir, 'sshd.log'),
    identity: join(dir, 'client_key'),
    async stop() {
      await stop(proc, 'SIGTERM', 3000);
      if (madePrivsep) {
        try {
          rmdirSync(PRIVSEP);
        } catch {
          // not empty or gone: leave it
        }
      }
    },
  };
}

function sshOptions(s: SshServer): string[] {
  return [
    '-F',
    '/dev/null',
    '-i',
    s.identity,
    '-c',
    SSH_CIPHER,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'Compression=no',
  ];
}

/** `sftp` fetching an absolute remote path. */
export function sftpGet(s: SshServer, remote: string, out: string): Command {
  return {
    cmd: TOOLS.sftp.path,
    args: [...sshOptions(s), '-q', '-P', String(s.port), `root@127.0.0.1:${remote}`, out],
  };
}

/** `scp -O` (the classic scp protocol, not SFTP) fetching an absolute remote path. */
export function scpGet(s: SshServer, remote: string, out: string): Command {
  return {
    cmd: TOOLS.scp.path,
    args: [...sshOptions(s), '-O', '-q', '-P', String(s.port), `root@127.0.0.1:${remote}`, out],
  };
}
