/**
 * `securestream completion bash|zsh|fish`: the bash script is loaded into a real bash and its
 * function called as readline would (COMP_WORDS, COMP_CWORD), asserting COMPREPLY.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildProgram } from '../src/program.js';
import { completionScript } from '../src/completion.js';
import { runCli, tempDir } from './helpers/proc.js';

/** A skip reason when `shell` is not installed (.ci/run installs zsh and fish). */
function missing(shell: string): string | false {
  return spawnSync(shell, ['--version']).error === undefined
    ? false
    : `${shell} is not installed (.ci/run installs it)`;
}

describe('completion', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let script: string;

  before(async () => {
    tmp = await tempDir();
    const r = await runCli(['completion', 'bash']);
    assert.equal(r.code, 0, r.stderr);
    script = join(tmp.path, 'securestream.bash');
    await writeFile(script, r.stdout);
    await mkdir(join(tmp.path, 'pki'));
    await writeFile(join(tmp.path, 'data file.bin'), 'x');
    await writeFile(join(tmp.path, 'dat2.bin'), 'x');
  });
  after(async () => {
    await tmp.remove();
  });

  /** COMPREPLY after completing the last of `words` (the word under the cursor). */
  function complete(words: string[]): string[] {
    const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
    const r = spawnSync(
      'bash',
      [
        '--norc',
        '--noprofile',
        '-c',
        `source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _securestream; printf '%s\\n' "\${COMPREPLY[@]}"`,
        'bash',
        script,
      ],
      { cwd: tmp.path, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  const table: [string, string[], string[]][] = [
    ['a command', ['securestream', 'se'], ['serve']],
    ['a subcommand', ['securestream', 'pki', 'i'], ['init', 'issue-client']],
    [
      'a flag',
      ['securestream', 'serve', '--max-c'],
      ['--max-connections', '--max-connections-per-address'],
    ],
    ['a flag after a flag value', ['securestream', 'get', '--out', 'x', '--qu'], ['--quiet']],
    ['a choice', ['securestream', 'serve', '--tls-max', ''], ['1.2', '1.3']],
    ['a file name, spaces kept', ['securestream', 'encrypt', 'da'], ['dat2.bin', 'data file.bin']],
    [
      'a file name as a flag value',
      ['securestream', 'get', 'n', '--out', 'dat'],
      ['dat2.bin', 'data file.bin'],
    ],
    ['a folder for --pki, not files', ['securestream', 'serve', '--pki', ''], ['pki']],
    ['nothing for a port', ['securestream', 'serve', '--port', ''], []],
    ['the shells', ['securestream', 'completion', ''], ['bash', 'fish', 'zsh']],
  ];
  for (const [what, words, want] of table) {
    it(`bash completes ${what}`, () => {
      assert.deepEqual(complete(words), want);
    });
  }

  it('zsh and fish scripts name every command and long option', () => {
    const program = buildProgram();
    const zsh = completionScript('zsh', program);
    const fish = completionScript('fish', program);
    assert.match(zsh, /^#compdef securestream\n/);
    for (const c of program.commands) {
      assert.ok(zsh.includes(`${c.name()}:`), c.name());
      assert.ok(fish.includes(`-a '${c.name()}'`), c.name());
      for (const o of c.options)
        if (o.long) assert.ok(fish.includes(`-l ${o.long.slice(2)}`), o.long);
    }
  });

  it('zsh -n accepts the zsh script', { skip: missing('zsh') }, () => {
    const n = spawnSync('zsh', ['-n'], {
      input: completionScript('zsh', buildProgram()),
      encoding: 'utf8',
    });
    assert.equal(n.status, 0, n.stderr);
  });

  it(
    'fish -n accepts the fish script, and fish completes commands and options from it',
    {
      skip: missing('fish'),
    },
    async () => {
      const file = join(tmp.path, 'securestream.fish');
      await writeFile(file, completionScript('fish', buildProgram()));
      const n = spawnSync('fish', ['--no-config', '-n', file], { encoding: 'utf8' });
      assert.equal(n.status, 0, n.stderr);
      const complete = (line: string): string[] => {
        const r = spawnSync(
          'fish',
          ['--no-config', '-c', `source ${file}; complete -C ${JSON.stringify(line)}`],
          { encoding: 'utf8' },
        );
        assert.equal(r.status, 0, r.stderr);
        return r.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\t')[0] ?? '');
      };
      assert.deepEqual(complete('securestream ').sort(), [
        'completion',
        'decrypt',
        'encrypt',
        'get',
        'ls',
        'payload',
        'pki',
        'serve',
      ]);
      assert.deepEqual(complete('securestream get --par'), ['--parallel']);
    },
  );

  it('an unknown shell is a usage error', async () => {
    const r = await runCli(['completion', 'tcsh']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /value 'tcsh' is invalid for argument 'shell'/);
  });
});
