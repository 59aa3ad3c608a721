/**
 * Training memory: the peak resident set of `--steps` training steps of the small ViT
 * (batch 64, AdamW), against its value after the first 100. Steps yield to the event loop
 * as a training loop with a progress bar does.
 *
 *   npm run bench:memory                 # 1000 steps, about 4 minutes
 *   npm run bench:memory -- --steps 300
 *   npm run bench:memory -- --scoped     # each step in a scope(), as the training CLI runs it
 */
import { Command, InvalidArgumentError } from 'commander';
import { crossEntropy, Generator, optim, randn, scope, tensor } from '@ggem/tensor';
import { enableRelaxedSimd } from '@ggem/tensor/node';
import { createVit } from '@ggem/vit';

enableRelaxedSimd();

const o = new Command()
  .name('ggem-bench-memory')
  .option(
    '--steps <n>',
    'training steps',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 100) throw new InvalidArgumentError(`--steps must be an integer >= 100, got '${v}'`);
      return n;
    },
    1000,
  )
  .option('--scoped', 'run each step in a scope() (its arrays reused at once), as `npm run train` does')
  .parse()
  .opts<{ steps: number; scoped?: boolean }>();

const model = createVit('vit_mnist_small', 'ggem');
const opt = new optim.AdamW(optim.splitWeightDecay(model.namedParameters(), 0.05), { lr: 1e-3, weightDecay: 0.05 });
const g = new Generator(0);
const batches = Array.from({ length: 8 }, () => ({
  x: randn([64, 1, 28, 28], { generator: g }),
  y: tensor(Int32Array.from({ length: 64 }, () => Math.floor(g.uniform() * 10))),
}));
const rssMB = () => process.memoryUsage().rss / 2 ** 20;
let peak = 0;
let at100 = 0;
const t0 = performance.now();
for (let step = 1; step <= o.steps; step++) {
  const b = batches[step % batches.length]!;
  const run = () => {
    opt.zeroGrad();
    const loss = crossEntropy(model.forward(b.x), b.y);
    loss.backward();
    opt.step();
    return loss.item();
  };
  const loss = o.scoped ? scope(run) : run();
  await new Promise((r) => setImmediate(r));
  peak = Math.max(peak, rssMB());
  if (step === 100) at100 = peak;
  if (step % 100 === 0)
    console.log(
      `step ${step}: loss ${loss.toFixed(4)}, RSS ${rssMB().toFixed(0)} MB, peak ${peak.toFixed(0)} MB, ${((performance.now() - t0) / step).toFixed(0)} ms/step`,
    );
}
const growth = peak / at100 - 1;
console.log(
  `peak RSS after 100 steps ${at100.toFixed(0)} MB, after ${o.steps} ${peak.toFixed(0)} MB: ${(100 * growth).toFixed(1)} % (bar: within 10 %) ${growth <= 0.1 ? 'PASS' : 'FAIL'}`,
);
process.exitCode = growth <= 0.1 ? 0 : 1;
