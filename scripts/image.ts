/**
 * `npm run image`: an OCI image of the single executable, built without a container engine.
 * Debian's umoci writes the image layout; the root filesystem holds only the executable, the
 * shared libraries `ldd` says it loads, /etc/passwd and /etc/group naming a non-root user, and
 * the folders the server uses: /data (files, a volume), /pki (certificates, a volume) and /tmp.
 * The entry point is `securestream serve`; its default arguments serve /data with /pki,
 * listen on 8443 and answer /healthz and /metrics on 9100. Output: dist/image (OCI layout,
 * tagged with the version) and dist/securestream-oci.tar (the same as one archive, for
 * `skopeo copy oci-archive:…` or `podman load`).
 */
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The server's user inside the image: not root, and no name clash with a host account. */
export const IMAGE_UID = 10001;
const EXE = '/usr/local/bin/securestream';

function run(cmd: string, args: string[], cwd = root): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message} (is it installed? .ci/run installs it)`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Absolute paths of the shared objects `ldd` resolves for `exe`, the loader included. */
export function sharedLibraries(exe: string): string[] {
  const out = run('ldd', [exe]);
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    // "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m?.[1]) libs.add(m[1]);
    else if (/not found/.test(line)) throw new Error(`ldd ${exe}: ${line.trim()}`);
  }
  return [...libs];
}

/** `--exe FILE` (default: what `npm run dist` made) and `--out DIR` (default: dist). */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { exe: { type: 'string' }, out: { type: 'string' } } });
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  const outDir = resolve(values.out ?? join(root, 'dist'));
  const exe = resolve(
    values.exe ?? join(outDir, 'bin', `securestream-${process.platform}-${process.arch}`),
  );
  const layout = join(outDir, 'image');
  const bundle = join(outDir, 'image-bundle');
  const tag = pkg.version;
  await rm(layout, { recursive: true, force: true });
  await rm(bundle, { recursive: true, force: true });
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:${tag}`]);
  run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
  const fs = join(bundle, 'rootfs');
  const put = async (from: string, to: string, mode: number): Promise<void> => {
    await mkdir(dirname(join(fs, to)), { recursive: true });
    await copyFile(from, join(fs, to));
    await chmod(join(fs, to), mode);
  };
  await put(exe, EXE, 0o755);
  for (const lib of sharedLibraries(exe)) await put(lib, lib, 0o755);
  await mkdir(join(fs, 'etc'), { recursive: true });
  await writeFile(
    join(fs, 'etc/passwd'),
    `root:x:0:0:root:/:/nonexistent\nsecurestream:x:${IMAGE_UID}:${IMAGE_UID}:securestream:/data:/nonexistent\n`,
  );
  await writeFile(join(fs, 'etc/group'), `root:x:0:\nsecurestream:x:${IMAGE_UID}:\n`);
  for (const [dir, mode] of [
    ['data', 0o755],
    ['pki', 0o700],
    ['tmp', 0o1777],
  ] as const) {
    await mkdir(join(fs, dir), { recursive: true });
    await chmod(join(fs, dir), mode);
  }
  run('chown', [`${IMAGE_UID}:${IMAGE_UID}`, join(fs, 'data'), join(fs, 'pki')]);
  run('umoci', ['repack', '--image', `${layout}:${tag}`, bundle]);
  run('umoci', [
    'config',
    '--image',
    `${layout}:${tag}`,
    '--author',
    'securestream',
    '--config.user',
    `${IMAGE_UID}:${IMAGE_UID}`,
    '--config.workingdir',
    '/data',
    '--config.entrypoint',
    EXE,
    '--config.entrypoint',
    'serve',
    ...[
      '--pki',
      '/pki',
      '--root',
      '/data',
      '--status-listen',
      '0.0.0.0:9100',
      '--log-format',
      'json',
    ].flatMap((a) => ['--config.cmd', a]),
    '--config.env',
    'HOME=/data',
    '--config.volume',
    '/data',
    '--config.volume',
    '/pki',
    '--config.exposedports',
    '8443/tcp',
    '--config.exposedports',
    '9100/tcp',
    '--config.label',
    `org.opencontainers.image.version=${pkg.version}`,
    '--config.label',
    'org.opencontainers.image.title=securestream',
  ]);
  run('umoci', ['gc', '--layout', layout]);
  await rm(bundle, { recursive: true, force: true });
  const archive = join(outDir, 'securestream-oci.tar');
  run('tar', ['-C', layout, '-cf', archive, '.']);
  process.stdout.write(`${layout} (${tag})\n${archive}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
