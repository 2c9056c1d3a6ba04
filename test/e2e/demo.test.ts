/**
 * `npm run demo` (dist/scripts/demo.js) as a real process in a process group of its own: the
 * report, and how it ends when interrupted. Ctrl-C is SIGINT to the whole foreground group, as
 * a terminal sends it; SIGTERM goes to the demo alone; `| head -3` closes its stdout. Each time
 * no process of the group may remain and the temporary folder (it holds a CA key) must be gone.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const DEMO = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/demo.js');

/** PIDs of the live processes whose process group is `pgid` (from /proc/PID/stat). */
function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
    const [state, , pgrp] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') pids.push(Number(entry));
  }
  return pids;
}

interface Started {
  child: ChildProcess;
  /** Resolves with the first stdout line matching `re` (rejects after 30 s). */
  waitFor(re: RegExp): Promise<string>;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** Starts `cmd` as the leader of a new process group. */
function startGroup(cmd: string, args: string[]): Started {
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) =>
    child.on('close', (code) => {
      r(code);
    }),
  );
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    async waitFor(re) {
      for (const deadline = Date.now() + 30_000; ;) {
        const hit = out.split('\n').find((l) => re.test(l));
        if (hit !== undefined) return hit;
        assert.ok(Date.now() < deadline, `no line ${String(re)} in:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** The group empties (bounded wait), and the demo's folder is gone. */
async function assertNothingLeft(pgid: number, folder: string): Promise<void> {
  for (const deadline = Date.now() + 15_000; groupMembers(pgid).length > 0;) {
    if (Date.now() > deadline) {
      const left = groupMembers(pgid);
      for (const pid of left) process.kill(pid, 'SIGKILL');
      assert.fail(`processes left behind: ${left.join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await assert.rejects(stat(folder), { code: 'ENOENT' }, `${folder} is still there`);
}

const FOLDER = /^demo folder: (\S+)$/;

describe('npm run demo', () => {
  it('reports identical copies, and both refusals with the reasons', async () => {
    const d = startGroup(process.execPath, [DEMO]);
    const folder = FOLDER.exec(await d.waitFor(FOLDER))?.[1] ?? '';
    assert.equal(await d.exited, 0, d.stderr());
    const out = d.stdout();
    assert.equal(out.match(/^ {2}(alice|bob) stored +[0-9a-f]{64} {2}MATCH$/gm)?.length, 2, out);
    assert.match(out, /^ {2}mallory \(unknown CA\) +REFUSED at the handshake, exit 3$/m);
    assert.match(
      out,
      /^ +server log: client certificate from an unknown CA: "CN=securestream CA [0-9a-f]+" is not a CA of --ca$/m,
    );
    assert.match(out, /^ {2}carol \(revoked\) +REFUSED at the handshake, exit 3$/m);
    assert.match(
      out,
      /^ +server log: client certificate revoked \(serial [0-9a-f]+, by the CRL of "CN=securestream CA [0-9a-f]+"\)$/m,
    );
    assert.match(out, /both refused$/m);
    await assertNothingLeft(d.child.pid ?? -1, folder);
  });

  for (const stage of [
    /^== a CA, a server certificate/,
    /^== a 64 MiB payload/,
    /^== alice and bob download at once/,
  ]) {
    it(`Ctrl-C (SIGINT to the group) at "${stage.source.slice(4)}": exit 130, nothing left`, async () => {
      const d = startGroup(process.execPath, [DEMO]);
      const pgid = d.child.pid ?? -1;
      const folder = FOLDER.exec(await d.waitFor(FOLDER))?.[1] ?? '';
      await d.waitFor(stage);
      process.kill(-pgid, 'SIGINT');
      assert.equal(await d.exited, 130, d.stderr());
      await assertNothingLeft(pgid, folder);
    });
  }

  it('SIGTERM to the demo alone during the downloads: it stops its children, exit 143', async () => {
    const d = startGroup(process.execPath, [DEMO]);
    const folder = FOLDER.exec(await d.waitFor(FOLDER))?.[1] ?? '';
    await d.waitFor(/^== alice and bob download at once/);
    assert.ok(groupMembers(d.child.pid ?? -1).length > 1, 'children running');
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 143, d.stderr());
    await assertNothingLeft(d.child.pid ?? -1, folder);
  });

  it('| head -3: the demo notices its reader is gone, stops everything, removes the folder', async () => {
    const d = startGroup('/bin/sh', ['-c', `"${process.execPath}" "${DEMO}" | head -3`]);
    await d.exited;
    const lines = d.stdout().split('\n');
    assert.equal(lines.length, 4, d.stdout()); // three lines, each ending in a newline
    const folder = FOLDER.exec(lines[0] ?? '')?.[1] ?? '';
    assert.notEqual(folder, '', d.stdout());
    await assertNothingLeft(d.child.pid ?? -1, folder);
  });
});
