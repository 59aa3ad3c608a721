/**
 * The paper's ablations in miniature, each one resumable command: `npm run train -- study
 * <name>`. A study is a grid of training runs (a series, a value on the x axis, a seed);
 * every run lives in its own folder under `--runs`, named by its options, so that an
 * interrupted study continues where it stopped (`--resume`) and two studies share the runs
 * they have in common (Fig. 8 reads Fig. 6's trainable runs). The report (`report.md`, SVG
 * plots, `study.json`) goes to `--out`, by default `docs/studies/<name>`.
 *
 *   init-p          Fig. 6: top-1 against the initial p, for GeM with p fixed, GeM and GGeM
 *   groups          Fig. 7: top-1 against the number of GGeM groups G
 *   p-trajectories  Fig. 8: p during training from several initial values, with p's
 *                   learning rate at the default multiple of the weights' and at 1×
 *   finetune        Table 2: one trunk pre-trained with the class token per seed, then
 *                   every pooling trained on it with the last k blocks unfrozen (k = 0:
 *                   linear probing)
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { poolingNames } from '@ggem/pooling';
import { presets } from '@ggem/vit';
import { makeDirs } from './checkpoint.js';
import { P_LR_SCALE, type TrainOptions } from './options.js';
import { lineChart, renderSvg, type CurvePoint } from './plots.js';
import { train, type TrainResult } from './train.js';

export const studyNames = ['init-p', 'groups', 'p-trajectories', 'finetune'] as const;
export type StudyName = (typeof studyNames)[number];

export interface StudyOptions {
  name: StudyName;
  /** The training options every run starts from (data, epochs, model, schedule). */
  base: TrainOptions;
  seeds: number[];
  /** Initial p values (init-p, p-trajectories). */
  pValues: number[];
  /** GGeM group counts (groups). */
  groups: number[];
  /** Blocks fine-tuned on the pre-trained trunk (finetune; 0 = linear probing). */
  blocks: number[];
  /** Epochs of the trunk's pre-training (finetune). */
  pretrainEpochs: number;
  /** Where the runs live (one folder each). */
  runs: string;
  /** Where the report goes. */
  out: string;
  /** The command line, quoted in the report. */
  command: string;
}

/** One run of a study: its place in the report and the options it trains with. */
interface Cell {
  series: string;
  x: number;
  seed: number;
  options: TrainOptions;
}

interface CellResult {
  series: string;
  x: number;
  seed: number;
  folder: string;
  testAcc: number;
  /** p at the end of each epoch. */
  pByEpoch: number[][];
  /** p every few steps (about 100 points per run). */
  pSteps: { step: number; p: number[] }[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => (xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)) : 0);
const pm = (xs: number[], scale = 100, digits = 2) =>
  xs.length > 1 ? `${(scale * mean(xs)).toFixed(digits)} ± ${(scale * std(xs)).toFixed(digits)}` : (scale * mean(xs)).toFixed(digits);

/** What identifies a run: every option but where it goes and how it shows. */
function identity(o: TrainOptions): Record<string, unknown> {
  return { ...o, out: undefined, resume: undefined, overwrite: undefined, quiet: undefined, stopAfter: undefined, threads: undefined };
}

/** A run's folder: a readable name and a hash of its options (equal options, one folder). */
function folderOf(runs: string, o: TrainOptions, label: string): string {
  const hash = createHash('sha256')
    .update(JSON.stringify(identity(o)))
    .digest('hex')
    .slice(0, 10);
  return join(runs, `${label}-seed${o.seed}-${hash}`.replace(/[^\w.-]+/g, '_'));
}

/** Runs (or resumes, or reads back) one cell. A finished run is not trained again. */
async function runCell(o: StudyOptions, label: string, opts: TrainOptions, log: (s: string) => void): Promise<TrainResult> {
  const out = folderOf(o.runs, opts, label);
  const resume = existsSync(join(out, 'checkpoints', 'latest.json'));
  return train({ ...opts, out, resume, overwrite: true, stopAfter: 0 }, log);
}

const VARIANTS = {
  'GeM, p fixed': { pooling: 'gem', trainP: false },
  GeM: { pooling: 'gem', trainP: true },
  GGeM: { pooling: 'ggem', trainP: true },
} as const satisfies Record<string, Partial<TrainOptions>>;
const VARIANT_NAMES = Object.keys(VARIANTS) as (keyof typeof VARIANTS)[];

