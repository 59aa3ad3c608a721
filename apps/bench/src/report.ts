import type { Row } from './harness.js';

/**
 * One core's WebAssembly SIMD limit when the run has no measure of its own: a 512³ matmul's
 * GFLOP/s on one core of the 2-core machine (shared/FACTS.md, 45–48).
 */
export const WASM_GFLOPS_PER_CORE = 47;
/** The row that measures the limit in the same run: the GEMM kernel at its ceiling. */
const LIMIT_ROW = { workload: 'matmul 512³ f32', engine: 'ggem (wasm-relaxed-simd, 1 core)' };

/** One core's WebAssembly limit: measured in this run when it has the 512³ matmul, else the constant. */
export function wasmLimit(rows: Row[]): { perCore: number; measured: boolean } {
  const r = rows.find((x) => x.workload === LIMIT_ROW.workload && x.engine === LIMIT_ROW.engine && x.gflops !== undefined);
  return r ? { perCore: r.gflops!, measured: true } : { perCore: WASM_GFLOPS_PER_CORE, measured: false };
}

/**
 * The markdown table of the rows so far (written after every workload, so a crash loses
 * nothing), with each row's ratio to our fastest CPU row of its workload and, where the
 * engine says how many cores it used, its GFLOP/s as a share of those cores' WebAssembly limit.
 */
export function render(rows: Row[]): string {
  const limit = wasmLimit(rows);
  return [
    `| workload | engine | median ms | min | max | GFLOP/s | of the Wasm limit | peak RSS MB | vs fastest ggem |`,
    `|---|---|---:|---:|---:|---:|---:|---:|---:|`,
    ...rows.map((r) => {
      const ours = Math.min(...rows.filter((x) => x.workload === r.workload && isOurs(x.engine) && x.stats).map((x) => x.stats!.median));
      const ratio = r.stats && Number.isFinite(ours) ? `${(r.stats.median / ours).toFixed(2)}×` : '';
      const share = r.gflops !== undefined && r.threads !== undefined ? `${((100 * r.gflops) / (limit.perCore * r.threads)).toFixed(0)} % of ${r.threads}` : '';
      return r.stats
        ? `| ${r.workload} | ${r.engine} | ${r.stats.median.toFixed(2)} | ${r.stats.min.toFixed(2)} | ${r.stats.max.toFixed(2)} | ${r.gflops?.toFixed(1) ?? ''} | ${share} | ${r.peakMB?.toFixed(0) ?? ''} | ${ratio} |`
        : `| ${r.workload} | ${r.engine} | — | | | | | | ${r.note} |`;
    }),
    '',
    `The Wasm limit: ${limit.perCore.toFixed(1)} GFLOP/s a core, ${limit.measured ? `measured in this run (${LIMIT_ROW.workload}, ${LIMIT_ROW.engine})` : 'the 512³ matmul on one core (shared/FACTS.md; this run has no measure of its own)'}; "N % of T": the row's GFLOP/s against T cores' limit.`,
  ].join('\n');
}

/** Our CPU engine's rows ('ggem', 'ggem, 2 threads', 'ggem (fused, 1 core)', ...), not the gpu.js backend's. */
export function isOurs(engine: string): boolean {
  return engine.startsWith('ggem') && !engine.startsWith('ggem on gpu.js');
}
