import { strict as assert } from 'node:assert';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { SCAVENGE_EVERY, received } from '../src/scavenge.js';

const MiB = 1024 * 1024;

/**
 * 8 MiB of dead 16 KiB records, each in an ArrayBuffer of its own as node's TLS reads are:
 * well below what makes V8 collect on its own.
 */
function deadRecords(): void {
  for (let i = 0; i < 512; i++) Buffer.allocUnsafeSlow(16 * 1024).fill(i);
}

const arrayBuffers = (): number => process.memoryUsage().arrayBuffers;

describe('scavenge after SCAVENGE_EVERY received bytes', () => {
  it('frees dead young buffers once the count is reached, not before', async () => {
    received(SCAVENGE_EVERY); // settles the count wherever earlier use left it
    await tick();
    const base = arrayBuffers();
    deadRecords();
    received(SCAVENGE_EVERY - 1);
    const held = arrayBuffers() - base;
    assert.ok(held >= 7 * MiB, `dead records still counted below the count (${held} bytes)`);
    received(1);
    // The young generation's ArrayBuffers are swept on a background thread: a few turns.
    for (let i = 0; i < 5 && arrayBuffers() - base > 2 * MiB; i++) await tick();
    const left = arrayBuffers() - base;
    assert.ok(left <= 2 * MiB, `the scavenge freed them (${left} bytes left)`);
  });
});
