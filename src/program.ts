/**
 * The program behind the entry point (cli.ts): argv → validated settings → a command. The one
 * place that prints errors (`securestream: error: …` / `securestream: hint: …`) and chooses
 * the exit code.
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import {
  EXIT,
  SecureStreamError,
  UsageError,
  errnoCode,
  exitCodeFor,
  isSecureStreamError,
} from './errors.js';
import {
  DEFAULT_PARALLEL,
  DEFAULT_PORT,
  MAX_PARALLEL,
  SERVE_DEFAULTS as D,
  getOptions,
  lsOptions,
  type LsFlags,
  parseCount,
  parseSize,
  pkiInitOptions,
  type PkiInitFlags,
  serveOptions,
  type GetFlags,
  type ServeFlags,
} from './config.js';
import { runInterruptible } from './interrupt.js';
import { CONNREFUSED_RETRY_MS } from './retry.js';
import { escapeControls } from './terminaltext.js';
import { versionReport } from './version.js';
import { userArguments } from './argv.js';

// Command modules load on first use: `get` should not pay for the PKI generator, the logger
// or the YAML parser at start-up.

// Lines for a person: what a server or a path put in them cannot act on the terminal
// (src/terminaltext.ts). Standard output is escaped only on a terminal: in a pipe, its
// `sha256sum` lines stay exactly as `sha256sum -c` reads them.
const out = (line: string): void => {
  process.stdout.write(`${process.stdout.isTTY ? escapeControls(line) : line}\n`);
};
const toStderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const note = (line: string): void => {
  process.stderr.write(`securestream: ${escapeControls(line)}\n`);
};

function pkiOptions(cmd: Command): Command {
  return cmd
    .option('--pki <dir>', 'PKI folder made by "securestream pki init" (default ./pki)')
    .option('--ca <file>', 'CA certificate(s), PEM')
    .option('--cert <file>', 'certificate, PEM')
    .option('--key <file>', 'private key, PEM (unencrypted)');
}

/** What an action decides beyond success or a thrown error: a batch with failures. */
export interface ProgramState {
  exitCode: number;
  /** Rejects with `output-failed` when standard output is closed by its reader (EPIPE). */
  stdoutClosed?: Promise<never>;
}

