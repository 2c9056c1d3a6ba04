/** securestream(1): generated from the commander definitions, lint-clean under mandoc. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildProgram } from '../src/program.js';
import { EXIT } from '../src/errors.js';
import { manPage, roffText } from '../scripts/man.js';
import { ERROR_CODES } from '../src/protocol.js';
import { tempDir } from './helpers/proc.js';

const hasMandoc = spawnSync('mandoc', ['-V']).error === undefined;

describe('man page', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let page: string;
  before(async () => {
    tmp = await tempDir();
    page = manPage(buildProgram(), new Date('2026-11-29T00:00:00Z'));
  });
  after(async () => {
    await tmp.remove();
  });

  it(
    'mandoc -T lint reports nothing',
    { skip: !hasMandoc && 'mandoc not installed (.ci/run installs it)' },
    async () => {
      const file = join(tmp.path, 'securestream.1');
      await writeFile(file, page);
      const r = spawnSync('mandoc', ['-T', 'lint', '-W', 'all', file], { encoding: 'utf8' });
      assert.equal(`${r.stdout}${r.stderr}`, '');
      assert.equal(r.status, 0);
    },
  );

  it('names every command and every option of the program, with its placeholder', () => {
    const walk = (c: ReturnType<typeof buildProgram>, path: string[]): void => {
      if (path.length && c.commands.length === 0)
        assert.ok(page.includes(`.SS ${roffText(path.join(' '))}\n`), path.join(' '));
      for (const o of c.options)
        if (o.long) assert.ok(page.includes(`\\fB${roffText(o.long)}\\fR`), o.long);
      for (const s of c.commands) walk(s, [...path, s.name()]);
    };
    walk(buildProgram(), []);
    assert.match(page, /^\.TH SECURESTREAM 1 2026-11-29 "securestream \d+\.\d+\.\d+"/);
  });

  it('has the exit-status table with every code, and examples', () => {
    const table = /\.TS\n[^]*?\.TE/.exec(page)?.[0] ?? '';
    const codes = [...table.matchAll(/^(\d+)\|T\{$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(codes, Object.values(EXIT));
    assert.match(page, /\.SH EXAMPLES\n[^]*securestream pki init \\-\\-dir pki/);
  });

  it('shows a placeholder with brackets inside it whole: --status-listen [addr:]port', () => {
    assert.ok(
      page.includes('\\fB\\-\\-status\\-listen\\fR \\fI[addr:]port\\fR\n'),
      /.*status\\-listen.*/.exec(page)?.[0],
    );
    assert.ok(page.includes('\\fB\\-\\-trusted\\-proxy\\fR \\fIcidr...\\fR\n'));
  });

  it('exit 4 names every wire code, as README does; no promise that --keep-partial breaks', async () => {
    const table = /\.TS\n[^]*?\.TE/.exec(page)?.[0] ?? '';
    const row4 = /^4\|T\{\n([^]*?)\nT\}$/m.exec(table)?.[1]?.replace(/\n/g, ' ') ?? '';
    const readme = await readFile(
      fileURLToPath(new URL('../../README.md', import.meta.url)),
      'utf8',
    );
    const readmeRow4 = /^\| 4 +\|(.*)\|$/m.exec(readme)?.[1] ?? '';
    for (const c of ERROR_CODES) {
      assert.ok(row4.includes(roffText(c)), `man page exit 4 lacks ${c}: ${row4}`);
      assert.ok(readmeRow4.includes(`\`${c}\``), `README exit 4 lacks ${c}`);
    }
    assert.doesNotMatch(table, /no partial file/);
    assert.ok(table.includes(roffText('--keep-partial')));
  });

  it('reloads a server in its example in a way that works for an npm install (comm is node)', () => {
    const examples = /\.SH EXAMPLES\n[^]*?\.SH /.exec(page)?.[0] ?? '';
    assert.doesNotMatch(examples, /pidof/);
    assert.match(examples, /^systemctl reload securestream/m);
  });

  it('escapes what roff would take for requests or escapes', () => {
    assert.equal(roffText('.hidden'), '\\&.hidden');
    assert.equal(roffText("'quote"), "\\&'quote");
    assert.equal(roffText('a\\b --x'), 'a\\eb \\-\\-x');
  });
});
