import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWorkload, stats, steady, STEADY_UNDER_MS, STEADY_WARM_MS, type Workload } from './harness.js';

describe('bench harness', () => {
  it('reports median, min and max', () => {
    assert.deepEqual(stats([5, 1, 3]), { median: 3, min: 1, max: 5, runs: 3 });
    assert.equal(stats([4, 1, 3, 2]).median, 2.5);
  });
  it('times engines whose result matches ours, and reports the others with the reason', async () => {
    let calls = 0;
    const w: Workload = {
      name: 'toy',
      flop: 1e6,
      tolerance: 1e-6,
      impls: [
        {
          engine: 'ours',
          setup: () => async () => {
            calls++;
            return [1, 2, 3];
          },
        },
        { engine: 'close peer', setup: () => async () => [1, 2, 3 + 1e-9] },
        { engine: 'wrong peer', setup: () => async () => [1, 2, 4] },
        {
          engine: 'missing op',
          setup: () => {
            throw new Error('no gem kernel\nstack');
          },
        },
      ],
    };
    const rows = await runWorkload(w, { warmup: 1, reps: 3 }, () => {});
    assert.equal(calls, 1 + 1 + 3, 'check run, warm-up, repetitions');
    assert.equal(rows.find((r) => r.engine === 'close peer')?.stats?.runs, 3);
    assert.match(rows.find((r) => r.engine === 'wrong peer')!.note!, /result differs from ours by 3\.33e-1 \(tolerance 0\.000001\)/);
    assert.equal(rows.find((r) => r.engine === 'wrong peer')!.stats, undefined);
    assert.equal(rows.find((r) => r.engine === 'missing op')!.note, 'failed: no gem kernel');
    assert.ok(rows[0]!.gflops! > 0);
  });
  it('stops repeating an engine once its time budget is spent, after one timed run', async () => {
    let slow = 0;
    const w: Workload = {
      name: 'budget',
      flop: 0,
      tolerance: 1e-6,
      budgetMs: 30,
      impls: [
        { engine: 'ours', setup: () => async () => [1] },
        {
          engine: 'slow peer',
          setup: () => async () => {
            slow++;
            await new Promise((r) => setTimeout(r, 40));
            return [1];
          },
        },
      ],
    };
    const rows = await runWorkload(w, { warmup: 2, reps: 5 }, () => {});
    assert.equal(rows[0]!.stats!.runs, 5);
    assert.equal(rows[1]!.stats!.runs, 1, 'one timed run, then the budget is spent');
    assert.equal(slow, 1 + 1 + 1, 'check run, one warm-up (slow engines skip the rest), one timed run');
  });
});

describe('steady (engines in their own process)', () => {
  it('runs the check alone, then times short runs after STEADY_WARM_MS of untimed ones and long runs alone', async () => {
    let calls = 0;
    let ms = 10;
    const run = steady(async () => ({ result: [++calls], ms }));
    assert.deepEqual((await run()).result, [1], "the first run (the check) is the engine's first");
    const t0 = performance.now();
    await run();
    assert.ok(performance.now() - t0 >= STEADY_WARM_MS && calls > 2, `untimed runs for ${STEADY_WARM_MS} ms before a short one (${calls} calls)`);
    ms = STEADY_UNDER_MS;
    await run(); // the last run was short: warm again, learn that runs are long now
    const before = calls;
    await run();
    assert.equal(calls, before + 1, 'a long run is timed alone');
  });
});