export function buildProgram(state: ProgramState = { exitCode: EXIT.ok }): Command {
  const program = new Command('securestream')
    .description('Mutually authenticated TLS file streaming')
    .version(
      versionReport(),
      '-V, --version',
      'print the versions of securestream, Node.js and OpenSSL',
    )
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
      .option('--root <dir>', 'folder to serve', D.root)
      .option('--host <addr>', 'address to listen on (default: all interfaces)')
      .option('--port <n>', 'port (0 picks a free one)', D.port)
      .option(
        '--ciphers <list>',
        'ordered TLS suites, server order wins (default: ECDHE + AES128-GCM-SHA256 for the key)',
      )
      .addOption(
        new Option('--tls-max <version>', 'highest TLS version')
          .choices(['1.2', '1.3'])
          .default(D.tlsMax),
      )
      .option(
        '--handshake-timeout <duration>',
        'TCP accept to finished handshake (absolute)',
        D.handshakeTimeout,
      )
      .option(
        '--request-timeout <duration>',
        'handshake to complete request line',
        D.requestTimeout,
      )
      .option(
        '--idle-timeout <duration>',
        'close a connection with no byte read or written for this long',
        D.idleTimeout,
      )
      .option('--max-connections <n>', 'connections at once', D.maxConnections)
      .option(
        '--max-connections-per-address <n>',
        'connections at once from one address',
        D.maxConnectionsPerAddress,
      )
      .option(
        '--encrypt',
        "send every file as sstream-v1, encrypted to the client certificate's key",
      )
      .option('--no-http', 'serve the line protocol only: no HTTP/1.1 or HTTP/2 on the port')
      .option(
        '--keep-alive-timeout <duration>',
        'HTTP: close a kept-alive connection with no request for this long',
        D.keepAliveTimeout,
      )
      .option(
        '--max-requests-per-connection <n>',
        'HTTP: requests on one connection before it is closed (HTTP/2: GOAWAY)',
        D.maxRequestsPerConnection,
      )
      .option('--workers <n>', 'processes sharing the port, or auto (one per CPU)', D.workers)
      .option(
        '--access <file>',
        'access rules (YAML): which client identities may read which paths (default: all)',
      )
      .option(
        '--crl <file>',
        'certificate revocation list, PEM (default: crl.pem of the --pki folder if it exists)',
      )
      .option(
        '--proxy-protocol',
        'expect a PROXY protocol header (v1 or v2) before TLS on every connection, from a --trusted-proxy only',
      )
      .option(
        '--trusted-proxy <cidr...>',
        'load balancers allowed to send PROXY headers: addresses or networks (198.18.0.0/15)',
      )
      .option(
        '--reload-interval <duration>',
        'also reload when the content of certificate, key, CA, CRL or rules files changes, looking this often (symlink flips included)',
      )
      .option(
        '--status-listen <[addr:]port>',
        'serve /healthz and /metrics (Prometheus) over plain HTTP here; PORT alone is on 127.0.0.1 (default: off)',
      )
      .option(
        '--grace <duration>',
        'on SIGTERM/SIGINT, how long transfers in flight may finish',
        D.grace,
      )
      .addOption(
        new Option(
          '--log-format <format>',
          'log lines as json or pretty (default: pretty on a terminal)',
        ).choices(['json', 'pretty']),
      ),
  ).action(async (o: ServeFlags) => {
    const { runServe } = await import('./commands/serve.js');
    const { activationFd } = await import('./activation.js');
    // A cluster worker's listen on the passed socket is carried out by its primary.
    const { isWorker } = (await import('node:cluster')).default;
    const fd = activationFd(process.env, [isWorker ? process.ppid : process.pid]);
    await runServe({ ...serveOptions(o), fd }, out);
  });

  pkiOptions(
    program
      .command('get')
      .description(
        'download files (names or patterns) from the server and verify their SHA-256; prints one sha256sum line per file',
      )
      .argument('[names...]', 'file names relative to the server root, or patterns (logs/**/*.gz)')
      .option('--server <host:port>', 'server to dial', `localhost:${DEFAULT_PORT}`)
      .option(
        '--out <path>',
        'file (one name) or existing folder (default: here; basename of NAME, or the path a pattern matched)',
      )
      .option('--from <file>', 'more names, one per line ("-": standard input)')
      .option(
        '-j, --parallel <n>',
        `transfers at a time (1-${MAX_PARALLEL})`,
        String(DEFAULT_PARALLEL),
      )
      .option('--continue', 'resume from a partial download kept by an earlier run (verified)')
      .option('--keep-partial', 'keep what arrived when a download fails, for --continue')
      .option('--retries <n>', 'after a network failure, try again (resuming) up to N times', '0')
      .addOption(
        new Option(
          '--protocol <wire>',
          'auto: HTTP/1.1 for several names, patterns and resuming when the server offers it, else the line protocol; http: always HTTP/1.1; 1: always the line protocol',
        )
          .choices(['auto', 'http', '1'])
          .default('auto'),
      )
      .option('--no-glob', 'take every NAME literally, even with * ? [ ] { }')
      .option('--quiet', 'no progress bar')
      .option('--verbose', 'print the negotiated protocol, suite and mode')
      .option('--decrypt', 'store the plaintext of an encrypted (sstream-v1) response')
      .option(
        '--retry-connrefused',
        `if the connection is refused (server not up yet), retry for up to ${CONNREFUSED_RETRY_MS / 1000} s`,
      ),
  ).action(async (names: string[], o: GetFlags) => {
    const { runGet } = await import('./commands/get.js');
    const { createReporter, formatBytes } = await import('./progress.js');
    const { sha256sumLine } = await import('./digest.js');
    const { batchExitCode } = await import('./fetch/batch.js');
    const report = await createReporter(!o.quiet && process.stderr.isTTY, note);
    const opts = getOptions(names, o);
    const outcome = await runInterruptible(
      (signal) =>
        runGet({ ...opts, signal }, report, {
          stored: (r) => {
            // With `--out -` the bytes are on stdout: the digest line goes to stderr.
            (r.path === '-' ? toStderr : out)(sha256sumLine(r.sha256, r.path));
          },
          failed: (name, e) => {
            const message = e instanceof Error ? e.message : String(e);
            note(`error: ${message.includes(`"${name}"`) ? message : `"${name}": ${message}`}`);
          },
          stdin: () => readStdin(),
        }),
      undefined,
      opts.keepPartial ? 'kept' : 'removed',
      state.stdoutClosed,
    );
    if (outcome.single) return;
    const failures = [...outcome.unresolved, ...outcome.failed];
    const secs = outcome.ms / 1000;
    note(
      `${outcome.stored.length} file${outcome.stored.length === 1 ? '' : 's'} stored, ${formatBytes(outcome.received)} received in ${secs.toFixed(2)} s (${formatBytes(outcome.received / Math.max(secs, 0.001))}/s)${failures.length ? `; ${failures.length} failed` : ''}`,
    );
    state.exitCode = batchExitCode(failures.map((f) => f.error));
  });

  pkiOptions(
    program
      .command('ls')
      .description('list what this client may read on the server (access rules applied)')
      .argument('[prefix]', 'folder, file or pattern (default: the root)')
      .option('--server <host:port>', 'server to dial', `localhost:${DEFAULT_PORT}`)
      .option('--long', 'type, size, modification time, SHA-256 (when known) and name')
      .option('--json', 'one JSON array of entries')
      .option(
        '--retry-connrefused',
        `if the connection is refused (server not up yet), retry for up to ${CONNREFUSED_RETRY_MS / 1000} s`,
      ),
  ).action(async (prefix: string | undefined, o: LsFlags) => {
    const { runLs } = await import('./commands/ls.js');
    const opts = lsOptions(prefix, o);
    await runInterruptible(
      (signal) =>
        runLs({ ...opts, signal, terminal: process.stdout.isTTY }, (text) => {
          process.stdout.write(text);
        }),
      undefined,
      undefined,
      state.stdoutClosed,
    );
  });

  program
    .command('encrypt')
    .description('encrypt FILE to certificates or public keys (or a passphrase) as sstream-v1')
    .argument('<file>', 'plaintext file')
    .option(
      '--to <cert-or-pubkey>',
      'recipient certificate or public key, PEM (repeatable)',
      collect,
      [],
    )
    .option('--passphrase-file <file>', 'encrypt to the passphrase on the first line of this file')
    .option('--out <path>', 'output (default FILE.sst)')
    .action(async (file: string, o: { to: string[]; passphraseFile?: string; out?: string }) => {
      const { runEncrypt } = await import('./commands/encrypt.js');
      await runInterruptible((signal) =>
        runEncrypt(
          { file, to: o.to, ...defined({ passphraseFile: o.passphraseFile, out: o.out }), signal },
          out,
        ),
      );
    });

  program
    .command('decrypt')
    .description('decrypt an sstream-v1 FILE; prints the plaintext SHA-256')
    .argument('<file>', 'encrypted file')
    .option('--key <file>', 'private key, PEM')
    .option('--pki <dir>', 'use DIR/client.key')
    .option('--passphrase-file <file>', 'passphrase on the first line of this file')
    .option('--out <path>', 'output (default FILE without .sst; "-": standard output)')
    .option('--expect-sha256 <hex>', 'fail unless the plaintext has this SHA-256')
    .action(
      async (
        file: string,
        o: {
          key?: string;
          pki?: string;
          passphraseFile?: string;
          out?: string;
          expectSha256?: string;
        },
      ) => {
        const { runDecrypt } = await import('./commands/decrypt.js');
        // With `--out -` the plaintext is on stdout: the digest line goes to stderr, as for get.
        const digestLine = o.out === '-' ? toStderr : out;
        await runInterruptible(
          (signal) => runDecrypt({ file, ...defined(o), signal }, digestLine),
          undefined,
          undefined,
          state.stdoutClosed,
        );
      },
    );

  const pki = program
    .command('pki')
    .description('make and manage a CA, server and client certificates');
  pki
    .command('init')
    .description('create a CA, a server certificate and client certificates')
    .option('--dir <dir>', 'PKI folder', 'pki')
    .addOption(
      new Option('--key-type <type>', 'key algorithm').choices(['ec', 'rsa']).default('ec'),
    )
    .option('--rsa-bits <n>', 'RSA modulus size with --key-type rsa', '2048')
    .option('--days <n>', 'validity of server and client certificates in days', '825')
    .option('--san <host-or-ip>', 'extra server name or IP address (repeatable)', collect, [])
    .option('--client <name>', 'extra client certificate NAME.crt (repeatable)', collect, [])
    .option('--force', 'replace an existing PKI in --dir')
    .action(async (o: PkiInitFlags) => {
      const { runPkiInit } = await import('./commands/pki.js');
      await runInterruptible((signal) => runPkiInit({ ...pkiInitOptions(o), signal }, out));
    });
  pki
    .command('issue-client')
    .description('issue one more client certificate from the existing CA')
    .argument('<name>', 'client name: NAME.crt and NAME.key')
    .option('--dir <dir>', 'PKI folder', 'pki')
    .option('--days <n>', 'validity in days', '825')
    .action(async (name: string, o: { dir: string; days: string }) => {
      const { runPkiIssueClient } = await import('./commands/pki.js');
      const days = parseCount(o.days, '--days');
      await runInterruptible((signal) =>
        runPkiIssueClient({ dir: o.dir, name, days, signal }, out),
      );
    });
  pki
    .command('revoke')
    .description('revoke a client certificate by NAME or serial; writes DIR/crl.pem')
    .argument('<name-or-serial>', 'client name (NAME.crt in the PKI folder) or hex serial')
    .option('--dir <dir>', 'PKI folder', 'pki')
    .action(async (target: string, o: { dir: string }) => {
      const { runPkiRevoke } = await import('./commands/pki.js');
      await runInterruptible((signal) => runPkiRevoke({ dir: o.dir, target, signal }, out));
    });

  program
    .command('payload')
    .description('write a file of random bytes and print its SHA-256')
    .argument('<file>', 'output file')
    .requiredOption('--size <size>', 'bytes: 1000, 64KiB, 64MiB, 1GiB')
    .action(async (file: string, o: { size: string }) => {
      const { runPayload } = await import('./commands/payload.js');
      const size = parseSize(o.size);
      out(await runInterruptible((signal) => runPayload(file, size, signal)));
    });

  program
    .command('completion')
    .description('print a shell completion script (bash: source <(securestream completion bash))')
    .addArgument(new Argument('<shell>', 'shell to complete in').choices(['bash', 'zsh', 'fish']))
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const { completionScript } = await import('./completion.js');
      process.stdout.write(completionScript(shell, program));
    });

  return program;
}

