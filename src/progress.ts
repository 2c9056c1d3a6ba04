/**
 * What `get` shows while it runs: `securestream: …` lines on stderr always, and one progress
 * bar for the run (cli-progress) only when stderr is a terminal.
 */
import type * as CliProgress from 'cli-progress';
import type { GetReporter } from './commands/get.js';

/** A reporter without a bar: `note` for each line, nothing else shown. */
export function plainReporter(note: (line: string) => void): GetReporter {
  const nothing = (): void => undefined;
  return {
    info: note,
    above: (write) => {
      write();
    },
    start: nothing,
    announce: nothing,
    progress: nothing,
    fileDone: nothing,
    stop: nothing,
  };
}

/** Shortest time between two redraws of the bar, in ms. */
export const REDRAW_MS = 100;

/**
 * A reporter writing to stderr; with `bar`, one progress bar for the whole run (files done,
 * bytes, rate) that redraws at most every REDRAW_MS and is erased when the run ends, so the
 * digest lines stand alone. The byte total grows as responses announce their lengths.
 */
export async function createReporter(
  bar: boolean,
  note: (line: string) => void,
  tty: NodeJS.WriteStream = process.stderr,
): Promise<GetReporter> {
  if (!bar) return plainReporter(note);
  // Its exports object as the default export: node gives it, and so does the bundle
  // (scripts/bundle.ts), where a dynamic import of a CommonJS module has no named exports.
  const m = (await import('cli-progress')) as typeof CliProgress & { default?: typeof CliProgress };
  const { SingleBar } = m.default ?? m;
  const progress = new SingleBar({
    stream: sharedTerminal(tty),
    format: ' {bar} {percentage}% |{files} {done} of {all} | {rate} | ETA {eta_formatted}',
    // The bar is trimmed to the width, and the terminal keeps wrapping lines: a server's log
    // line written in between on the same terminal is not cut at the edge.
    linewrap: true,
    hideCursor: true,
    clearOnComplete: true,
  });
  let started = 0;
  let shown = 0;
  let total = 0;
  let received = 0;
  let files = 0;
  let done = 0;
  const figures = (): Record<string, string> => {
    const s = (Date.now() - started) / 1000;
    return {
      files: files > 1 ? ` ${done}/${files} files |` : '',
      done: formatBytes(received),
      all: formatBytes(total),
      rate: s > 0 ? `${formatBytes(received / s)}/s` : '',
    };
  };
  const redraw = (force: boolean): void => {
    const now = Date.now();
    if (!started || (!force && now - shown < REDRAW_MS)) return;
    shown = now;
    progress.setTotal(Math.max(total, 1));
    progress.update(received, figures());
  };
  // The bar has no newline of its own: a line printed while it is shown would continue it.
  // Erase it first; the bar's own timer draws it again below the line.
  const above = (write: () => void): void => {
    if (started) tty.write('\r\x1b[2K');
    write();
  };
  return {
    info: (line) => {
      above(() => {
        note(line);
      });
    },
    above,
    start: (n) => {
      started = Date.now();
      files = n;
      progress.start(1, 0, figures());
    },
    announce: (bytes) => {
      total += bytes;
      redraw(true);
    },
    // Called for every TLS record; the figures are worth computing a few times a second only.
    progress: (n) => {
      received += n;
      redraw(false);
    },
    fileDone: () => {
      done++;
      redraw(true);
    },
    stop: () => {
      if (started) progress.stop();
      started = 0;
    },
  };
}

/**
 * The terminal as the bar should see it when others may write to it too (a server started in
 * the background of the same shell): cli-progress saves the cursor position when the bar starts
 * and restores it to erase the bar at the end, which would erase whatever line another program
 * printed in between. Without save and restore, the bar is erased where it is: on the current
 * line, which is always its own.
 */
function sharedTerminal(tty: NodeJS.WriteStream): NodeJS.WritableStream {
  const SAVE = '\x1b7';
  const RESTORE = '\x1b8';
  // What cli-progress (and readline's cursor functions) use of a stream: isTTY, columns, write.
  const view = {
    isTTY: true,
    get columns() {
      return tty.columns;
    },
    write: (chunk: string, cb?: () => void): boolean =>
      chunk === SAVE || chunk === RESTORE ? true : tty.write(chunk, cb),
  };
  return view as unknown as NodeJS.WritableStream;
}

/** Bytes in binary units with one decimal: `0 B`, `1023 B`, `1.5 KiB`, `64.0 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i] ?? ''}`;
}
