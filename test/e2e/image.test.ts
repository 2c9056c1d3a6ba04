/**
 * The OCI image (`npm run image`, scripts/image.ts), built by Debian's umoci with no container
 * engine and run by Debian's runc: its configuration (entry point `serve`, a non-root user,
 * volumes, ports), a layer that holds the executable, the libraries ldd names and nothing
 * else of note, and a container in its own network namespace serving a client in another one
 * (scripts/netns.ts: 198.18.0.1 ↔ 198.18.0.2) with the image's default arguments, as
 * uid 10001, /healthz answering, SIGTERM ending it with exit 0.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IMAGE_UID, sharedLibraries } from '../../scripts/image.js';
import { Segment } from '../../scripts/netns.js';
import { CLI, run, runCli, tempDir } from '../helpers/proc.js';
import { ROOT } from '../helpers/source.js';

const CONTAINER = `securestream-test-${process.pid}`;

function unsupported(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return 'the image is built for linux-x64';
  if (process.getuid?.() !== 0) return 'runc and network namespaces need root here (CI is root)';
  for (const tool of ['umoci', 'runc', 'ip'])
    if (spawnSync(tool, ['--version']).error)
      return `${tool} is not installed (.ci/run installs it)`;
  return undefined;
}

function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

interface ImageConfig {
  config: {
    User?: string;
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    Volumes?: Record<string, object>;
    ExposedPorts?: Record<string, object>;
  };
  rootfs: { diff_ids: string[] };
}

describe('OCI image', { skip: unsupported(), timeout: 600_000 }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let layout: string;
  let tag: string;
  let exe: string;

  /** A blob of the layout by digest. */
  const blob = (digest: string): string => join(layout, 'blobs', ...digest.split(':'));
  const manifest = async (): Promise<{
    config: { digest: string };
    layers: { digest: string }[];
  }> => {
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    const m = index.manifests.find(
      (x) => x.annotations?.['org.opencontainers.image.ref.name'] === tag,
    );
    assert.ok(m, `no manifest tagged ${tag}`);
    return JSON.parse(await readFile(blob(m.digest), 'utf8')) as never;
  };

  before(async () => {
    tmp = await tempDir('securestream-image-');
    const built = execFileSync(
      process.execPath,
      [join(ROOT, 'dist/scripts/dist.js'), join(tmp.path, 'dist')],
      {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 240_000,
      },
    );
    exe = built.trim().split('\n').pop() ?? '';
    const out = execFileSync(
      process.execPath,
      [join(ROOT, 'dist/scripts/image.js'), '--exe', exe, '--out', join(tmp.path, 'dist')],
      {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 240_000,
      },
    );
    const first = out.split('\n')[0] ?? '';
    const m = /^(\S+) \((\S+)\)$/.exec(first);
    assert.ok(m, out);
    layout = m[1] as string;
    tag = m[2] as string;
  });
  after(async () => {
    await tmp.remove();
  });

  it('runs `securestream serve` as a non-root user, with volumes for files and PKI', async () => {
    const cfg = JSON.parse(
      await readFile(blob((await manifest()).config.digest), 'utf8'),
    ) as ImageConfig;
    assert.equal(cfg.config.User, `${IMAGE_UID}:${IMAGE_UID}`);
    assert.deepEqual(cfg.config.Entrypoint, ['/usr/local/bin/securestream', 'serve']);
    assert.deepEqual(cfg.config.Cmd, [
      '--pki',
      '/pki',
      '--root',
      '/data',
      '--status-listen',
      '0.0.0.0:9100',
      '--log-format',
      'json',
    ]);
    assert.deepEqual(Object.keys(cfg.config.Volumes ?? {}).sort(), ['/data', '/pki']);
    assert.deepEqual(Object.keys(cfg.config.ExposedPorts ?? {}).sort(), ['8443/tcp', '9100/tcp']);
    assert.equal(cfg.rootfs.diff_ids.length, 1, 'one layer');
  });

  it('holds the executable, the libraries ldd names, passwd and group, and empty volume folders', async () => {
    const layers = (await manifest()).layers;
    assert.equal(layers.length, 1);
    const names = sh('tar', '-tzvf', blob((layers[0] as { digest: string }).digest))
      .split('\n')
      .filter(Boolean);
    const files = names
      .filter((l) => !l.startsWith('d'))
      .map((l) => (l.split(/\s+/).pop() ?? '').replace(/^\.?\//, ''));
    const expected = [
      'usr/local/bin/securestream',
      'etc/passwd',
      'etc/group',
      ...sharedLibraries(exe).map((p) => p.slice(1)),
    ];
    assert.deepEqual([...files].sort(), [...expected].sort());
    const dirs = names
      .filter((l) => l.startsWith('d'))
      .map((l) => (l.split(/\s+/).pop() ?? '').replace(/^\.?\//, '').replace(/\/$/, ''));
    for (const d of ['data', 'pki', 'tmp']) assert.ok(dirs.includes(d), `${d}/ missing`);
    const ownerOf = (d: string): string | undefined =>
      names.find((l) => l.endsWith(` ${d}/`) || l.endsWith(` ./${d}/`))?.split(/\s+/)[1];
    assert.equal(ownerOf('data'), `${IMAGE_UID}/${IMAGE_UID}`);
  });

  it('runs under runc in its own network namespace and serves a client in another', async () => {
    const work = join(tmp.path, 'run');
    const bundle = join(work, 'bundle');
    const data = join(work, 'data');
    const pki = join(work, 'pki');
    await mkdir(data, { recursive: true });
    const payload = randomBytes(2 << 20);
    await writeFile(join(data, 'file.bin'), payload);
    const init = await runCli(['pki', 'init', '--dir', pki, '--san', '198.18.0.1']);
    assert.equal(init.code, 0, init.stderr);
    // what the container reads: a copy owned by its user, the CA key left out
    const mounted = join(work, 'pki-mount');
    await mkdir(mounted, { mode: 0o700 });
    for (const f of ['ca.crt', 'server.crt', 'server.key'])
      await cp(join(pki, f), join(mounted, f));
    sh('chown', '-R', `${IMAGE_UID}:${IMAGE_UID}`, mounted);
    await chmod(data, 0o755);

    sh('umoci', 'unpack', '--image', `${layout}:${tag}`, bundle);
    const cfgPath = join(bundle, 'config.json');
    const spec = JSON.parse(await readFile(cfgPath, 'utf8')) as {
      process: { args: string[]; user: { uid: number; gid: number }; terminal: boolean };
      mounts: { destination: string; type: string; source: string; options: string[] }[];
      linux: { namespaces: { type: string; path?: string }[] };
    };
    // the image's own entry point and defaults, unchanged
    assert.deepEqual(spec.process.args.slice(0, 2), ['/usr/local/bin/securestream', 'serve']);
    assert.equal(spec.process.user.uid, IMAGE_UID);
    assert.equal(spec.process.user.gid, IMAGE_UID);
    spec.process.terminal = false;
    spec.mounts.push(
      { destination: '/data', type: 'bind', source: data, options: ['rbind', 'ro'] },
      { destination: '/pki', type: 'bind', source: mounted, options: ['rbind', 'ro'] },
    );

    const segment = new Segment();
    const namespaces: string[] = [];
    let container: ReturnType<typeof spawn> | undefined;
    try {
      const srv = segment.add('img', '198.18.0.1');
      const cli = segment.add('imc', '198.18.0.2');
      namespaces.push(srv.ns, cli.ns);
      const net = spec.linux.namespaces.find((n) => n.type === 'network');
      if (net) net.path = `/var/run/netns/${srv.ns}`;
      else spec.linux.namespaces.push({ type: 'network', path: `/var/run/netns/${srv.ns}` });
      await writeFile(cfgPath, JSON.stringify(spec));

      container = spawn('runc', ['run', '--bundle', bundle, CONTAINER], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      container.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
      container.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((r) =>
        container?.once('exit', (code) => {
          r(code);
        }),
      );
      for (const deadline = Date.now() + 20_000; !/listening on/.test(stdout);) {
        assert.ok(
          Date.now() < deadline && container.exitCode === null,
          `container did not start: ${stdout}${stderr}`,
        );
        await new Promise((r) => setTimeout(r, 50));
      }
      const state = JSON.parse(sh('runc', 'state', CONTAINER)) as { pid: number };
      const status = await readFile(`/proc/${state.pid}/status`, 'utf8');
      assert.match(
        status,
        new RegExp(`^Uid:\\t${IMAGE_UID}\\t${IMAGE_UID}\\t`, 'm'),
        'the server runs as its own user',
      );

      const out = join(work, 'copy.bin');
      const got = await run('ip', [
        'netns',
        'exec',
        cli.ns,
        process.execPath,
        CLI,
        'get',
        'file.bin',
        '--server',
        '198.18.0.1:8443',
        '--pki',
        pki,
        '--out',
        out,
        '--quiet',
      ]);
      assert.equal(got.code, 0, got.stderr);
      const sha = createHash('sha256').update(payload).digest('hex');
      assert.equal(got.stdout, `${sha}  ${out}\n`);
      const health = await run('ip', [
        'netns',
        'exec',
        cli.ns,
        process.execPath,
        '-e',
        "fetch('http://198.18.0.1:9100/healthz').then(async (r) => console.log(r.status, await r.text()))",
      ]);
      assert.equal(health.stdout, '200 ok\n\n');
      const line = stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['msg'] === 'connection');
      assert.match(String(line?.['peer']), /^198\.18\.0\.2:\d+$/);
      assert.equal(line?.['sha256'], sha);

      sh('runc', 'kill', CONTAINER, 'TERM');
      assert.equal(await exited, 0, stderr);
      container = undefined;
    } finally {
      if (container) spawnSync('runc', ['kill', CONTAINER, 'KILL']);
      spawnSync('runc', ['delete', '--force', CONTAINER]);
      segment.remove();
    }
    assert.equal(
      spawnSync('runc', ['state', CONTAINER]).status === 0,
      false,
      'container left behind',
    );
    assert.ok(!(await readdir('/var/run/netns')).some((n) => namespaces.includes(n)));
  });
});
