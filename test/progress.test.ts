import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { createReporter, formatBytes } from '../src/progress.js';

/**
 * The visible lines of what was written to a terminal, for the controls the bar uses: CR and
 * cursor-to-column (`ESC[nG`) go to the line's start, `ESC[2K` erases the line, `ESC[0K`/`ESC[K`
 * erase to its end (every column from the cursor on, here), LF ends the line. Other escape
 * sequences (cursor show and hide) draw nothing.
 */
function screen(written: string): string[] {
  const lines: string[] = [];
  let line = '';
  let col = 0;
  const put = (ch: string): void => {
    line = line.slice(0, col) + ch + line.slice(col + 1);
    col++;
  };
  /* eslint-disable no-control-regex */
  const tokens = written.match(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]|[\s\S]/g) ?? [];
  for (const t of tokens) {
    if (t === '\n') {
      lines.push(line);
      line = '';
      col = 0;
    } else if (t === '\r' || /^\x1b\[\d*G$/.test(t)) col = 0;
    else if (t === '\x1b[2K') line = '';
    else if (/^\x1b\[0?K$/.test(t)) line = line.slice(0, col);
    else if (!t.startsWith('\x1b')) put(t);
  }
  /* eslint-enable no-control-regex */
  return [...lines, line];
}

function fakeTerminal(): { tty: NodeJS.WriteStream; written: () => string } {
  let out = '';
  const tty = {
    isTTY: true,
    columns: 100,
    rows: 24,
    write: (chunk: string | Uint8Array, cb?: () => void): boolean => {
      out += String(chunk);
      cb?.();
      return true;
    },
    cursorTo: (x: number, _y?: number, cb?: () => void): boolean => {
      out += `\x1b[${x + 1}G`;
      cb?.();
      return true;
    },
    clearLine: (dir: number, cb?: () => void): boolean => {
      out += dir === 0 ? '\x1b[2K' : '\x1b[0K';
      cb?.();
      return true;
    },
    moveCursor: (_dx: number, _dy: number, cb?: () => void): boolean => {
      cb?.();
      return true;
    },
    getWindowSize: () => [100, 24],
    on: () => tty,
    once: () => tty,
    removeListener: () => tty,
  };
  return { tty: tty as unknown as NodeJS.WriteStream, written: () => out };
}

describe('the progress bar of get', () => {
  it('never shares a line with a digest line or a message printed while it is shown', async () => {
    const { tty, written } = fakeTerminal();
    const notes: string[] = [];
    const report = await createReporter(
      true,
      (l) => {
        notes.push(l);
        tty.write(`securestream: ${l}\n`);
      },
      tty,
    );
    report.start(2);
    report.announce(2048);
    report.progress(1024);
    assert.match(written(), /%/, 'the bar is drawn when the run starts');
    const digest = `${'a'.repeat(64)}  one.bin`;
    report.fileDone();
    report.above(() => tty.write(`${digest}\n`));
    report.info('"two.bin": the server refused it');
    report.fileDone();
    report.stop();
    const lines = screen(written());
    assert.ok(lines.includes(digest), lines.join('\n'));
    assert.ok(lines.includes('securestream: "two.bin": the server refused it'), lines.join('\n'));
    assert.ok(!lines.some((l) => l.includes('%')), `no bar left on screen:\n${lines.join('\n')}`);
  });

  it('without a bar, prints lines as they come', async () => {
    const { tty, written } = fakeTerminal();
    const report = await createReporter(false, (l) => tty.write(`securestream: ${l}\n`), tty);
    report.start(1);
    report.above(() => tty.write('line\n'));
    report.info('note');
    report.stop();
    assert.equal(written(), 'line\nsecurestream: note\n');
  });

  it('formats bytes in binary units', () => {
    assert.deepEqual([0, 1023, 1536, 64 * 2 ** 20].map(formatBytes), [
      '0 B',
      '1023 B',
      '1.5 KiB',
      '64.0 MiB',
    ]);
  });
});
