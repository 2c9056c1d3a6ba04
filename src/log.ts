import { pino, type Logger, type DestinationStream } from 'pino';
// Imported, not required at run time, so that the single-executable bundle (npm run dist)
// carries it too; only `serve` loads this module.
import { prettyFactory } from 'pino-pretty';
import { formatRecord, type LogRecord } from './logformat.js';

export type { Logger };

/**
 * Returns the cursor to the start of the line and erases it: a pretty line then replaces
 * whatever another program left unfinished on a shared terminal (a client's progress bar)
 * instead of being appended to it; the bar redraws on the next line.
 */
export const CLEAR_LINE = '\r\x1b[K';

export interface LoggerOptions {
  level?: string;
  /** One readable line per record (src/logformat.ts) instead of JSON. */
  pretty?: boolean;
  /** Pretty only: colour codes; give it only when stderr is a terminal that wants them. */
  color?: boolean;
  /** Pretty only: start each line with CLEAR_LINE; for a terminal shared with other programs. */
  clearLine?: boolean;
  /** Where lines go; default stderr, written synchronously. */
  destination?: DestinationStream;
}

/**
 * The one place that builds a logger. The core receives a Logger and never decides where
 * lines go: JSON lines by default, readable lines when asked (the CLI asks on a terminal).
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  // Synchronous writes, not a worker transport: a CLI exits promptly and loses no line on exit.
  const destination = opts.destination ?? pino.destination({ fd: 2, sync: true });
  if (opts.pretty) {
    return pino({ level, base: undefined }, prettyDestination(opts, destination));
  }
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/**
 * pino-pretty as a library (its prettyFactory): time and level from pino-pretty, the rest of
 * the line from formatRecord through its messageFormat hook, no JSON object after it.
 */
export function prettyFormatter(color: boolean): (record: string | LogRecord) => string {
  return prettyFactory({
    colorize: color,
    translateTime: 'SYS:HH:MM:ss.l',
    // no brackets around the time
    customPrettifiers: { time: (t) => (typeof t === 'string' ? t : JSON.stringify(t)) },
    ignore: 'pid,hostname',
    hideObject: true,
    messageFormat: (log, _key, _label, { colors }) => formatRecord(log, colors),
  });
}

function prettyDestination(opts: LoggerOptions, out: DestinationStream): DestinationStream {
  const format = prettyFormatter(opts.color ?? false);
  const prefix = opts.clearLine ? CLEAR_LINE : '';
  return {
    write(line: string) {
      out.write(prefix + format(line));
    },
  };
}
