/**
 * Build time: writes the man page securestream(1) from the CLI's own commander definitions
 * (commands, arguments, options, defaults, choices) and the exit codes of src/errors.ts, so
 * the page cannot drift from the program. man(7) macros with one tbl(7) table; checked in
 * CI with `mandoc -T lint`. Written by scripts/assets.ts.
 */
import type { Command, Option } from 'commander';
import { EXIT } from '../src/errors.js';
import { ERROR_CODES } from '../src/protocol.js';
import { ownVersion } from '../src/version.js';

/** What each exit status means; a new class in EXIT does not compile until it is described. */
const EXIT_MEANING: Record<keyof typeof EXIT, string> = {
  ok: 'success',
  failure: 'failure: files, certificates or keys that cannot be used, configuration, I/O',
  usage: 'usage: unknown or conflicting flags, bad values, no command (the help, on stderr)',
  tls: 'connection or TLS handshake failed: server unreachable, certificate refused or not trusted',
  refused: `the server refused the request: any ERR line (${ERROR_CODES.join(', ')}, or a code from a newer server)`,
  integrity:
    'transfer integrity: truncated, digest mismatch, protocol violation, timeout, encrypted file failed verification',
  interrupted:
    'interrupted by SIGINT (Ctrl-C); 129 for SIGHUP, 143 for SIGTERM; the temporary file is removed (get --keep-partial and --continue keep partial downloads, for a later --continue)',
};

const EXAMPLES: [string, string[]][] = [
  [
    'Make a CA, a server certificate and a client certificate, then serve a folder:',
    ['securestream pki init --dir pki', 'securestream serve --pki pki --root data --port 8443'],
  ],
  [
    'Download a file; the printed line is the sha256sum(1) line of the stored copy:',
    ['securestream get big.bin --server files.example.org:8443 --pki pki --out big.bin'],
  ],
  [
    "Serve every file encrypted to the client certificate's key, and store the plaintext:",
    [
      'securestream serve --pki pki --root data --encrypt',
      'securestream get big.bin --server localhost:8443 --pki pki --decrypt',
    ],
  ],
  [
    'Revoke a client and make a running server read the new CRL:',
    [
      'securestream pki revoke alice --dir pki',
      'systemctl reload securestream   # or: pkill -HUP -f "securestream serve"',
    ],
  ],
  ['Complete commands and flags in bash:', ['source <(securestream completion bash)']],
];

/** Escapes text for a roff text line: backslashes, minus signs, a leading control character. */
export function roffText(s: string): string {
  const t = s.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(t) ? `\\&${t}` : t;
}

