import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * The one place that builds a logger. The core receives a Logger and never decides where
 * lines go. JSON lines by default; human-readable (pino-pretty) when asked, e.g. on a TTY.
 */
export function createLogger(opts: {
  level?: string;
  pretty?: boolean;
  destination?: DestinationStream;
}): Logger {
  const level = opts.level ?? 'info';
  if (opts.pretty) {
    // pino-pretty as a synchronous stream, not a worker transport: a CLI exits promptly and
    // loses no line on exit.
    return pino(
      { level, base: undefined },

      prettyStream(),
    );
  }
  return pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything, for library use and tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

import { createRequire } from 'node:module';
function prettyStream(): DestinationStream {
  const require = createRequire(import.meta.url);
  const pretty = require('pino-pretty') as (o: object) => DestinationStream;
  return pretty({
    colorize: true,
    destination: 2,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    singleLine: true,
    ignore: 'pid,hostname',
  });
}
