/**
 * `npm run bench`: securestream against nginx, OpenSSH and openssl s_server on loopback.
 * Flags: `--full` (1 GiB / 4 GiB / 64 MiB × 50, longer), `--only CASE[,CASE]` (1–5, 7, 8 or
 * download, encrypt, handshake, concurrent, memory, format, http, many), `--parts PART[,PART]`
 * (case 8's parts: small, large, resume; default all), `--runs N`, `--tmp DIR` (parent of
 * the scratch folder, on disk; default /var/tmp). Prints tables and writes bench/results/*.json.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchFormat, formatReport, type FormatBench } from './format.js';
import { ensureTools, fileSystem, machine } from './env.js';
import { GiB, MiB, figure, fmt, pairedRatio, sizeName, table, type Stat } from './measure.js';
import { REPO, RESULTS, cliPath, snapshotBuild } from './paths.js';
import { makePki } from './pki.js';
import { DROPPED_EXTRA_CA, cleanup, cleanupOnExit, tempDir } from './procs.js';
import type { CaseContext, Plan, Served } from './cases/common.js';
import { caseConcurrent, concurrentRows } from './cases/concurrent.js';
import { caseDownloads, downloadRows, mbps, type DownloadResult } from './cases/download.js';
import { caseHandshakes, handshakeRows, perSecond } from './cases/handshakes.js';
import { caseMemory, memoryGrowth, memoryRows } from './cases/memory.js';
import { caseHttp, manyRows, prepareSmallFiles, rps } from './cases/http.js';
import {
  caseMany,
  loadNote,
  MANY_PARTS,
  type ManyPartName,
  manyRows as manyPartRows,
  wallRatio,
  LARGE,
  RESUME,
  SMALL,
} from './cases/many.js';

const CASES = [
  'download',
  'encrypt',
  'handshake',
  'concurrent',
  'memory',
  'format',
  'http',
  'many',
] as const;
type CaseName = (typeof CASES)[number];

interface Args {
  full: boolean;
  only: Set<CaseName>;
  parts: Set<ManyPartName>;
  runs?: number;
  tmp: string;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench: error: ${msg}\n`);
  process.stderr.write(
    'usage: npm run bench -- [--full] [--only CASE[,CASE…]] [--parts PART[,PART…]] [--runs N] [--tmp DIR]\n' +
      `  CASE: 1-5, 7, 8 or ${CASES.join(', ')}\n` +
      `  PART (case 8): ${MANY_PARTS.join(', ')}\n`,
  );
  process.exit(msg ? 2 : 0);
}

export function parseArgs(argv: string[]): Args {
  const a: Args = { full: false, only: new Set(), parts: new Set(), tmp: '/var/tmp' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => argv[++i] ?? usage(`${arg} needs a value`);
    if (arg === '--full') a.full = true;
    else if (arg === '--only') {
      for (const c of value().split(',')) {
        const name = /^\d$/.test(c) ? CASES[Number(c) - 1] : CASES.find((x) => x === c);
        if (!name || c === '6') usage(`unknown case "${c}"`);
        a.only.add(name);
      }
    } else if (arg === '--parts') {
      for (const p of value().split(',')) {
        const name = MANY_PARTS.find((x) => x === p);
        if (!name) usage(`unknown part "${p}"`);
        a.parts.add(name);
      }
    } else if (arg === '--runs') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 50) usage('--runs wants a whole number 1–50');
      a.runs = n;
    } else if (arg === '--tmp') a.tmp = value();
    else if (arg === '--help' || arg === '-h') usage();
    else usage(`unknown argument "${arg}"`);
  }
  if (a.only.size === 0) for (const c of CASES) a.only.add(c);
  if (a.parts.size === 0) for (const p of MANY_PARTS) a.parts.add(p);
  return a;
}

function planFor(a: Args): Plan {
  return a.full
    ? {
        full: true,
        runs: a.runs ?? 5,
        downloadBytes: GiB,
        concurrentClients: 50,
        concurrentBytes: 64 * MiB,
        memorySizes: [64 * MiB, 4 * GiB],
        handshakeSeconds: 10,
        formatBytes: GiB,
      }
    : {
        full: false,
        runs: a.runs ?? 3,
        downloadBytes: 256 * MiB,
        concurrentClients: 50,
        concurrentBytes: 8 * MiB,
        memorySizes: [64 * MiB, GiB],
        handshakeSeconds: 2,
        formatBytes: 64 * MiB,
      };
}

/** The files the selected cases serve: random via `securestream payload`, or sparse zeros. */
function prepareFiles(root: string, plan: Plan, only: Set<CaseName>): Map<string, Served> {
  const files = new Map<string, Served>();
  const made = new Map<string, Served>();
  const random = (size: number): Served => {
    const name = `random-${size}`;
    const have = made.get(name);
    if (have) return have;
    const path = join(root, name);
    const r = spawnSync(process.execPath, [cliPath(), 'payload', path, '--size', String(size)], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    const sha = /^([0-9a-f]{64})\s/.exec(r.stdout)?.[1];
    if (r.status !== 0 || !sha) throw new Error(`securestream payload failed: ${r.stderr}`);
    const f = { name, path, size, sha256: sha, sparse: false };
    made.set(name, f);
    return f;
  };
  const sparse = (size: number): Served => {
    const name = `sparse-${size}`;
    const path = join(root, name);
    writeFileSync(path, '');
    truncateSync(path, size);
    const h = createHash('sha256');
    const zeros = Buffer.alloc(MiB);
    for (let left = size; left > 0; left -= MiB)
      h.update(left >= MiB ? zeros : zeros.subarray(0, left));
    return { name, path, size, sha256: h.digest('hex'), sparse: true };
  };
  if (only.has('download') || only.has('encrypt') || only.has('http'))
    files.set('download', random(plan.downloadBytes));
  if (only.has('http')) prepareSmallFiles(root);
  if (only.has('concurrent')) files.set('concurrent', random(plan.concurrentBytes));
  if (only.has('memory')) {
    files.set('small', random(plan.memorySizes[0]));
    files.set('large', sparse(plan.memorySizes[1]));
  }
  return files;
}

/** The commit measured, and whether src/ had uncommitted changes (read-only git). */
function sourceState(): string {
  const git = (...a: string[]) =>
    spawnSync('git', ['--no-optional-locks', '-C', REPO, ...a], { encoding: 'utf8' }).stdout.trim();
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown commit';
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  return `${head}${dirty ? ` with ${dirty} uncommitted change(s) in src/` : ''}`;
}

const ok = (met: boolean) => (met ? 'met' : 'NOT met');

interface Results {
  download?: DownloadResult;
  encrypt?: DownloadResult;
  handshake?: Awaited<ReturnType<typeof caseHandshakes>>;
  concurrent?: Awaited<ReturnType<typeof caseConcurrent>>;
  memory?: Awaited<ReturnType<typeof caseMemory>>;
  format?: FormatBench;
  http?: Awaited<ReturnType<typeof caseHttp>>;
  many?: Awaited<ReturnType<typeof caseMany>>;
}

/** One line per target: the ratio measured in this run against the target. */
function targets(r: Results): string[][] {
  const rows = [['target', 'measured (median, min–max of rounds)', 'verdict']];
  const line = (what: string, s: Stat | undefined, met: (m: number) => boolean, digits = 2) => {
    if (!s || s.samples.length === 0) rows.push([what, 'not measured', '–']);
    else rows.push([what, fmt(s, digits), ok(met(s.median))]);
  };
  if (r.download) {
    const [ss, ng] = [
      r.download.tracks[0],
      r.download.tracks.find((t) => t.name.startsWith('nginx')),
    ];
    const by = mbps(r.download.file.size);
    line(
      '1. securestream ÷ nginx+curl MB/s ≥ 1.0',
      ss && ng && !ng.skip ? pairedRatio(ss, ng, by) : undefined,
      (m) => m >= 1,
    );
  }
  if (r.encrypt) {
    const [plain, verify, dec] = r.encrypt.tracks;
    const by = mbps(r.encrypt.file.size);
    line(
      '2. encrypt → get ÷ plain MB/s ≥ 0.5',
      verify && plain ? pairedRatio(verify, plain, by) : undefined,
      (m) => m >= 0.5,
    );
    line(
      '2. encrypt → get --decrypt ÷ plain ≥ 0.5',
      dec && plain ? pairedRatio(dec, plain, by) : undefined,
      (m) => m >= 0.5,
    );
  }
  if (r.handshake) {
    for (const client of ['s_time', 'node:tls loop']) {
      const a = r.handshake.find((t) => t.server === 'securestream' && t.client === client);
      const b = r.handshake.find((t) => t.server === 'nginx' && t.client === client);
      line(
        `3. handshakes/s ÷ nginx (1 worker) ≥ 1.0, ${client}`,
        a && b && !b.skip ? pairedRatio(a, b, perSecond) : undefined,
        (m) => m >= 1,
      );
    }
  }
  if (r.concurrent) {
    const b = r.concurrent.find((t) => t.name.startsWith('nginx'));
    for (const a of r.concurrent.filter((t) => t.name.startsWith('securestream') && !t.skip)) {
      const who = a.name.replace('securestream, ', '');
      line(
        `4. total time ÷ nginx ≤ 1.0 (${who})`,
        b && !b.skip ? pairedRatio(a, b, (s) => s.total) : undefined,
        (m) => m <= 1,
      );
      line(
        `4. server peak RSS < 200 MB (${who})`,
        figure(a, (s) => s.serverRss / 1e6),
        (m) => m < 200,
        0,
      );
    }
  }
  if (r.http) {
    const [warm, ng] = [
      r.http.download.tracks.find((t) => t.name === 'securestream HTTP, warm'),
      r.http.download.tracks.find((t) => t.name === 'nginx'),
    ];
    line(
      '7. HTTP download MB/s ÷ nginx ≥ 1.0 (warm)',
      warm && ng && !ng.skip ? pairedRatio(warm, ng, mbps(r.http.download.file.size)) : undefined,
      (m) => m >= 1,
    );
    const [a, b] = r.http.many;
    line(
      '7. 1,000 × 1 KiB requests/s ÷ nginx ≥ 1.0',
      a && b && !b.skip ? pairedRatio(a, b, rps) : undefined,
      (m) => m >= 1,
    );
  }
  if (r.memory) {
    const g = memoryGrowth(r.memory);
    const within = (x: number) => Math.abs(x - 1) <= 0.1;
    const big = sizeName(r.memory.sizes[1]?.size ?? 0);
    const small = sizeName(r.memory.sizes[0]?.size ?? 0);
    rows.push([
      `5. server peak RSS ${big} ÷ ${small} within 1 ± 0.10`,
      g.server.toFixed(2),
      ok(within(g.server)),
    ]);
    rows.push([
      `5. client peak RSS ${big} ÷ ${small} within 1 ± 0.10`,
      g.client.toFixed(2),
      ok(within(g.client)),
    ]);
  }
  if (r.many) {
    const { small, large, resume } = r.many;
    const track = (part: ManyPartResult | undefined, prefix: string) =>
      part?.tracks.find((t) => t.name.startsWith(prefix));
    const get = (part: ManyPartResult | undefined) => track(part, 'securestream');
    const durable = (part: ManyPartResult | undefined) =>
      part?.tracks.find((t) => t.name.includes('sync -f'));
    const bare = (part: ManyPartResult | undefined) =>
      part?.tracks.find((t) => t.name.includes('no sync'));
    const ratioOf = (a: ManyT | undefined, b: ManyT | undefined) =>
      a && b && !a.skip && !b.skip ? wallRatio(a, b) : undefined;
    line(
      '8a. 1,000 × 1 KiB: get time ÷ curl (+ sync -f) ≤ 1.5',
      ratioOf(get(small), durable(small)),
      (m) => m <= 1.5,
    );
    line(
      '8a. (reference) get time ÷ curl without sync',
      ratioOf(get(small), bare(small)),
      (m) => m <= 1.5,
    );
    line(
      '8b. 100 × 10 MiB: get MB/s ÷ curl --parallel (+ sync -f) ≥ 1.0',
      ratioOf(durable(large), get(large)),
      (m) => m >= 1,
    );
    line(
      '8b. (reference) ÷ curl --parallel without sync',
      ratioOf(bare(large), get(large)),
      (m) => m >= 1,
    );
    line(
      '8c. 1 GiB resumed at 50 %: time ÷ full get < 0.55',
      ratioOf(track(resume, 'get --continue'), track(resume, 'get (full)')),
      (m) => m < 0.55,
    );
  }
  return rows;
}

type ManyPartResult = NonNullable<NonNullable<Results['many']>['small']>;
type ManyT = ManyPartResult['tracks'][number];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const plan = planFor(args);
  const t0 = Date.now();
  const say = (line: string) => {
    process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  };
  cleanupOnExit();
  const hardCap = setTimeout(
    () => {
      say('bench: over its time limit; stopping everything');
      cleanup();
      process.exit(124);
    },
    (plan.full ? 120 : 15) * 60_000,
  );
  hardCap.unref();

  say(
    `mode ${plan.full ? 'full' : 'quick'}; cases ${[...args.only].join(', ')}; ${plan.runs} rounds`,
  );
  const missing = ensureTools(say);
  for (const [tool, why] of missing) say(`missing ${tool}: ${why}; peers that need it are skipped`);
  if (missing.has('time'))
    throw new Error('GNU time (/usr/bin/time) is required for client figures');
  const scratch = tempDir(args.tmp, 'securestream-bench-');
  const fs = fileSystem(scratch);
  if (fs.memory) say(`warning: ${scratch} is on ${fs.type} (memory), not on disk`);
  const root = join(scratch, 'root');
  const out = join(scratch, 'out');
  const tmp = join(scratch, 'tmp');
  for (const d of [root, out, tmp]) mkdirSync(d, { recursive: true });
  snapshotBuild(join(scratch, 'app'));
  const source = sourceState();
  say(`running a snapshot of dist/ (${source})`);
  const pki = await makePki(scratch);
  say(`PKI: ${pki.source}`);
  const files = prepareFiles(root, plan, args.only);
  say(
    `files: ${[...files.entries()].map(([k, f]) => `${k} ${sizeName(f.size)}${f.sparse ? ' sparse' : ''}`).join(', ')}`,
  );
  const ctx: CaseContext = {
    plan,
    peer: { tmp, root, pki },
    out,
    missing,
    file(role) {
      const f = files.get(role);
      if (!f) throw new Error(`no ${role} file prepared`);
      return f;
    },
    log: say,
  };

  const results: Results = {};
  if (args.only.has('download') || args.only.has('encrypt')) {
    Object.assign(
      results,
      await caseDownloads(ctx, {
        download: args.only.has('download'),
        encrypt: args.only.has('encrypt'),
      }),
    );
  }
  if (args.only.has('handshake')) results.handshake = await caseHandshakes(ctx);
  if (args.only.has('concurrent')) results.concurrent = await caseConcurrent(ctx);
  if (args.only.has('memory')) results.memory = await caseMemory(ctx);
  if (args.only.has('many')) results.many = await caseMany(ctx, args.parts);
  if (args.only.has('format')) {
    say(`format: sstream-v1 over ${sizeName(plan.formatBytes)}, ${plan.runs} rounds`);
    results.format = await benchFormat({ bytes: plan.formatBytes, runs: plan.runs });
  }
  if (args.only.has('http')) {
    const before = machine().loadAverage;
    results.http = await caseHttp(ctx);
    say(`case 7 load average: ${before} before, ${machine().loadAverage} after`);
  }

  const m = machine();
  const sections: string[] = [
    `securestream bench, ${plan.full ? 'full' : 'quick'} mode, ${new Date(t0).toISOString()}`,
    `figures: median (min–max) of ${plan.runs} rounds; ratios are per-round, against a peer measured in the same round`,
    `machine: ${m.cpuModel}, ${m.cpus} CPUs, ${m.memGiB} GiB, ${m.kernel}, load ${m.loadAverage}`,
    `versions: node ${m.node} (OpenSSL ${m.nodeOpenssl}); ${m.openssl}; ${m.nginx}; ${m.ssh}; ${m.curl}`,
    `source: ${source}; copies written to ${out} (${fs.type} on ${fs.device}, not tmpfs)`,
    `PKI: ${pki.source}; TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256 and EC P-256 certificates on every side`,
    ...(DROPPED_EXTRA_CA === undefined
      ? []
      : [
          `environment: NODE_EXTRA_CA_CERTS (${DROPPED_EXTRA_CA}) is not passed to the processes started here; see docs/PERFORMANCE.md, Method`,
        ]),
  ];
  const dl = (title: string, r: DownloadResult, baseName: string) => {
    const base = r.tracks.find((t) => t.name === baseName);
    sections.push(
      '',
      `${title}: ${sizeName(r.file.size)}${plan.full ? '' : ' (quick mode; --full uses 1 GiB)'}`,
      table(downloadRows(r.tracks, r.file.size, base)),
      ...r.notes.map((n) => `note: ${n}`),
      ...r.tracks.flatMap((t) => t.errors.map((e) => `error: ${t.name} ${e}`)),
    );
  };
  if (results.download) dl('1. download to a file', results.download, 'nginx + curl');
  if (results.encrypt) dl('2. sstream-v1 (serve --encrypt)', results.encrypt, 'securestream plain');
  if (results.handshake) {
    sections.push(
      '',
      `3. full mutual-TLS handshakes, ${plan.handshakeSeconds} s each, one client connection at a time`,
      table(handshakeRows(results.handshake)),
      ...results.handshake.flatMap((t) =>
        t.errors.map((e) => `error: ${t.server}/${t.client} ${e}`),
      ),
    );
  }
  if (results.concurrent) {
    sections.push(
      '',
      `4. ${plan.concurrentClients} clients × ${sizeName(plan.concurrentBytes)} at once${plan.full ? '' : ' (quick mode; --full uses 64 MiB)'}`,
      table(concurrentRows(results.concurrent)),
      ...results.concurrent.flatMap((t) => t.errors.map((e) => `error: ${t.name} ${e}`)),
    );
  }
  if (results.memory) {
    sections.push(
      '',
      `5. peak RSS against file size${plan.full ? '' : ' (quick mode: 64 MiB vs 1 GiB; --full uses 4 GiB)'}`,
      table(memoryRows(results.memory)),
      ...results.memory.errors.map((e) => `error: ${e}`),
    );
  }
  if (results.format)
    sections.push('', 'format (bench/format.ts, in memory)', ...formatReport(results.format));
  if (results.http) {
    const h = results.http;
    dl(
      '7a. HTTP/1.1 download with curl',
      { ...h.download, file: { ...h.download.file, sparse: false } },
      'nginx',
    );
    sections.push(
      '',
      '7b. 1,000 × 1 KiB, one curl process, one kept-alive HTTP/1.1 connection (client start and handshake included)',
      table(manyRows(h.many)),
      ...h.many.flatMap((t) => t.errors.map((e) => `error: ${t.name} ${e}`)),
    );
  }
  if (results.many) {
    const parts = [
      [results.many.small, SMALL.count * SMALL.bytes, SMALL.count],
      [results.many.large, LARGE.count * LARGE.bytes, LARGE.count],
      [results.many.resume, RESUME.bytes, 1],
    ] as const;
    sections.push('', '8. many files and resume (get --from LIST, get --continue)');
    for (const [part, bytes, files] of parts) {
      if (!part) continue;
      sections.push(
        '',
        part.title,
        table(manyPartRows(part, bytes, files)),
        `note: ${loadNote(part)}`,
        ...part.notes.map((n) => `note: ${n}`),
        ...part.tracks.flatMap((t) => t.errors.map((e) => `error: ${t.name} ${e}`)),
      );
    }
  }
  sections.push('', 'targets', table(targets(results)));
  const report = sections.join('\n');
  process.stdout.write(`${report}\n`);

  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${new Date(t0).toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: new Date(t0).toISOString(),
        seconds: (Date.now() - t0) / 1000,
        argv: process.argv.slice(2),
        plan,
        machine: m,
        droppedEnv: DROPPED_EXTRA_CA === undefined ? {} : { NODE_EXTRA_CA_CERTS: DROPPED_EXTRA_CA },
        fileSystem: fs,
        pki: pki.source,
        source,
        missing: Object.fromEntries(missing),
        results,
        report,
      },
      null,
      2,
    )}\n`,
  );
  say(`wrote ${file}; ${((Date.now() - t0) / 1000).toFixed(0)} s in all`);
}

try {
  await main();
} catch (e) {
  process.stderr.write(
    `bench: error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exitCode = 1;
} finally {
  cleanup();
}
