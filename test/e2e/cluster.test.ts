/**
 * The cluster on one machine (scripts/cluster/run.ts): HAProxy, three servers and 30 clients,
 * each in a network namespace of its own; mid-run s2 is drained (SIGTERM) and s3 killed by PID
 * (SIGKILL). Every client finishes with a digest equal to `sha256sum` of the source, having
 * resumed through another server where it was cut; the servers' logs name the clients'
 * addresses, exactly as the balancer's session log does; the drained server's /healthz turns
 * 503 before its transfers are cut and before it exits, and HAProxy takes it out for that 503.
 * Needs root, iproute2 and HAProxy; skipped otherwise, with the reason. Whatever happens to the
 * run, after() kills by PID what still runs in this process's namespaces and deletes them.
 */
import { strict as assert } from 'node:assert';
import { after, test } from 'node:test';
import { netnsUnsupported, removeSegment } from '../../scripts/netns.js';
import { formatReport } from '../../scripts/cluster/report.js';
import { runCluster } from '../../scripts/cluster/run.js';
import { haproxyMissing } from '../helpers/haproxy.js';
import { CLI, tempDir } from '../helpers/proc.js';

const skip = netnsUnsupported({ shaping: true }) ?? haproxyMissing();
const CLIENTS = 30;
const GRACE_MS = 2500;

after(() => {
  if (skip) return;
  // runCluster removes its segment itself; this is for a run that timed out or threw.
  const { killed, left } = removeSegment();
  assert.deepEqual(left, [], 'namespaces or interfaces left behind');
  assert.deepEqual(killed, [], 'processes still running in the namespaces');
});

void test(
  '30 clients behind HAProxy survive a drained and a killed server, resuming elsewhere',
  { skip, timeout: 240_000 },
  async (t) => {
    const began = Date.now();
    const work = await tempDir('securestream-cluster-');
    try {
      const r = await runCluster({
        work: work.path,
        cli: CLI,
        node: process.execPath,
        clients: CLIENTS,
        files: 3,
        fileMiB: 16,
        clientMbit: 24,
        drainAt: 0.25,
        killAt: 0.5,
        graceMs: GRACE_MS,
        retries: 6,
        deadlineMs: 150_000,
        say: (l) => {
          t.diagnostic(l);
        },
      });
      for (const l of formatReport(r)) t.diagnostic(l);
      // Every disagreement between clients, servers, the balancer and the probe, and anything
      // left running or left behind, is a failure of the run.
      assert.deepEqual(r.failures, []);

      assert.equal(r.clients.length, CLIENTS);
      for (const c of r.clients) {
        assert.equal(c.code, 0, `${c.name} exit status`);
        assert.ok(c.matches, `${c.name}: digest ${c.digest}`);
      }

      // The drain and the kill each cut clients, and each of them resumed elsewhere with a
      // ranged response from the byte it had, where the server that took it lived to log it.
      const byCut = (server: string): typeof r.resumes =>
        r.resumes.filter((x) => x.from === server);
      assert.ok(byCut('s2').length > 0, 'the drain of s2 cut some client');
      assert.ok(byCut('s3').length > 0, 'the kill of s3 cut some client');
      for (const x of r.resumes) {
        assert.notEqual(x.through, x.from, `${x.client} resumed through the server that cut it`);
        if (x.through !== 's3' && x.atByte > 0) {
          assert.equal(x.status, 206, `${x.client} through ${x.through}`);
          assert.ok(x.range?.startsWith(`bytes ${x.atByte}-`), `${x.client}: ${x.range}`);
        }
      }

      const [s1, s2, s3] = r.servers;
      assert.ok(s1 && s2 && s3);
      assert.ok(s1.ranged > 0, 's1 answered resumed downloads with 206');
      assert.ok(s2.cut > 0, 's2 cut transfers when its grace ended');
      assert.ok(s3.sessions > 0 && s3.sentBytes > 0, 's3 was serving when it was killed');
      assert.equal(
        r.servers.reduce((n, s) => n + s.sessions, 0),
        r.clients.reduce((n, c) => n + c.sessions, 0),
      );

      // PROXY v2: every line the servers logged names a client (checked against the
      // balancer's own log in the run), and there were such lines on every server that lived.
      assert.ok(r.peersLogged >= CLIENTS, `${r.peersLogged} log lines name a peer`);
      assert.deepEqual(r.peersWrong, []);

      // The drain: 503 from /healthz after SIGTERM, while its transfers still ran (before the
      // first one it logged as cut) and before it exited.
      const d = r.drain;
      assert.ok(
        d?.first503At !== undefined && d.exitedAt !== undefined && d.firstCutAt !== undefined,
        JSON.stringify(d),
      );
      assert.ok(d.first503At > d.signalledAt);
      assert.ok(d.first503At < d.firstCutAt, '503 while transfers drained');
      assert.ok(d.first503At < d.exitedAt, '503 before exit');
      assert.ok(
        d.down.some((why) => why.includes('code: 503')),
        d.down.join('; '),
      );
      assert.equal(r.killed?.signal, 'SIGKILL');
    } finally {
      await work.remove();
      t.diagnostic(`the test took ${((Date.now() - began) / 1000).toFixed(1)} s`);
    }
  },
);
