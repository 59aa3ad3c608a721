import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad } from '@ggem/tensor';
import type { PoolingName } from '@ggem/pooling';
import { headMeanDistance, headSimilarity } from '@ggem/vit';
import { makeDirs } from './checkpoint.js';
import { makeBatch } from './data/batches.js';
import { loadData, limitSplit } from './data/dataset.js';
import { trainsP, type TrainOptions } from './options.js';
import { lineChart, renderSvg, smooth, type CurvePoint } from './plots.js';
import { train, type TrainResult } from './train.js';

export interface CompareOptions {
  base: TrainOptions;
  poolings: PoolingName[];
  seeds: number[];
  /** Also run the retrieval protocol for every pooling and seed. */
  retrieval: boolean;
  /** Test images used for the head analysis. */
  analysisImages: number;
  /** The command line, quoted in the report. */
  command: string;
}

interface Run {
  pooling: PoolingName;
  seed: number;
  classify: TrainResult;
  retrieval?: TrainResult;
  analysis?: { cka: number; distance: number[] };
}

const fmt = (xs: number[], scale = 100) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return xs.length > 1 ? `${(scale * m).toFixed(2)} ± ${(scale * sd).toFixed(2)}` : (scale * m).toFixed(2);
};

/**
 * Trains every pooling with every seed under one budget and writes `report.md` (the
 * paper's Table 1 and Table 5 in miniature, mean ± sample std over seeds), SVG plots of the
 * learning curves and of every p during training, the inter-head CKA and head mean
 * distance of the trained models, and `compare.json` with every figure.
 */
export async function compare(o: CompareOptions, log: (s: string) => void = console.log): Promise<string> {
  const out = o.base.out;
  makeDirs(out, 'compare: --out');
  const runs: Run[] = [];
  const data = loadData(o.base.data);
  const analysisSplit = limitSplit(data.test, o.analysisImages);
  for (const seed of o.seeds) {
    for (const pooling of o.poolings) {
      log(`== ${pooling}, seed ${seed}`);
      const runOut = join(out, 'runs', `${pooling}-seed${seed}`);
      // with --resume, a run that has a checkpoint continues from it (a finished one is only evaluated)
      const resumable = (dir: string) => o.base.resume && existsSync(join(dir, 'checkpoints', 'latest.json'));
      // a run without a checkpoint (killed in its first epoch) starts again under --resume
      // --p-lr-scale is for the poolings that have a p (the others train without one)
      const where = (dir: string) => ({
        out: dir,
        resume: resumable(dir),
        overwrite: o.base.overwrite || o.base.resume,
        pLrScale: trainsP({ ...o.base, pooling }) ? o.base.pLrScale : undefined,
      });
      const classify = await train({ ...o.base, pooling, seed, task: 'classify', ...where(runOut) }, log);
      const run: Run = { pooling, seed, classify };
      const images = makeBatch(
        analysisSplit,
        Int32Array.from({ length: analysisSplit.count }, (_, i) => i),
        null,
        null,
      ).x;
      const last = classify.model.blocks.length - 1;
      const sim = noGrad(() => headSimilarity(classify.model, images, last));
      const h = sim.length;
      const off = sim.flatMap((row, i) => row.filter((_, j) => j !== i));
      run.analysis = { cka: off.reduce((a, b) => a + b, 0) / Math.max(1, h * (h - 1)), distance: headMeanDistance(classify.model, images, last) };
      if (o.retrieval) run.retrieval = await train({ ...o.base, pooling, seed, task: 'retrieval', ...where(`${runOut}-retrieval`) }, log);
      runs.push(run);
    }
  }
  writeFileSync(
    join(out, 'compare.json'),
    JSON.stringify(
      runs.map((r) => ({
        pooling: r.pooling,
        seed: r.seed,
        final: r.classify.final,
        history: r.classify.history,
        retrieval: r.retrieval?.final.retrieval,
        analysis: r.analysis,
      })),
      null,
      2,
    ),
  );
  await writePlots(o, runs);
  const report = renderReport(o, runs);
  writeFileSync(join(out, 'report.md'), report);
  return join(out, 'report.md');
}

function stepMetrics(dir: string): { step: number; loss: number; p?: number[] }[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((m) => m.type === 'step');
}