/** The grid of a study (finetune's trunks come first, from `trunk`). */
function cells(o: StudyOptions, trunk?: (seed: number) => string): Cell[] {
  const b = o.base;
  const per = (f: (seed: number) => Cell[]) => o.seeds.flatMap(f);
  /** A variant of Fig. 6 from p0 (groups: the heads; a fixed p has no learning rate of its own). */
  const variant = (series: keyof typeof VARIANTS, p: number, seed: number): TrainOptions => ({
    ...b,
    ...VARIANTS[series],
    p,
    seed,
    groups: undefined,
    pLrScale: VARIANTS[series].trainP ? b.pLrScale : undefined,
  });
  switch (o.name) {
    case 'init-p':
      return per((seed) => VARIANT_NAMES.flatMap((series) => o.pValues.map((p) => ({ series, x: p, seed, options: variant(series, p, seed) }))));
    case 'groups': {
      // G = heads is the default GGeM: the same run as init-p's at the base p
      const heads = b.heads ?? presets[b.preset].numHeads;
      return per((seed) =>
        o.groups.map((g) => ({ series: 'GGeM', x: g, seed, options: { ...variant('GGeM', b.p, seed), groups: g === heads ? undefined : g } })),
      );
    }
    case 'p-trajectories':
      // the default multiple (the same runs as init-p's), and 1×: what lets p learn
      return per((seed) => [
        ...(['GeM', 'GGeM'] as const).flatMap((series) => o.pValues.map((p) => ({ series, x: p, seed, options: variant(series, p, seed) }))),
        ...o.pValues.map((p) => ({ series: "GGeM, p at the weights' rate", x: p, seed, options: { ...variant('GGeM', p, seed), pLrScale: 1 } })),
      ]);
    case 'finetune': {
      const depth = b.depth ?? presets[b.preset].depth;
      return per((seed) =>
        poolingNames.flatMap((pooling) =>
          o.blocks.map((k) => {
            if (k > depth) throw new Error(`study finetune: --blocks ${k} is more than the model's ${depth} blocks`);
            const trains = pooling === 'gem' || pooling === 'ggem';
            return {
              series: pooling,
              x: k,
              seed,
              options: {
                ...b,
                pooling,
                seed,
                trainP: trains,
                groups: undefined,
                freezeBlocks: depth - k,
                initFrom: trunk?.(seed),
                pLrScale: trains ? b.pLrScale : undefined,
              },
            };
          }),
        ),
      );
    }
  }
}

/** Reads the p trajectory a run logged, thinned to about 100 points. */
function pSteps(folder: string): { step: number; p: number[] }[] {
  const steps = readFileSync(join(folder, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step: number; p?: number[] })
    .filter((m) => m.type === 'step' && m.p !== undefined);
  const every = Math.max(1, Math.round(steps.length / 100));
  return steps.filter((_, i) => i % every === 0 || i === steps.length - 1).map((s) => ({ step: s.step, p: s.p! }));
}

/** Runs every cell of the study (resuming what is there) and writes its report; returns the report's path. */
export async function study(o: StudyOptions, log: (s: string) => void = console.log): Promise<string> {
  if (o.seeds.length === 0) throw new Error('study: --seeds needs at least one seed');
  makeDirs(o.out, 'study: --out');
  makeDirs(o.runs, 'study: --runs');
  const trunks = new Map<number, string>();
  if (o.name === 'finetune') {
    for (const seed of o.seeds) {
      log(`== trunk: class token, seed ${seed}, ${o.pretrainEpochs} epochs`);
      const opts: TrainOptions = {
        ...o.base,
        pooling: 'token',
        trainP: false,
        seed,
        epochs: o.pretrainEpochs,
        groups: undefined,
        pLrScale: undefined,
        freezeBlocks: 0,
      };
      const r = await runCell(o, 'trunk-token', opts, log);
      trunks.set(seed, join(r.checkpoint, 'model.safetensors'));
    }
  }
  const grid = cells(o, (seed) => trunks.get(seed)!);
  const results: CellResult[] = [];
  for (const [i, c] of grid.entries()) {
    log(`== ${o.name} ${i + 1}/${grid.length}: ${c.series}, x = ${c.x}, seed ${c.seed}`);
    const r = await runCell(o, `${c.options.pooling}-${c.series}-${c.x}`, c.options, log);
    results.push({
      series: c.series,
      x: c.x,
      seed: c.seed,
      folder: r.out,
      testAcc: r.final.testAcc,
      pByEpoch: r.history.map((h) => h.p),
      pSteps: c.options.trainP && (c.options.pooling === 'gem' || c.options.pooling === 'ggem') ? pSteps(r.out) : [],
    });
  }
  writeFileSync(
    join(o.out, 'study.json'),
    `${JSON.stringify({ study: o.name, command: o.command, seeds: o.seeds, base: identity(o.base), results }, null, 1)}\n`,
  );
  const plots = await writePlots(o, results);
  const report = join(o.out, 'report.md');
  writeFileSync(report, renderReport(o, results, plots));
  return report;
}

