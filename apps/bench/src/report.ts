import type { Row } from './harness.js';

/** The markdown table of the rows so far (written after every workload, so a crash loses nothing). */
export function render(rows: Row[]): string {
  return [
    `| workload | engine | median ms | min | max | GFLOP/s | peak RSS MB | vs fastest ggem |`,
    `|---|---|---:|---:|---:|---:|---:|---:|`,
    ...rows.map((r) => {
      const ours = Math.min(...rows.filter((x) => x.workload === r.workload && isOurs(x.engine) && x.stats).map((x) => x.stats!.median));
      const ratio = r.stats && Number.isFinite(ours) ? `${(r.stats.median / ours).toFixed(2)}×` : '';
      return r.stats
        ? `| ${r.workload} | ${r.engine} | ${r.stats.median.toFixed(2)} | ${r.stats.min.toFixed(2)} | ${r.stats.max.toFixed(2)} | ${r.gflops?.toFixed(1) ?? ''} | ${r.peakMB?.toFixed(0) ?? ''} | ${ratio} |`
        : `| ${r.workload} | ${r.engine} | — | | | | | ${r.note} |`;
    }),
  ].join('\n');
}

/** Our CPU engine's rows ('ggem', 'ggem, 2 threads', 'ggem (fused, 1 core)', ...), not the gpu.js backend's. */
export function isOurs(engine: string): boolean {
  return engine.startsWith('ggem') && !engine.startsWith('ggem on gpu.js');
}
