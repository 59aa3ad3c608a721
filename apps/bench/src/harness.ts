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

/** What a run returns for the cross-check. */
export type Result = Float32Array | Float64Array | number[];
/** A run timed where it ran (another process): the time leaves out the messaging. */
export interface Timed {
  result: Result;
  ms: number;
}
export type Run = () => Promise<Result | Timed>;

/** One engine's implementation of a workload: `setup` builds inputs once, `run` is timed. */
export interface Impl {
  engine: string;
  /** Prepares inputs; returns the function to time, which returns a result to check. */
  setup(): Promise<Run> | Run;
  teardown?(): void | Promise<void>;
  /**
   * The peak resident set (MB) of the process that ran the engine, when the engine runs in
   * a process of its own (engines in this process share its figure, so they report none).
   */
  peakMB?(): Promise<number>;
  /** The cores the engine computes on (for its share of the WebAssembly limit of those cores). */
  threads?: number;
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
  peakMB?: number;
  threads?: number;
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

/** Whether a run reported its own time (see Timed). */
export const isTimed = (out: Result | Timed): out is Timed => !Array.isArray(out) && !ArrayBuffer.isView(out);

/** Runs shorter than this are timed after `STEADY_WARM_MS` of untimed ones (see `steady`). */
export const STEADY_UNDER_MS = 1000;
export const STEADY_WARM_MS = 500;

/**
 * For an engine in a process of its own, which sits idle while the others run: a short
 * run is timed after at least STEADY_WARM_MS of untimed runs in the same process, so that
 * no engine is timed waking from idle. On this VM a process idle for tens of milliseconds
 * runs slowly for a while after it wakes (a 512³ product on two threads, 30 ms idle
 * between runs: 5.6-8.0 ms after one untimed run, 4.3-4.5 ms after 100 ms of them; the
 * small-ViT step on two threads, 5 s idle: 134-153 ms after 100 ms, 110-139 after 500-600
 * ms, medians of 6 runs); long runs keep a single run. The first run, the harness's check
 * of the result, runs alone: a training step changes the weights, so every engine's check
 * must be its first step.
 */
export function steady(run: () => Promise<Timed>): () => Promise<Timed> {
  let last: number | undefined;
  return async () => {
    const t0 = performance.now();
    if (last !== undefined && last < STEADY_UNDER_MS)
      do await run();
      while (performance.now() - t0 < STEADY_WARM_MS);
    const out = await run();
    last = out.ms;
    return out;
  };
}

export async function runWorkload(w: Workload, opts: { warmup: number; reps: number }, log: (s: string) => void): Promise<Row[]> {
  const runs: { impl: Impl; fn?: Run; times: number[]; warm?: number; note?: string; peakMB?: number }[] = [];
  let reference: ArrayLike<number> | undefined;
  for (const impl of w.impls) {
    try {
      const fn = await impl.setup();
      const out = await fn();
      const result = isTimed(out) ? out.result : out;
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
      const out = await run.fn();
      const dt = isTimed(out) ? out.ms : performance.now() - t0;
      if (r >= opts.warmup) run.times.push(dt);
      else run.warm = dt;
    }
  }
  for (const run of runs) {
    if (run.times.length > 0) run.peakMB = await run.impl.peakMB?.().catch(() => undefined);
    await run.impl.teardown?.();
  }
  return runs.map((run) => {
    if (run.times.length === 0) {
      log(`  ${w.name} ${run.impl.engine}: ${run.note}`);
      return { workload: w.name, engine: run.impl.engine, note: run.note ?? 'not run' };
    }
    const s = stats(run.times);
    const gflops = w.flop > 0 ? w.flop / (s.median * 1e6) : undefined;
    const mem = run.peakMB !== undefined ? `, peak RSS ${run.peakMB.toFixed(0)} MB` : '';
    log(
      `  ${w.name} ${run.impl.engine}: median ${s.median.toFixed(2)} ms (min ${s.min.toFixed(2)}, max ${s.max.toFixed(2)})${gflops ? `, ${gflops.toFixed(1)} GFLOP/s` : ''}${mem}`,
    );
    return {
      workload: w.name,
      engine: run.impl.engine,
      stats: s,
      ...(gflops !== undefined ? { gflops } : {}),
      ...(run.impl.threads !== undefined ? { threads: run.impl.threads } : {}),
      ...(run.peakMB !== undefined ? { peakMB: run.peakMB } : {}),
    };
  });
}
