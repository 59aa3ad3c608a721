/**
 * Benchmarks @ggem/tensor against other engines in one run and writes a JSON file and a
 * markdown table.
 *
 *   npm run bench -w @ggem/bench                # full run
 *   npm run bench -w @ggem/bench -- --quick     # smoke test: small sizes, few repetitions
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { availableKernels } from '@ggem/tensor';
import { runWorkload, type Row, type Workload } from './harness.js';
import { gemWorkload } from './workloads/gem.js';
import { matmulWorkload } from './workloads/matmul.js';
import { rowwiseWorkload } from './workloads/rowwise.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string', default: 'results' },
  },
});

const quick = values.quick ?? false;
const reps = values.reps !== undefined ? Number(values.reps) : quick ? 3 : 15;
if (!Number.isInteger(reps) || reps < 1) throw new Error(`bench: --reps must be a positive integer, got ${values.reps}`);

const kernels = availableKernels();
const workloads: Workload[] = quick
  ? [matmulWorkload(64, kernels), gemWorkload(4, [4, 17, 32]), rowwiseWorkload('softmax', [64, 16]), rowwiseWorkload('layernorm', [64, 16])]
  : [matmulWorkload(256, kernels), matmulWorkload(512, kernels), rowwiseWorkload('softmax'), rowwiseWorkload('layernorm'), gemWorkload(1), gemWorkload(12)];
const selected = values.only ? workloads.filter((w) => w.name.includes(values.only!)) : workloads;

const rows: Row[] = [];
console.log(`bench: ${selected.length} workloads, ${reps} repetitions after warm-up, node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'}`);
for (const w of selected) rows.push(...(await runWorkload(w, { warmup: quick ? 1 : 3, reps }, console.log)));

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}, node ${process.version}`;
const table = [
  `| workload | engine | median ms | min | max | GFLOP/s | vs ggem |`,
  `|---|---|---:|---:|---:|---:|---:|`,
  ...rows.map((r) => {
    const ours = rows.find((o) => o.workload === r.workload && o.stats !== undefined);
    const ratio = r.stats && ours?.stats ? (r.stats.median / ours.stats.median).toFixed(2) + '×' : '';
    return r.stats
      ? `| ${r.workload} | ${r.engine} | ${r.stats.median.toFixed(2)} | ${r.stats.min.toFixed(2)} | ${r.stats.max.toFixed(2)} | ${r.gflops?.toFixed(1) ?? ''} | ${ratio} |`
      : `| ${r.workload} | ${r.engine} | — | | | | ${r.note} |`;
  }),
].join('\n');
console.log('\n' + table);
mkdirSync(values.out!, { recursive: true });
writeFileSync(`${values.out}/latest.json`, JSON.stringify({ date: new Date().toISOString(), machine, reps, rows }, null, 2));
writeFileSync(`${values.out}/latest.md`, `Machine: ${machine}\n\n${table}\n`);
