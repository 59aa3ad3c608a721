/**
 * Benchmarks @ggem/tensor against other engines in one run and writes a JSON file and a
 * markdown table.
 *
 *   npm run bench                         # full run (about 30 minutes)
 *   npm run bench -- --quick              # smoke test: small sizes, few repetitions
 *   npm run bench -- --only ViT --reps 7  # the workloads whose name contains "ViT"
 *
 * Each engine runs in a child process of its own (see isolated.ts), which times its runs
 * and reports its peak resident set; `--in-process` runs them all in this process instead.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { availableKernels } from '@ggem/tensor';
import { enableRelaxedSimd } from '@ggem/tensor/node';
import { runWorkload, STEADY_UNDER_MS, STEADY_WARM_MS, type Row, type Workload } from './harness.js';
import { isolated, serve } from './isolated.js';
import { render } from './report.js';
import { gemWorkload } from './workloads/gem.js';
import { matmulWorkload } from './workloads/matmul.js';
import { rowwiseWorkload } from './workloads/rowwise.js';
import { vitForwardWorkload, vitStepWorkload } from './workloads/vit.js';

enableRelaxedSimd(); // Node 20: the kernels' FMA, as on Node 22 and in browsers

const positive =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'`);
    return n;
  };

const o = new Command()
  .name('ggem-bench')
  .description('@ggem/tensor side by side with tfjs-wasm, jax-js, js-pytorch, PyTorch and onnxruntime')
  .option('--quick', 'small sizes and few repetitions (a smoke test)')
  .option('--reps <n>', 'timed repetitions per engine (default 15, quick 3)', positive('--reps'))
  .option('--only <text>', 'only the workloads whose name contains this')
  .option('--in-process', "every engine in this process (peak memory only from PyTorch's peer); by default each runs in a child process of its own")
  .option('--out <dir>', 'where latest.json and latest.md go', fileURLToPath(new URL('../../../docs/bench', import.meta.url)))
  .option('--serve <workload::engine>', '(internal) the child process that runs one engine of one workload')
  .parse()
  .opts<{ quick?: boolean; reps?: number; only?: string; inProcess?: boolean; out: string; serve?: string }>();

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

if (o.serve !== undefined) {
  // a child: one engine of one workload, run on the parent's requests
  const at = o.serve.indexOf('::');
  const [name, engine] = [o.serve.slice(0, at), o.serve.slice(at + 2)];
  const make = catalogue.find(([n]) => n === name)?.[1];
  if (make === undefined) throw new Error(`bench --serve: no workload '${name}'`);
  serve(make(), engine);
} else {
  const reps = o.reps ?? (quick ? 3 : 15);
  const selected = catalogue.filter(([n]) => o.only === undefined || n.includes(o.only));
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}, node ${process.version}`;
  const where = o.inProcess
    ? 'every engine in one process'
    : `each engine in its own process (a run under ${STEADY_UNDER_MS / 1000} s timed after ${STEADY_WARM_MS} ms of untimed ones)`;
  console.log(`bench: ${selected.length} workloads, ${reps} repetitions after warm-up, ${where}, ${machine}`);
  const rows: Row[] = [];
  const script = fileURLToPath(import.meta.url);
  for (const [key, make] of selected) {
    const w = make();
    // engines that already run in a process of their own (PyTorch) report their memory themselves
    if (!o.inProcess)
      w.impls = w.impls.map((i) => (i.peakMB ? i : isolated(i.engine, script, [...(quick ? ['--quick'] : []), '--serve', `${key}::${i.engine}`], i.threads)));
    rows.push(...(await runWorkload(w, { warmup: quick ? 1 : 3, reps }, console.log)));
    save(rows, machine, reps, where);
  }
  console.log(`\n${render(rows)}`);
}

function save(rows: Row[], machine: string, reps: number, where: string): void {
  mkdirSync(o.out, { recursive: true });
  writeFileSync(`${o.out}/latest.json`, JSON.stringify({ date: new Date().toISOString(), machine, reps, where, rows }, null, 2));
  const memory = o.inProcess ? '' : `; peak RSS of the process that ran the engine's workload (setup, check, warm-up and timed runs)`;
  writeFileSync(
    `${o.out}/latest.md`,
    `Machine: ${machine}; ${reps} timed repetitions after warm-up, engines alternated, ${where}${memory}.\n\n${render(rows)}\n`,
  );
}