async function writePlots(o: CompareOptions, runs: Run[]): Promise<void> {
  const first = runs.filter((r) => r.seed === o.seeds[0]);
  const loss: CurvePoint[] = [];
  const acc: CurvePoint[] = [];
  const p: CurvePoint[] = [];
  for (const r of first) {
    const steps = stepMetrics(r.classify.out);
    const window = Math.max(1, Math.round(steps.length / 50));
    smooth(
      steps.map((s) => s.loss),
      window,
    ).forEach((v, i) => loss.push({ pooling: r.pooling, step: steps[i]!.step, value: v }));
    steps.forEach((s) => s.p?.forEach((v, g) => p.push({ pooling: r.pooling, step: s.step, value: v, series: `${r.pooling} group ${g}` })));
  }
  for (const pooling of o.poolings) {
    const mine = runs.filter((r) => r.pooling === pooling);
    const epochs = mine[0]?.classify.history.length ?? 0;
    for (let e = 0; e < epochs; e++)
      acc.push({ pooling, step: e + 1, value: (100 * mine.reduce((s, r) => s + r.classify.history[e]!.testAcc, 0)) / mine.length });
  }
  writeFileSync(
    join(o.base.out, 'learning-curves.svg'),
    await renderSvg(lineChart(`Training loss (seed ${o.seeds[0]}, moving average)`, 'cross-entropy', loss, { zeroBased: true })),
  );
  writeFileSync(
    join(o.base.out, 'test-accuracy.svg'),
    await renderSvg(lineChart('Test accuracy per epoch (mean over seeds)', 'top-1 (%)', acc, { xTitle: 'epoch' })),
  );
  if (p.length > 0)
    writeFileSync(
      join(o.base.out, 'p-trajectories.svg'),
      await renderSvg(lineChart(`Pooling parameter p of every group during training (seed ${o.seeds[0]})`, 'p', p)),
    );
}

function renderReport(o: CompareOptions, runs: Run[]): string {
  const b = o.base;
  const by = (pooling: PoolingName) => runs.filter((r) => r.pooling === pooling);
  const lines = [
    '# Pooling comparison on Fashion-MNIST',
    '',
    `Command: \`${o.command}\``,
    '',
    `Model \`${b.preset}\`${b.dim ? `, D ${b.dim}` : ''}${b.depth ? `, depth ${b.depth}` : ''}; data \`${b.data}\`${b.limit ? ` (first ${b.limit} training images)` : ''}; ${b.epochs} epochs, batch ${b.batchSize}, AdamW lr ${b.lr}, weight decay ${b.weightDecay}, warmup ${b.warmupEpochs} epochs + cosine, label smoothing ${b.labelSmoothing}, crop padding ${b.cropPad}; initial p ${b.p}, GGeM groups ${b.groups ?? 'heads'}; seeds ${o.seeds.join(', ')} (mean ± sample std).`,
    '',
    "## Classification (the paper's Table 1 in miniature)",
    '',
    `| pooling | top-1 (%) | ${b.knnK}-NN (%) |`,
    '|---|---:|---:|',
    ...o.poolings.map((p) => `| ${p} | ${fmt(by(p).map((r) => r.classify.final.testAcc))} | ${fmt(by(p).map((r) => r.classify.final.knnAcc))} |`),
    '',
  ];
  if (o.retrieval) {
    lines.push(
      "## Retrieval on the unseen classes 5–9 (the paper's Table 5 in miniature)",
      '',
      'Trained with a Norm-softmax loss on classes 0–4; every test image of classes 5–9 queries all the others.',
      '',
      '| pooling | R@1 | R-Precision | MAP@R |',
      '|---|---:|---:|---:|',
    );
    for (const p of o.poolings) {
      const m = by(p).map((r) => r.retrieval!.final.retrieval!);
      lines.push(`| ${p} | ${fmt(m.map((x) => x.recallAt1))} | ${fmt(m.map((x) => x.rPrecision))} | ${fmt(m.map((x) => x.mapAtR))} |`);
    }
    lines.push('');
  }
  lines.push(
    `## Heads of the last block (paper §3.4; ${o.analysisImages} test images)`,
    '',
    `| pooling | mean inter-head CKA | head mean distance (px), mean over heads | trained p (seed ${o.seeds[0]}) |`,
    '|---|---:|---:|---|',
    ...o.poolings.map((p) => {
      const rs = by(p);
      const first = rs.find((r) => r.seed === o.seeds[0]);
      const pv = first?.classify.history[first.classify.history.length - 1]?.p ?? [];
      return `| ${p} | ${fmt(
        rs.map((r) => r.analysis!.cka),
        1,
      )} | ${fmt(
        rs.map((r) => r.analysis!.distance.reduce((a, c) => a + c, 0) / r.analysis!.distance.length),
        1,
      )} | ${pv.map((v) => v.toFixed(3)).join(', ') || '—'} |`;
    }),
    '',
    '## Plots',
    '',
    '![training loss](learning-curves.svg)',
    '',
    '![test accuracy](test-accuracy.svg)',
    '',
    ...(o.poolings.some((p) => p === 'gem' || p === 'ggem') ? ['![p during training](p-trajectories.svg)', ''] : []),
  );
  return lines.join('\n');
}