const TITLES: Record<StudyName, string> = {
  'init-p': 'Fig. 6 in miniature: top-1 against the initial p',
  groups: 'Fig. 7 in miniature: top-1 against the number of groups G',
  'p-trajectories': 'Fig. 8 in miniature: p during training from several initial values',
  finetune: 'Table 2 in miniature: linear probing and partial fine-tuning of one pre-trained trunk',
};

/** The series of the results, in the order they first appear. */
const seriesOf = (rs: CellResult[]) => [...new Set(rs.map((r) => r.series))];
const xsOf = (rs: CellResult[]) => [...new Set(rs.map((r) => r.x))].sort((a, b) => a - b);

/** Mean top-1 per (series, x): the lines of Fig. 6 and Fig. 7. */
function accuracyPoints(rs: CellResult[]): CurvePoint[] {
  return seriesOf(rs).flatMap((s) =>
    xsOf(rs.filter((r) => r.series === s)).map((x) => ({
      pooling: s,
      step: x,
      value: 100 * mean(rs.filter((r) => r.series === s && r.x === x).map((r) => r.testAcc)),
    })),
  );
}

async function writePlots(o: StudyOptions, rs: CellResult[]): Promise<string[]> {
  const files: [string, string][] = [];
  const seeds = `mean over seeds ${o.seeds.join(', ')}`;
  if (o.name === 'init-p')
    files.push([
      'accuracy-vs-p.svg',
      await renderSvg(lineChart(`Top-1 against the initial p (${seeds})`, 'top-1 (%)', accuracyPoints(rs), { xTitle: 'initial p' })),
    ]);
  if (o.name === 'groups')
    files.push([
      'accuracy-vs-groups.svg',
      await renderSvg(
        lineChart(`Top-1 against the number of groups (${seeds})`, 'top-1 (%)', accuracyPoints(rs.map((r) => ({ ...r, x: Math.log2(r.x) }))), {
          xTitle: 'log2 G',
        }),
      ),
    ]);
  if (o.name === 'init-p' || o.name === 'p-trajectories') {
    const seed = o.seeds[0]!;
    for (const s of seriesOf(rs).filter((s) => rs.some((r) => r.series === s && r.pSteps.length > 0))) {
      const points = rs
        .filter((r) => r.series === s && r.seed === seed)
        .flatMap((r) => r.pSteps.flatMap((st) => st.p.map((v, g) => ({ pooling: `p0 = ${r.x}`, step: st.step, value: v, series: `${r.x}/${g}` }))));
      const file = `p-trajectories-${s
        .replace(/[^\w]+/g, '-')
        .replace(/-+$/, '')
        .toLowerCase()}.svg`;
      if (o.name === 'p-trajectories' || s === 'GGeM')
        files.push([file, await renderSvg(lineChart(`${s}: p of every group during training (seed ${seed})`, 'p', points))]);
    }
  }
  if (o.name === 'finetune')
    files.push([
      'accuracy-vs-blocks.svg',
      await renderSvg(
        lineChart(`Top-1 against the blocks fine-tuned (${seeds})`, 'top-1 (%)', accuracyPoints(rs), { xTitle: 'blocks fine-tuned (0: linear probing)' }),
      ),
    ]);
  for (const [f, svg] of files) writeFileSync(join(o.out, f), svg);
  return files.map(([f]) => f);
}

/** Top-1 (mean ± std over seeds) with series as rows and x as columns. */
function accuracyTable(rs: CellResult[], xName: string): string[] {
  const xs = xsOf(rs);
  return [
    `| | ${xs.map((x) => `${xName} ${x}`).join(' | ')} |`,
    `|---|${xs.map(() => '---:').join('|')}|`,
    ...seriesOf(rs).map(
      (s) =>
        `| ${s} | ${xs
          .map((x) => {
            const v = rs.filter((r) => r.series === s && r.x === x).map((r) => r.testAcc);
            return v.length ? pm(v) : '';
          })
          .join(' | ')} |`,
    ),
  ];
}

/** The best x of each series by mean top-1. */
function peaks(rs: CellResult[], xName: string): string[] {
  return seriesOf(rs).map((s) => {
    const pts = accuracyPoints(rs.filter((r) => r.series === s));
    const best = pts.reduce((a, b) => (b.value > a.value ? b : a));
    return `- ${s}: highest mean top-1 at ${xName} = ${best.step} (${best.value.toFixed(2)} %)`;
  });
}

