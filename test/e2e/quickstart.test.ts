/**
 * README's Quick start, pasted as one block into an interactive bash in a real terminal (tmux),
 * in an empty temporary folder. It runs in a network namespace of its own, so its fixed port
 * 8443 is free whatever else runs on this machine. The terminal's screen afterwards must read
 * as the README promises: the digests match, the server's lines each stand on a line of their
 * own (the listening line once), and no progress bar is left over or written across them.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, tempDir } from '../helpers/proc.js';
import { isRoot } from '../helpers/tmpfs.js';

const REPO = dirname(dirname(dirname(CLI)));
const NS = `ssqs${process.pid}`;
const TIME = /^\d\d:\d\d:\d\d\.\d{3} /;
const DONE = 'quickstart done, exit';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const skip = !isRoot
  ? 'needs root for a network namespace (the block uses the fixed port 8443)'
  : !hasTmux
    ? 'needs tmux (apt-get install tmux)'
    : false;

/** The `sh` blocks of the README's "Quick start" section: the install block, then the block. */
function quickStartBlocks(readme: string): string[] {
  const start = readme.indexOf('\n## Quick start\n');
  assert.ok(start >= 0, 'README has a "## Quick start" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('README Quick start, pasted into a terminal', { skip }, () => {
  let dir: { path: string; remove: () => Promise<void> };
  let sock: string;
  let screen = '';

  before(async () => {
    dir = await tempDir('securestream-quickstart-');
    sock = join(dir.path, 'tmux.sock');
    const work = join(dir.path, 'work');
    sh('mkdir', [work]);
    const [install, block] = quickStartBlocks(await readFile(join(REPO, 'README.md'), 'utf8'));
    assert.ok(install !== undefined && block !== undefined, 'two sh blocks in Quick start');
    // The install block runs in the checkout, except `npm ci`: this tree is installed and built
    // already, and reinstalling it under the running tests would pull it from under them.
    const setup = install
      .split('\n')
      .filter((l) => l.trim() !== '' && !/^npm ci\b/.test(l))
      .join('\n');
    assert.match(setup, /alias securestream=/);
    const paste = [`cd ${REPO}`, setup, `cd ${work}`, block, `wait; echo "${DONE} $?"`, ''];
    const pasteFile = join(dir.path, 'paste.txt');
    await writeFile(pasteFile, paste.join('\n'));

    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    // A wide terminal, so the lines checked below are not wrapped by the terminal itself.
    // History goes to a file of the test's own: bash saves it through a temporary file renamed
    // over HISTFILE, which as root would replace /dev/null with a regular file.
    const history = `HISTFILE=${join(dir.path, 'history')}`;
    const env = ['env', 'PS1=$ ', history, 'bash', '--norc', '--noprofile', '-i'];
    const tmux = ['-S', sock, '-f', '/dev/null'];
    sh('ip', [
      'netns',
      'exec',
      NS,
      'tmux',
      ...tmux,
      'new-session',
      '-d',
      '-x',
      '250',
      '-y',
      '80',
      ...env,
    ]);
    sh('tmux', [...tmux, 'load-buffer', pasteFile]);
    sh('tmux', [...tmux, 'paste-buffer', '-d', '-t', '0']);
    const deadline = Date.now() + 90_000;
    for (;;) {
      screen = sh('tmux', [...tmux, 'capture-pane', '-p', '-J', '-S', '-', '-t', '0']);
      if (screen.includes(`${DONE} `) && /\n.*done, exit \d+/.test(screen)) break;
      assert.ok(Date.now() < deadline, `the block did not finish:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    // Whatever is still running in the namespace was started by this test: stop it by PID.
    const pids = spawnSync('ip', ['netns', 'pids', NS], { encoding: 'utf8' }).stdout;
    for (const pid of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    spawnSync('tmux', ['-S', sock, 'kill-server']);
    spawnSync('ip', ['netns', 'del', NS]);
    await dir.remove();
  });

  const lines = (): string[] => screen.split('\n').map((l) => l.trimEnd());

  it('runs to the end; the server stops cleanly', () => {
    assert.match(screen, new RegExp(`^${DONE} 0$`, 'm'), screen);
    assert.ok(!/error:/.test(screen), screen);
  });

  it('the digests `payload`, `get` and `sha256sum` print are one and the same', () => {
    const made = /^([0-9a-f]{64}) {2}data\/big\.bin$/m.exec(screen);
    assert.ok(made, screen);
    const hex = made[1] ?? '';
    assert.equal(lines().filter((l) => l === `${hex}  data/big.bin`).length, 2, screen);
    assert.equal(lines().filter((l) => l === `${hex}  copy.bin`).length, 2, screen);
  });

  it('the listening line appears once, on every interface, as a log line of its own', () => {
    const listening = lines().filter((l) => l.includes('listening on'));
    assert.equal(listening.length, 1, screen);
    assert.match(listening[0] ?? '', /^\d\d:\d\d:\d\d\.\d{3} INFO: listening on \[::\]:8443 \(TLS/);
  });

  it("the server's connection line stands whole on its own line", () => {
    const conn = lines().filter((l) => / INFO: #\d+ /.test(l));
    assert.equal(conn.length, 1, screen);
    assert.match(
      conn[0] ?? '',
      /^\d\d:\d\d:\d\d\.\d{3} INFO: #1 \S+ CN=client GET "big\.bin" ok, 64\.0 MiB in [\d.]+ m?s/,
    );
  });

  it('every server line starts at the left edge; no progress bar is left on screen', () => {
    for (const l of lines().filter((x) => /(INFO|WARN|ERROR): /.test(x))) assert.match(l, TIME, l);
    assert.ok(!lines().some((l) => /\d+% \|/.test(l)), screen);
    assert.ok(
      lines().some((l) => / INFO: stopped /.test(l)),
      screen,
    );
  });
});
