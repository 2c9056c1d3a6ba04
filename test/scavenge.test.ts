import { strict as assert } from 'node:assert';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { SCAVENGE_EVERY, received } from '../src/scavenge.js';

/** Scavenges asked for by code (V8's "forced" flag), as the perf_hooks 'gc' entries report them. */
function forcedScavenges(): { count: () => number; stop: () => void } {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const d = (e as unknown as { detail: { kind: number; flags: number } }).detail;
      if (
        d.kind === constants.NODE_PERFORMANCE_GC_MINOR &&
        (d.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0
      ) {
        n++;
      }
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return {
    count: () => n,
    stop: () => {
      obs.disconnect();
    },
  };
}

describe('scavenge after SCAVENGE_EVERY received bytes', () => {
  it('asks for one scavenge when the count is reached, none before', async () => {
    received(SCAVENGE_EVERY); // settles the count wherever earlier use left it
    await sleep(50);
    const gcs = forcedScavenges();
    try {
      received(SCAVENGE_EVERY - 1);
      await sleep(100);
      assert.equal(gcs.count(), 0, 'none below the count');
      received(1);
      for (let i = 0; i < 200 && gcs.count() === 0; i++) await sleep(10);
      assert.equal(gcs.count(), 1, 'one at the count');
      received(SCAVENGE_EVERY / 2);
      received(SCAVENGE_EVERY / 2);
      for (let i = 0; i < 200 && gcs.count() === 1; i++) await sleep(10);
      assert.equal(gcs.count(), 2, 'one more after as many bytes again');
    } finally {
      gcs.stop();
    }
  });
});