/** Final p (mean over seeds; GGeM: the groups' mean and the spread max − min within a run). */
function finalPTable(rs: CellResult[], xLabel = 'initial p'): string[] {
  const trained = rs.filter((r) => r.pByEpoch.length > 0 && r.pSteps.length > 0);
  const rows = seriesOf(trained).flatMap((s) =>
    xsOf(trained.filter((r) => r.series === s)).map((x) => {
      const mine = trained.filter((r) => r.series === s && r.x === x);
      const last = mine.map((r) => r.pByEpoch[r.pByEpoch.length - 1]!);
      const spread = last.map((p) => Math.max(...p) - Math.min(...p));
      return `| ${s} | ${x} | ${pm(last.map(mean), 1)} | ${pm(
        last.map((p) => Math.min(...p)),
        1,
      )} – ${pm(
        last.map((p) => Math.max(...p)),
        1,
      )} | ${pm(spread, 1)} |`;
    }),
  );
  return [`| series | ${xLabel} | final p (mean of groups) | lowest – highest group | spread within a run |`, '|---|---:|---:|---:|---:|', ...rows];
}

function renderReport(o: StudyOptions, rs: CellResult[], plots: string[]): string {
  const b = o.base;
  const lines = [
    `# ${TITLES[o.name]}`,
    '',
    `Command: \`${o.command}\` (resumable; finished runs are read back). What this shows against the paper: docs/studies/README.md.`,
    '',
    `Model \`${b.preset}\` (patch ${b.patch ?? presets[b.preset].patchSize}${b.dim ? `, D ${b.dim}` : ''}${b.depth ? `, depth ${b.depth}` : ''}); data \`${b.data}\`${b.limit || b.testLimit ? ` (first ${b.limit || 'all'} training and ${b.testLimit || 'all'} test images)` : ''}; ${b.epochs} epoch(s) a run, batch ${b.batchSize}, AdamW lr ${b.lr}, weight decay ${b.weightDecay}, warmup ${b.warmupEpochs} epochs + cosine; p's learning rate ${b.pLrScale ?? P_LR_SCALE}× the weights' unless said; seeds ${o.seeds.join(', ')} (mean ± sample std); ${rs.length} runs.`,
    '',
  ];
  if (o.name === 'init-p')
    lines.push('## Top-1 (%)', '', ...accuracyTable(rs, 'p0 ='), '', ...peaks(rs, 'initial p'), '', '## Final p', '', ...finalPTable(rs), '');
  if (o.name === 'groups')
    lines.push(
      '## Top-1 (%)',
      '',
      ...accuracyTable(rs, 'G ='),
      '',
      ...peaks(rs, 'G'),
      `- heads: ${b.heads ?? presets[b.preset].numHeads}`,
      '',
      `## Final p (initial p ${b.p})`,
      '',
      ...finalPTable(rs, 'G'),
      '',
    );
  if (o.name === 'p-trajectories') lines.push('## Final p', '', ...finalPTable(rs), '', '## Top-1 (%)', '', ...accuracyTable(rs, 'p0 ='), '');
  if (o.name === 'finetune')
    lines.push(
      `Trunks: the class token, ${o.pretrainEpochs} epoch(s), one per seed; then each pooling with the embeddings and all but the last k blocks frozen (k = 0: linear probing of the final norm, the pooling and the head), ${b.epochs} epoch(s).`,
      '',
      '## Top-1 (%)',
      '',
      ...accuracyTable(rs, 'k ='),
      '',
    );
  lines.push('## Plots', '', ...plots.flatMap((f) => [`![${f.replace(/\.svg$/, '')}](${f})`, '']));
  return lines.join('\n');
}

/** Checks a study's options before anything runs. */
export function checkStudy(o: StudyOptions): void {
  if (!studyNames.includes(o.name)) throw new Error(`study: unknown study '${o.name}'; expected one of ${studyNames.join(', ')}`);
  for (const p of o.pValues) if (!(p > 0)) throw new Error(`study: --p-values must be > 0, got ${p}`);
  for (const g of o.groups) if (!Number.isInteger(g) || g < 1) throw new Error(`study: --groups-list must be positive integers, got ${g}`);
  if (!Number.isInteger(o.pretrainEpochs) || o.pretrainEpochs < 1)
    throw new Error(`study: --pretrain-epochs must be a positive integer, got ${o.pretrainEpochs}`);
}
