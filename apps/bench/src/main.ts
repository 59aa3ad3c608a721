/**
 * Benchmarks @ggem/tensor against other engines in one run and writes a JSON file and a
 * markdown table.
 *
 *   npm run bench                         # full run (about 30 minutes)
 *   npm run bench -- --quick              # smoke test: small sizes, few repetitions
 *   npm run bench -- --only ViT --reps 7  # the workloads whose name contains "ViT"
 *
 * Peak memory: each engine's workload runs again alone in a child process (setup, the check
 * run, two runs), which reports its peak resident set; PyTorch reports its own process's.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { availableKernels } from '@ggem/tensor';
import { runAlone, runWorkload, type Row, type Workload } from './harness.js';
import { gemWorkload } from './workloads/gem.js';
import { matmulWorkload } from './workloads/matmul.js';
import { rowwiseWorkload } from './workloads/rowwise.js';
import { vitForwardWorkload, vitStepWorkload } from './workloads/vit.js';

const positive = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'`);
  return n;
};

const o = new Command()
  .name('ggem-bench')
  .description('@ggem/tensor side by side with tfjs-wasm, jax-js, js-pytorch and PyTorch')
  .option('--quick', 'small sizes and few repetitions (a smoke test)')
  .option('--reps <n>', 'timed repetitions per engine (default 15, quick 3)', positive('--reps'))
  .option('--only <text>', 'only the workloads whose name contains this')
  .option('--no-memory', 'skip the peak-memory probes')
  .option('--out <dir>', 'where latest.json and latest.md go', fileURLToPath(new URL('../../../docs/bench', import.meta.url)))
  .option('--probe <workload::engine>', '(internal) run one engine of one workload alone and print its peak memory')
  .parse()
  .opts<{ quick?: boolean; reps?: number; only?: string; memory: boolean; out: string; probe?: string }>();

const quick = o.quick ?? false;
const kernels = availableKernels();
/** Workloads by name, built only when selected (the ViT-S ones build a 22M-parameter model). */
const catalogue: [string, () => Workload][] = quick
  ? [
      ['matmul 64³', () => matmulWorkload(64, kernels)],
      ['softmax', () => rowwiseWorkload('softmax', [64, 16])],
      ['layernorm', () => rowwiseWorkload('layernorm', [64, 16])],
      ['ggem', () => gemWorkload(4, [4, 17, 32])],
      ['small-ViT training step', () => vitStepWorkload(4)],
      ['ViT forward', () => vitForwardWorkload(2, 'vit_mnist_tiny')],
    ]
  : [
      ['matmul 256³', () => matmulWorkload(256, kernels)],
      ['matmul 512³', () => matmulWorkload(512, kernels)],
      ['softmax', () => rowwiseWorkload('softmax')],
      ['layernorm', () => rowwiseWorkload('layernorm')],
      ['gem', () => gemWorkload(1)],
      ['ggem', () => gemWorkload(12)],
      ['small-ViT training step', () => vitStepWorkload(64)],
      ['ViT-S/16 forward, batch 1', () => vitForwardWorkload(1)],
      ['ViT-S/16 forward, batch 32', () => vitForwardWorkload(32)],
    ];

if (o.probe !== undefined) {
  // a child: one engine of one workload, alone
  const [name, engine] = o.probe.split('::') as [string, string];
  const make = catalogue.find(([n]) => n === name)?.[1];
  if (make === undefined) throw new Error(`bench --probe: no workload '${name}'`);
  console.log(JSON.stringify(await runAlone(make(), engine, 2)));
  process.exit(0);
}

const reps = o.reps ?? (quick ? 3 : 15);
const selected = catalogue.filter(([n]) => o.only === undefined || n.includes(o.only));
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}, node ${process.version}`;
console.log(`bench: ${selected.length} workloads, ${reps} repetitions after warm-up, ${machine}`);
const rows: (Row & { peakMB?: number })[] = [];
for (const [key, make] of selected) {
  const w = make();
  const got: (Row & { peakMB?: number })[] = await runWorkload(w, { warmup: quick ? 1 : 3, reps }, console.log);
  if (o.memory) {
    for (const r of got.filter((r) => r.stats !== undefined)) {
      const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...(quick ? ['--quick'] : []), '--probe', `${key}::${r.engine}`], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      try {
        r.peakMB = (JSON.parse(line) as { peakMB: number }).peakMB;
      } catch {
        console.log(`  ${w.name} ${r.engine}: the memory probe failed: ${child.stderr.trim().split('\n').pop()}`);
      }
    }
  }
  rows.push(...got);
  save();
}
console.log('\n' + render());

/** The markdown table of the rows so far (written after every workload, so a crash loses nothing). */
function render(): string {
  return [
    `| workload | engine | median ms | min | max | GFLOP/s | peak RSS MB | vs fastest ggem |`,
    `|---|---|---:|---:|---:|---:|---:|---:|`,
    ...rows.map((r) => {
      const ours = Math.min(...rows.filter((x) => x.workload === r.workload && isOurs(x.engine) && x.stats).map((x) => x.stats!.median));
      const ratio = r.stats && Number.isFinite(ours) ? (r.stats.median / ours).toFixed(2) + '×' : '';
      return r.stats
        ? `| ${r.workload} | ${r.engine} | ${r.stats.median.toFixed(2)} | ${r.stats.min.toFixed(2)} | ${r.stats.max.toFixed(2)} | ${r.gflops?.toFixed(1) ?? ''} | ${r.peakMB?.toFixed(0) ?? ''} | ${ratio} |`
        : `| ${r.workload} | ${r.engine} | — | | | | | ${r.note} |`;
    }),
  ].join('\n');
}

/** Our CPU engine's rows: 'ggem' (one thread) and 'ggem, N threads' (data-parallel), not gpu.js. */
function isOurs(engine: string): boolean {
  return engine === 'ggem' || engine.startsWith('ggem,');
}

function save(): void {
  mkdirSync(o.out, { recursive: true });
  writeFileSync(`${o.out}/latest.json`, JSON.stringify({ date: new Date().toISOString(), machine, reps, rows }, null, 2));
  writeFileSync(`${o.out}/latest.md`, `Machine: ${machine}; ${reps} timed repetitions after warm-up, engines alternated; peak RSS of a process running only that engine's workload (setup, check run, 2 runs).\n\n${render()}\n`);
}