/** Words of `s` as text lines of at most `width` bytes (mandoc's style check wants ≤ 80). */
function fill(s: string, width = 78): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(/\s+/).filter(Boolean)) {
    const w = roffText(word);
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l) => (/^[.']/.test(l) ? `\\&${l}` : l));
}

/** `\fB--root\fR \fIdir\fR`: the flag in bold, its placeholder in italics. */
function flagTerm(o: Option): string {
  const names = [o.short, o.long].filter((n): n is string => n !== undefined).map(roffText);
  // The whole placeholder, brackets inside it included: `<[addr:]port>` is `[addr:]port`.
  const value = /\s[<[](.+)[>\]]$/.exec(o.flags)?.[1];
  return `\\fB${names.join('\\fR, \\fB')}\\fR${value ? ` \\fI${roffText(value)}\\fR` : ''}`;
}

function optionItem(o: Option): string[] {
  let text = o.description;
  if (o.argChoices) text += `; one of ${o.argChoices.join(', ')}`;
  const d: unknown = o.defaultValue;
  if ((typeof d === 'string' && d !== '') || typeof d === 'number')
    text += ` (default ${String(d)})`;
  if (o.mandatory) text += ' (required)';
  return ['.TP', flagTerm(o), ...fill(text)];
}

function usageLine(cmd: Command, path: string[]): string {
  const args = cmd.registeredArguments.map((a) =>
    a.required ? `\\fI${roffText(a.name())}\\fR` : `[\\fI${roffText(a.name())}\\fR]`,
  );
  return [
    `\\fBsecurestream ${path.map(roffText).join(' ')}\\fR`,
    '[\\fIoptions\\fR]',
    ...args,
  ].join(' ');
}

/** Leaf commands depth first, with their path under the program. */
function leaves(cmd: Command, path: string[] = []): [Command, string[]][] {
  if (cmd.commands.length === 0) return [[cmd, path]];
  return cmd.commands.flatMap((c) => leaves(c, [...path, c.name()]));
}

export function manPage(program: Command, date: Date): string {
  const help = program.createHelp();
  const day = date.toISOString().slice(0, 10);
  const out: string[] = [
    `.TH SECURESTREAM 1 ${day} "securestream ${ownVersion()}" "User Commands"`,
    '.SH NAME',
    `securestream \\- ${roffText(program.description().replace(/^./, (c) => c.toLowerCase()))}`,
    '.SH SYNOPSIS',
  ];
  const commands = leaves(program);
  commands.forEach(([cmd, path], i) => {
    out.push(...(i ? ['.PP'] : []), usageLine(cmd, path));
  });
  out.push('.PP', '\\fBsecurestream\\fR \\fB\\-\\-version\\fR | \\fB\\-V\\fR');
  out.push(
    '.SH DESCRIPTION',
    ...fill(
      'securestream hands files to authenticated clients over mutually authenticated TLS. ' +
        'The server demands a client certificate from your CA; the client verifies the server. ' +
        'Every download ends with a SHA-256 trailer, and the client keeps the file only when ' +
        'length, digest and a clean close all check out. Optionally the server encrypts each ' +
        "file at the application layer (sstream-v1) to the key of the client's certificate.",
    ),
    '.SH OPTIONS',
  );
  for (const o of help.visibleOptions(program)) out.push(...optionItem(o));
  out.push('.SH COMMANDS');
  for (const [cmd, path] of commands) {
    out.push(
      `.SS ${roffText(path.join(' '))}`,
      usageLine(cmd, path),
      '.PP',
      ...fill(`${cmd.description()}.`),
    );
    for (const a of cmd.registeredArguments) {
      out.push('.TP', `\\fI${roffText(a.name())}\\fR`, ...fill(a.description));
    }
    for (const o of cmd.createHelp().visibleOptions(cmd)) out.push(...optionItem(o));
  }
  out.push(
    '.SH OUTPUT FILES',
    ...fill(
      'get, payload, encrypt and decrypt write a new file through a temporary file beside it, .NAME.<random>.part (mode 0600), renamed into place only when complete and verified. An output that exists and is a character or block device or a FIFO (symbolic links followed), such as /dev/null, is written in place instead, as curl, wget and cp do: never replaced, removed or given a mode; its bytes go out before they are verified, so the exit status is the verdict. A socket is refused (output-is-socket).',
    ),
    '.PP',
    ...fill(
      'Each stored file is printed as its sha256sum(1) line; a path with a backslash, newline or carriage return is written as GNU sha256sum writes it (the line starts with a backslash), so sha256sum -c verifies it. Text from a server (refusal messages, listings, ls --long) and names in the server log are shown with control and bidirectional characters escaped (\\x1b, \\u202e); sha256sum lines and ls names on standard output are escaped only on a terminal, and exact in a pipe.',
    ),
    '.SH SIGNALS',
    'For \\fBserve\\fR:',
    '.TP',
    '\\fBSIGHUP\\fR',
    ...fill(
      're-reads certificates, the key, the CRL and the access rules; connections in flight keep theirs.',
    ),
    '.TP',
    '\\fBSIGTERM\\fR, \\fBSIGINT\\fR',
    ...fill(
      'stop accepting, let transfers in flight finish for up to --grace, then exit 0; a second signal closes them at once.',
    ),
    '.PP',
    ...fill(
      'For the commands that write a file, SIGINT, SIGTERM and SIGHUP remove the temporary file and exit 128 plus the signal number.',
    ),
    '.SH ENVIRONMENT',
    '.TP',
    '\\fBLISTEN_FDS\\fR, \\fBLISTEN_PID\\fR',
    ...fill(
      'set by systemd socket activation (sd_listen_fds(3)): serve listens on the passed socket instead of --host and --port.',
    ),
    '.TP',
    '\\fBSECURESTREAM_DEBUG\\fR',
    ...fill('when set, an unexpected error prints its stack trace.'),
    '.SH EXIT STATUS',
    '.TS',
    'tab(|);',
    'r lx.',
  );
  for (const [cls, code] of Object.entries(EXIT) as [keyof typeof EXIT, number][]) {
    out.push(`${code}|T{`, ...fill(EXIT_MEANING[cls], 70), 'T}');
  }
  out.push('.TE', '.SH EXAMPLES');
  for (const [i, [what, lines]] of EXAMPLES.entries()) {
    out.push(
      ...(i ? ['.PP'] : []),
      ...fill(what),
      '.PP',
      '.RS 4',
      '.nf',
      ...lines.map(roffText),
      '.fi',
      '.RE',
    );
  }
  out.push('.SH SEE ALSO', '.BR openssl (1),', '.BR sha256sum (1),', '.BR systemd.socket (5)', '');
  return out.join('\n');
}
