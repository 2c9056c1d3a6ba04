/**
 * The machine and the peers: installs what is missing (Debian, as root), says why a peer is
 * skipped otherwise, and records versions, CPU model and the file system written to.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** A program the benchmark runs, and the Debian package that has it. */
interface Tool {
  path: string;
  pkg: string;
}

export const TOOLS = {
  nginx: { path: '/usr/sbin/nginx', pkg: 'nginx' },
  sshd: { path: '/usr/sbin/sshd', pkg: 'openssh-server' },
  ssh: { path: '/usr/bin/ssh', pkg: 'openssh-client' },
  sftp: { path: '/usr/bin/sftp', pkg: 'openssh-client' },
  scp: { path: '/usr/bin/scp', pkg: 'openssh-client' },
  sshKeygen: { path: '/usr/bin/ssh-keygen', pkg: 'openssh-client' },
  curl: { path: '/usr/bin/curl', pkg: 'curl' },
  openssl: { path: '/usr/bin/openssl', pkg: 'openssl' },
  time: { path: '/usr/bin/time', pkg: 'time' },
} satisfies Record<string, Tool>;

export type ToolName = keyof typeof TOOLS;

function run(cmd: string, args: string[], timeoutMs = 300_000) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

/**
 * Installs the packages of missing tools with apt-get when running as root. A policy-rc.d
 * that refuses service starts is in place during the install, so the packages' own nginx and
 * sshd services (listening on every interface) never start. Returns why each tool that is
 * still missing is missing.
 */
export function ensureTools(log: (line: string) => void): Map<ToolName, string> {
  const missing = (Object.keys(TOOLS) as ToolName[]).filter((t) => !existsSync(TOOLS[t].path));
  const pkgs = [...new Set(missing.map((t) => TOOLS[t].pkg))];
  let reason = '';
  if (pkgs.length > 0) {
    if (process.getuid?.() !== 0) reason = 'not root, cannot apt-get install';
    else if (!existsSync('/usr/bin/apt-get')) reason = 'no apt-get on this machine';
    else {
      log(`installing ${pkgs.join(' ')} with apt-get (services kept stopped)`);
      const policy = '/usr/sbin/policy-rc.d';
      const ownPolicy = !existsSync(policy);
      if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
      try {
        let r = run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs]);
        if (!r.ok) {
          run('apt-get', ['update']);
          r = run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs]);
        }
        if (!r.ok) reason = `apt-get install failed: ${r.out.split('\n').slice(-2).join(' ')}`;
      } finally {
        if (ownPolicy) unlinkSync(policy);
      }
    }
  }
  const still = new Map<ToolName, string>();
  for (const t of Object.keys(TOOLS) as ToolName[]) {
    if (!existsSync(TOOLS[t].path))
      still.set(t, `${TOOLS[t].path} missing (${reason || 'unknown'})`);
  }
  return still;
}

/** Versions, CPU and memory of this run. */
export interface Machine {
  node: string;
  nodeOpenssl: string;
  openssl: string;
  nginx: string;
  ssh: string;
  curl: string;
  kernel: string;
  cpuModel: string;
  cpus: number;
  memGiB: number;
  loadAverage: string;
}

function firstLine(cmd: string, args: string[]): string {
  if (!existsSync(cmd)) return 'missing';
  return run(cmd, args, 10_000).out.split('\n')[0] ?? '?';
}

export function machine(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    node: process.version,
    nodeOpenssl: process.versions.openssl,
    openssl: firstLine(TOOLS.openssl.path, ['version']),
    nginx: firstLine(TOOLS.nginx.path, ['-v']),
    ssh: firstLine(TOOLS.ssh.path, ['-V']),
    curl: firstLine(TOOLS.curl.path, ['--version']).split(' ').slice(0, 2).join(' '),
    kernel: run('uname', ['-srm']).out,
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? '?',
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

/** The file system type of `dir` as `stat -f` names it, and whether it is memory-backed. */
export function fileSystem(dir: string): { type: string; device: string; memory: boolean } {
  const type = run('stat', ['-f', '-c', '%T', dir]).out;
  const device = run('df', ['--output=source', dir]).out.split('\n')[1]?.trim() ?? '?';
  return { type, device, memory: /tmpfs|ramfs/.test(type) };
}
