/**
 * Timing harness: every engine runs a workload after a warm-up, engines alternate within
 * each repetition so that machine drift hits all alike, and each figure is the median
 * (with min and max) of the repetitions. An engine's time only counts once its result
 * matched ours within the workload's tolerance.
 */

export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/** One engine's implementation of a workload: `setup` builds inputs once, `run` is timed. */
export interface Impl {
  engine: string;
  /** Prepares inputs; returns the function to time, which returns a result to check. */
  setup(): Promise<() => Promise<Float32Array | Float64Array | number[]>> | (() => Promise<Float32Array | Float64Array | number[]>);
  teardown?(): void | Promise<void>;
  /** Peak memory of an engine that runs in another process (MB); in-process engines use this process's. */
  peakMB?(): Promise<number>;
}

export interface Workload {
  name: string;
  /** Floating-point operations of one run, for GFLOP/s (0 when not meaningful). */
  flop: number;
  /** Maximum relative difference (to max |ours|) for a peer's result to count. */
  tolerance: number;
  /**
   * Time an engine may spend in timed runs: once past it, the engine stops repeating (at
   * least one timed run), so that a slow peer does not hold up the whole benchmark.
   */
  budgetMs?: number;
  impls: Impl[];
}

export interface Row {
  workload: string;
  engine: string;
  stats?: Stats;
  gflops?: number;
  note?: string;
}

/** The first n entries of a result (a cheap summary: never a copy of the whole array). */
export function head(a: ArrayLike<number>, n = 256): number[] {
  return Array.from({ length: Math.min(n, a.length) }, (_, i) => a[i]!);
}

export function stats(times: number[]): Stats {
  const s = [...times].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, runs: s.length };
}

function maxRelDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) return Infinity;
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - ref[i]!));
  }
  return diff / (scale || 1);
}

export async function runWorkload(w: Workload, opts: { warmup: number; reps: number }, log: (s: string) => void): Promise<Row[]> {
  const runs: { impl: Impl; fn?: () => Promise<ArrayLike<number>>; times: number[]; warm?: number; note?: string }[] = [];
  let reference: ArrayLike<number> | undefined;
  for (const impl of w.impls) {
    try {
      const fn = await impl.setup();
      const result = await fn();
      if (reference === undefined) reference = result;
      const d = maxRelDiff(result, reference);
      if (!(d <= w.tolerance)) runs.push({ impl, times: [], note: `result differs from ours by ${d.toExponential(2)} (tolerance ${w.tolerance})` });
      else runs.push({ impl, fn, times: [] });
    } catch (e) {
      runs.push({ impl, times: [], note: `failed: ${(e as Error).message.split('\n')[0]}` });
    }
  }
  const budget = w.budgetMs ?? Infinity;
  for (let r = 0; r < opts.warmup + opts.reps; r++) {
    for (const run of runs) {
      if (run.fn === undefined) continue;
      const spent = run.times.reduce((a, b) => a + b, 0);
      if (run.times.length > 0 && spent > budget) continue;
      if (r >= 1 && r < opts.warmup && spent === 0 && run.warm !== undefined && run.warm > budget / 4) continue; // one warm-up is enough for a slow engine
      const t0 = performance.now();
      await run.fn();
      const dt = performance.now() - t0;
      if (r >= opts.warmup) run.times.push(dt);
      else run.warm = dt;
    }
  }
  for (const run of runs) await run.impl.teardown?.();
  return runs.map((run) => {
    if (run.times.length === 0) {
      log(`  ${w.name} ${run.impl.engine}: ${run.note}`);
      return { workload: w.name, engine: run.impl.engine, note: run.note ?? 'not run' };
    }
    const s = stats(run.times);
    const gflops = w.flop > 0 ? w.flop / (s.median * 1e6) : undefined;
    log(`  ${w.name} ${run.impl.engine}: median ${s.median.toFixed(2)} ms (min ${s.min.toFixed(2)}, max ${s.max.toFixed(2)})${gflops ? `, ${gflops.toFixed(1)} GFLOP/s` : ''}`);
    return { workload: w.name, engine: run.impl.engine, stats: s, ...(gflops !== undefined ? { gflops } : {}) };
  });
}

/**
 * Runs one engine of a workload alone (setup, the check run, then `runs` runs) and returns
 * the peak resident set of the process that ran it, in MB. Meant for a fresh child process,
 * so that the figure is that engine's alone.
 */
export async function runAlone(w: Workload, engine: string, runs: number): Promise<{ engine: string; peakMB: number }> {
  const impl = w.impls.find((i) => i.engine === engine);
  if (impl === undefined) throw new Error(`runAlone: ${w.name} has no engine '${engine}'`);
  const fn = await impl.setup();
  for (let r = 0; r <= runs; r++) await fn();
  const peakMB = impl.peakMB !== undefined ? await impl.peakMB() : process.resourceUsage().maxRSS / 1024;
  await impl.teardown?.();
  return { engine, peakMB };
}
