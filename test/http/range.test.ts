import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  MAX_RANGE_FIELD,
  contentRange,
  evaluateRange,
  unsatisfiedRange,
  type RangeVerdict,
} from '../../src/http/range.js';

const RUNS = process.env['SLOW'] ? 20_000 : 500;
const part = (start: number, end: number): RangeVerdict => ({
  kind: 'partial',
  range: { start, end },
});
const FULL: RangeVerdict = { kind: 'full' };
const NONE: RangeVerdict = { kind: 'unsatisfiable' };

describe('Range (RFC 9110 §14)', () => {
  const table: [string, string | undefined, number, RangeVerdict][] = [
    ['absent', undefined, 100, FULL],
    ['first-last', 'bytes=0-9', 100, part(0, 9)],
    ['one byte', 'bytes=5-5', 100, part(5, 5)],
    ['open end', 'bytes=10-', 100, part(10, 99)],
    ['last past the end is clamped', 'bytes=90-1000', 100, part(90, 99)],
    ['suffix', 'bytes=-10', 100, part(90, 99)],
    ['suffix longer than the file', 'bytes=-1000', 100, part(0, 99)],
    ['unit is case-insensitive', 'Bytes=0-0', 100, part(0, 0)],
    ['whitespace around the set', ' bytes=1-2 ', 100, part(1, 2)],
    ['empty list elements ignored', 'bytes=,1-2,', 100, part(1, 2)],
    ['last byte', 'bytes=99-99', 100, part(99, 99)],
    ['first at the end', 'bytes=100-', 100, NONE],
    ['first past the end', 'bytes=200-300', 100, NONE],
    ['zero suffix', 'bytes=-0', 100, NONE],
    ['all of several unsatisfiable', 'bytes=100-,-0', 100, NONE],
    ['several ranges: whole file', 'bytes=0-1,5-6', 100, FULL],
    ['one satisfiable among unsatisfiable', 'bytes=200-,0-1', 100, part(0, 1)],
    ['other unit', 'items=0-1', 100, FULL],
    ['no equals', 'bytes 0-1', 100, FULL],
    ['last before first', 'bytes=5-4', 100, FULL],
    ['sign', 'bytes=+1-2', 100, FULL],
    ['negative', 'bytes=-1-2', 100, FULL],
    ['letters', 'bytes=a-b', 100, FULL],
    ['no dash', 'bytes=5', 100, FULL],
    ['empty set', 'bytes=', 100, FULL],
    ['empty file ignores ranges', 'bytes=0-', 0, FULL],
    ['empty file ignores suffixes', 'bytes=-5', 0, FULL],
    ['too many digits', `bytes=${'9'.repeat(17)}-`, 100, FULL],
    ['over the cap', `bytes=0-1${','.repeat(MAX_RANGE_FIELD)}`, 100, FULL],
  ];
  for (const [label, field, size, want] of table) {
    it(`${label}: ${String(field).slice(0, 40)} of ${size}`, () => {
      assert.deepEqual(evaluateRange(field, size), want);
    });
  }

  it('a partial verdict always lies inside the representation', () => {
    fc.assert(
      fc.property(
        fc.nat(1 << 20),
        fc.option(fc.nat(1 << 21), { nil: undefined }),
        fc.option(fc.nat(1 << 21), { nil: undefined }),
        (size, a, b) => {
          const field = `bytes=${a ?? ''}-${b ?? ''}`;
          const v = evaluateRange(field, size);
          if (v.kind !== 'partial') return;
          assert.ok(v.range.start >= 0 && v.range.start <= v.range.end && v.range.end < size);
          if (a !== undefined) assert.equal(v.range.start, a);
          if (a === undefined && b !== undefined)
            assert.equal(v.range.end - v.range.start + 1, Math.min(b, size));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('writes Content-Range for 206 and 416', () => {
    assert.equal(contentRange({ start: 0, end: 99 }, 1000), 'bytes 0-99/1000');
    assert.equal(unsatisfiedRange(1000), 'bytes */1000');
  });
});
