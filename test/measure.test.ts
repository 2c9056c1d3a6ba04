/** The benchmark's one ratio routine: ratios pair samples of the same round, failed rounds drop out. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { figure, pairedRatio } from '../bench/measure.js';

describe('bench measure', () => {
  const a = { rounds: [{ x: 2 }, undefined, { x: 6 }, { x: 9 }] };
  const b = { rounds: [{ x: 1 }, { x: 5 }, { x: 2 }, undefined] };

  it('pairedRatio divides round by round, over the rounds both have', () => {
    assert.deepEqual(pairedRatio(a, b, (s) => s.x).samples, [2, 3]);
    assert.equal(pairedRatio(a, b, (s) => s.x).median, 2.5);
  });

  it('figure summarises the rounds that have a sample', () => {
    const f = figure(a, (s) => s.x);
    assert.deepEqual([f.median, f.min, f.max], [6, 2, 9]);
  });
});
