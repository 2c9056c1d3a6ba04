#!/usr/bin/env node
/**
 * The entry point: argv → validated settings → a command. The one place that prints errors
 * (`securestream: error: …` / `securestream: hint: …`) and chooses the exit code.
 */
import { Command, CommanderError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { UsageError, isSecureStreamError } from './errors.js';
import { createLogger } from './log.js';
import {
  DEFAULT_PORT,
  materialPaths,
  parseCipherList,
  parseCount,
  parseDuration,
  parseHost,
  parsePort,
  parseTlsMax,
  type PkiFlags,
} from './config.js';
import { parseSize } from './size.js';
import { parseHostPort } from './transport/tls.js';
import { DEFAULT_LIMITS } from './transport/server.js';
import { runGet, resultLine, type GetReporter } from './commands/get.js';
import { runPayload } from './commands/payload.js';
import { startServe } from './commands/serve.js';

/** Exit codes (README "Exit codes"): scripts branch on these. */
export const EXIT = { ok: 0, failure: 1, usage: 2, tls: 3, refused: 4, integrity: 5 } as const;

export function exitCodeFor(e: unknown): number {
  if (!isSecureStreamError(e)) return EXIT.failure;
  const c = e.code;
  if (c === 'usage') return EXIT.usage;
  if (c.startsWith('tls-') || c === 'connect-failed') return EXIT.tls;
  if (
    ['bad-request', 'not-found', 'forbidden', 'unsupported-key', 'busy', 'internal'].includes(c)
  ) {
    return EXIT.refused;
  }
  if (
    ['truncated', 'digest-mismatch', 'protocol', 'timeout'].includes(c) ||
    c.startsWith('format-')
  ) {
    return EXIT.integrity;
  }
  return EXIT.failure;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const note = (line: string): void => {
  process.stderr.write(`securestream: ${line}\n`);
};

function pkiOptions(cmd: Command): Command {
  return cmd
    .option('--pki <dir>', 'PKI folder made by "securestream pki init" (default ./pki)')
    .option('--ca <file>', 'CA certificate(s), PEM')
    .option('--cert <file>', 'certificate, PEM')
    .option('--key <file>', 'private key, PEM (unencrypted)');
}

function buildProgram(): Command {
  const program = new Command('securestream')
    .description('Mutually authenticated TLS file streaming')
    .version('0.1.0')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: () => undefined, // printed by main() in the house format
    });

  pkiOptions(
    program
      .command('serve')
      .description('serve the files under --root to clients with a certificate from the CA')
      .option('--root <dir>', 'folder to serve', './data')
      .option('--host <addr>', 'address to listen on (default: all interfaces)')
      .option('--port <n>', 'port (0 picks a free one)', String(DEFAULT_PORT))
      .option(
        '--ciphers <list>',
        'ordered TLS suites, server order wins (default: ECDHE + AES128-GCM-SHA256 for the key)',
      )
      .addOption(
        new Option('--tls-max <version>', 'highest TLS version')
          .choices(['1.2', '1.3'])
          .default('1.2'),
      )
      .option('--handshake-timeout <duration>', 'TCP accept to finished handshake', '10s')
      .option('--request-timeout <duration>', 'handshake to complete request line', '10s')
      .option(
        '--idle-timeout <duration>',
        'close a connection with no progress for this long',
        '60s',
      )
      .option('--max-connections <n>', 'connections at once', String(DEFAULT_LIMITS.maxConnections))
      .option(
        '--max-connections-per-address <n>',
        'connections at once from one address',
        String(DEFAULT_LIMITS.maxConnectionsPerAddress),
      )
      .option(
        '--grace <duration>',
        'on SIGTERM/SIGINT, how long transfers in flight may finish',
        '60s',
      )
      .addOption(
        new Option(
          '--log-format <format>',
          'log lines as json or pretty (default: pretty on a terminal)',
        ).choices(['json', 'pretty']),
      ),
  ).action(async (o: Record<string, string | undefined> & PkiFlags) => {
    const log = createLogger({
      pretty: (o['logFormat'] ?? (process.stderr.isTTY ? 'pretty' : 'json')) === 'pretty',
    });
    const running = await startServe(
      {
        root: o['root'] ?? './data',
        host: o['host'] === undefined ? undefined : parseHost(o['host']),
        port: parsePort(o['port'] ?? String(DEFAULT_PORT)),
        material: materialPaths(o, 'server'),
        ciphers: o['ciphers'] === undefined ? undefined : parseCipherList(o['ciphers']),
        tlsMax: parseTlsMax(o['tlsMax'] ?? '1.2'),
        limits: {
          handshakeTimeoutMs: parseDuration(o['handshakeTimeout'] ?? '10s', '--handshake-timeout'),
          requestTimeoutMs: parseDuration(o['requestTimeout'] ?? '10s', '--request-timeout'),
          idleTimeoutMs: parseDuration(o['idleTimeout'] ?? '60s', '--idle-timeout'),
          maxConnections: parseCount(o['maxConnections'] ?? '', '--max-connections'),
          maxConnectionsPerAddress: parseCount(
            o['maxConnectionsPerAddress'] ?? '',
            '--max-connections-per-address',
          ),
        },
        graceMs: parseDuration(o['grace'] ?? '60s', '--grace'),
      },
      log,
      out,
    );
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (sig: string): void => {
        if (stopping) {
          log.warn({ signal: sig }, 'second signal: closing every connection now');
          running.server.destroyAll();
          return;
        }
        stopping = true;
        log.info({ signal: sig, connections: running.server.connectionCount }, 'shutting down');
        void running.stop().then(resolve);
      };
      process.on('SIGTERM', () => {
        stop('SIGTERM');
      });
      process.on('SIGINT', () => {
        stop('SIGINT');
      });
      process.on('SIGHUP', () => {
        void running.reload();
      });
    });
  });

  pkiOptions(
    program
      .command('get')
      .description('download NAME from the server and verify its SHA-256')
      .argument('<name>', 'file name relative to the server root')
      .option('--server <host:port>', 'server to dial', `localhost:${DEFAULT_PORT}`)
      .option('--out <path>', 'where to store the file (default: basename of NAME here)')
      .option('--quiet', 'no progress bar')
      .option('--verbose', 'print the negotiated protocol, suite and mode'),
  ).action(async (name: string, o: Record<string, string | boolean | undefined> & PkiFlags) => {
    const { host, port } = parseHostPort(String(o['server']), DEFAULT_PORT);
    const result = await runGet(
      {
        name,
        host,
        port,
        out: o['out'] as string | undefined,
        material: materialPaths(o, 'client'),
        verbose: o['verbose'] === true,
      },
      reporter(o['quiet'] !== true && process.stderr.isTTY),
    );
    out(resultLine(result));
  });

  program
    .command('payload')
    .description('write a file of random bytes and print its SHA-256')
    .argument('<file>', 'output file')
    .requiredOption('--size <size>', 'bytes: 1000, 64KiB, 64MiB, 1GiB')
    .action(async (file: string, o: { size: string }) => {
      out(await runPayload(file, parseSize(o.size)));
    });

  return program;
}

/** stderr lines always; a progress bar only on a terminal. */
function reporter(bar: boolean): GetReporter {
  const progress = bar
    ? new SingleBar({
        stream: process.stderr,
        format: ' {bar} {percentage}% | {value}/{total} bytes | {eta_formatted}',
        hideCursor: true,
        clearOnComplete: true,
      })
    : undefined;
  let started = false;
  return {
    info: note,
    start: (total) => {
      started = true;
      progress?.start(total, 0);
    },
    progress: (n) => progress?.update(n),
    stop: () => {
      if (started) progress?.stop();
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return EXIT.ok;
      e = new UsageError(e.message.replace(/^error: /, ''), 'see "securestream --help"');
    }
    printError(e);
    return exitCodeFor(e);
  }
}

function printError(e: unknown): void {
  if (isSecureStreamError(e)) {
    note(`error: ${e.message}`);
    if (e.hint) note(`hint: ${e.hint}`);
  } else {
    note(`error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env['SECURESTREAM_DEBUG'] && e instanceof Error)
      process.stderr.write(`${e.stack ?? ''}\n`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    printError(e);
    process.exitCode = EXIT.failure;
  },
);
