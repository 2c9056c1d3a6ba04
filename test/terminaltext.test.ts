import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { escapeControls, jsonForTerminal } from '../src/terminaltext.js';

describe('escapeControls', () => {
  const cases: [string, string, string][] = [
    ['plain text stays', 'big.bin: not-found (no such file)', 'big.bin: not-found (no such file)'],
    ['UTF-8 letters and backslashes stay', 'é-日本 c:\\x', 'é-日本 c:\\x'],
    ['ESC of a colour sequence', '\u001b[31mevil', '\\x1b[31mevil'],
    ['OSC title with BEL', '\u001b]0;title\u0007', '\\x1b]0;title\\x07'],
    ['CR, LF, TAB by name', 'a\rb\nc\td', 'a\\rb\\nc\\td'],
    ['backspace and NUL', 'ok\b\b\u0000', 'ok\\x08\\x08\\x00'],
    ['DEL', 'x\u007f', 'x\\x7f'],
    [
      'C1 controls: CSI U+009B, NEL U+0085, U+0080, U+009F',
      '\u009b2J\u0085\u0080\u009f',
      '\\x9b2J\\x85\\x80\\x9f',
    ],
    ['U+00A0 (no-break space) is not a control', 'a\u00a0b', 'a\u00a0b'],
    [
      'bidi overrides U+202A–U+202E',
      'a\u202ab\u202bc\u202cd\u202de\u202ef',
      'a\\u202ab\\u202bc\\u202cd\\u202de\\u202ef',
    ],
    ['bidi isolates U+2066–U+2069', '\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069'],
    [
      'bidi marks and separators',
      '\u200e\u200f\u061c\u2028\u2029',
      '\\u200e\\u200f\\u061c\\u2028\\u2029',
    ],
    ['U+2065 and U+206A are left alone', '\u2065\u206a', '\u2065\u206a'],
    ['a spoofed extension', 'invoice\u202egpj.exe', 'invoice\\u202egpj.exe'],
  ];
  for (const [what, input, want] of cases) {
    it(what, () => {
      assert.equal(escapeControls(input), want);
    });
  }

  it('leaves nothing a terminal acts on, for every code point up to U+FFFF', () => {
    const all = Array.from({ length: 0x10000 }, (_, i) =>
      i >= 0xd800 && i <= 0xdfff ? '' : String.fromCharCode(i),
    ).join('');
    const out = escapeControls(all);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  });
});

describe('jsonForTerminal', () => {
  it('is JSON.stringify with DEL, C1 and bidi characters as \\u escapes, parsing back exactly', () => {
    const value = { name: 'a\u202eb\u009bc\u007fd\u001be', n: 1, list: ['\u2066x'] };
    const text = jsonForTerminal(value);
    assert.equal(text, '{"name":"a\\u202eb\\u009bc\\u007fd\\u001be","n":1,"list":["\\u2066x"]}');
    assert.deepEqual(JSON.parse(text), value);
  });

  it('plain values are exactly what JSON.stringify writes', () => {
    for (const v of ['x', 'é "q" \\', 3, null, [1, 'b'], { a: { b: 'c' } }]) {
      assert.equal(jsonForTerminal(v), JSON.stringify(v));
    }
  });
});