/** Standard input, whole (for `get --from -`). */
async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of process.stdin as AsyncIterable<Buffer>) parts.push(b);
  return Buffer.concat(parts);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Drops undefined values, so optional options stay absent rather than undefined. */
function defined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

/**
 * Standard output's first write failure (EPIPE: `| head -1` exited) as `output-failed`. Other
 * errors are swallowed, so a closed pipe never ends the process with a stack trace: a stream
 * that failed (a chunk that did not verify) destroys stdout with its own error, which its
 * command reports.
 */
function watchStdout(): Promise<never> {
  const closed = new Promise<never>((_, reject) => {
    process.stdout.on('error', (e: unknown) => {
      if (typeof e !== 'object' || e === null || !('syscall' in e)) return;
      reject(
        new SecureStreamError(
          'output-failed',
          `standard output was closed (${errnoCode(e) ?? 'write failed'}) before everything was written`,
          'read the whole output, or redirect it to a file',
          { cause: e },
        ),
      );
    });
  });
  closed.catch(() => undefined);
  return closed;
}

export async function main(argv: string[]): Promise<number> {
  const stdoutClosed = watchStdout();
  let done = false;
  // Closed after the command finished (its last line not read): still a failure, said once.
  stdoutClosed.catch((e: unknown) => {
    if (!done) return;
    printError(e);
    process.exitCode = exitCodeFor(e);
  });
  const state: ProgramState = { exitCode: EXIT.ok, stdoutClosed };
  const program = buildProgram(state);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (caught) {
    let e = caught;
    if (e instanceof CommanderError) {
      // `securestream` or `securestream pki` alone: commander printed the help to stderr;
      // a command was missing, which is a usage error (git exits 1 there; ours is 2).
      if (e.code === 'commander.help') return EXIT.usage;
      const informational = ['commander.helpDisplayed', 'commander.version'];
      if (informational.includes(e.code)) return EXIT.ok;
      e = new UsageError(
        e.message.replace(/^error: /, ''),
        `see "${[...commandPath(program, argv), '--help'].join(' ')}"`,
      );
    }
    printError(e);
    return exitCodeFor(e);
  } finally {
    done = true;
  }
}

/** `securestream get`, `securestream pki revoke`: the (sub)command `argv` names, for its help. */
function commandPath(program: Command, argv: readonly string[]): string[] {
  const path = [program.name()];
  let cmd = program;
  for (const arg of argv) {
    if (arg.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    path.push(sub.name());
    cmd = sub;
  }
  return path;
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

/** Runs the command line of this process and sets its exit code (cli.ts calls it). */
export function run(): void {
  void main(userArguments()).then(
    (code) => {
      process.exitCode = code;
      // An interrupted command may still hold a socket or a pending read: do not wait for it.
      if (code > 128) process.exit(code);
    },
    (e: unknown) => {
      printError(e);
      process.exitCode = EXIT.failure;
    },
  );
}
