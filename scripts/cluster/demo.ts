/**
 * `npm run demo:cluster`: the cluster on one machine (run.ts) with its defaults, the report
 * printed, everything it started stopped and its folder removed (`--keep` leaves the folder,
 * with every process's log under logs/). Needs root (network namespaces), iproute2's `ip` and
 * `tc`, and Debian's haproxy. Flags: `--clients N` (30), `--size MiB` (32 per file),
 * `--mbit N` (each client's link, 40).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { netnsUnsupported } from '../netns.js';
import { formatReport } from './report.js';
import { runCluster } from './run.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '30' },
    size: { type: 'string', default: '32' },
    mbit: { type: 'string', default: '40' },
    keep: { type: 'boolean', default: false },
  },
});
const count = (flag: 'clients' | 'size' | 'mbit'): number => {
  const n = Number(values[flag]);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(
      `demo:cluster: --${flag} takes a positive whole number: ${values[flag]}\n`,
    );
    process.exit(2);
  }
  return n;
};
const [clients, fileMiB, clientMbit] = [count('clients'), count('size'), count('mbit')];
const why = netnsUnsupported({ shaping: true });
if (why) {
  process.stderr.write(`demo:cluster: ${why}\n`);
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'securestream-cluster-'));
try {
  const report = await runCluster({
    work,
    cli: resolve(here, '../../src/cli.js'),
    node: process.execPath,
    clients,
    files: 3,
    fileMiB,
    clientMbit,
    drainAt: 0.25,
    killAt: 0.5,
    graceMs: 1000,
    retries: 6,
    deadlineMs: 600_000,
    say: (l) => process.stdout.write(`${l}\n`),
  });
  process.stdout.write(`${formatReport(report).join('\n')}\n`);
  process.exitCode = report.failures.length === 0 ? 0 : 1;
} finally {
  if (values.keep) process.stdout.write(`kept ${work} (logs/ has every process's output)\n`);
  else rmSync(work, { recursive: true, force: true });
}
