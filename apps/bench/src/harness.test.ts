import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWorkload, stats, type Workload } from './harness.js';

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
        { engine: 'ours', setup: () => async () => (calls++, [1, 2, 3]) },
        { engine: 'close peer', setup: () => async () => [1, 2, 3 + 1e-9] },
        { engine: 'wrong peer', setup: () => async () => [1, 2, 4] },
        { engine: 'missing op', setup: () => { throw new Error('no gem kernel\nstack'); } },
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
        { engine: 'slow peer', setup: () => async () => { slow++; await new Promise((r) => setTimeout(r, 40)); return [1]; } },
      ],
    };
    const rows = await runWorkload(w, { warmup: 2, reps: 5 }, () => {});
    assert.equal(rows[0]!.stats!.runs, 5);
    assert.equal(rows[1]!.stats!.runs, 1, 'one timed run, then the budget is spent');
    assert.equal(slow, 1 + 1 + 1, 'check run, one warm-up (slow engines skip the rest), one timed run');
  });
});
