#!/usr/bin/env -S node --conditions=@ggem/source --import tsx
/**
 * ggem-train: train and evaluate ViTs with any pooling on Fashion-MNIST.
 *
 *   npm run train                                   # the embedded subset, GGeM, 8 epochs, both cores (85.95 %)
 *   npm run train -- --data full --pooling gem      # the full data (apt-get install dataset-fashion-mnist)
 *   npm run train -- --help
 *   npm run train -- compare --seeds 0,1,2 --retrieval --out docs/compare   # the five poolings side by side
 */
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { poolingNames, type PoolingName } from '@ggem/pooling';
import { enableRelaxedSimd } from '@ggem/tensor/node';
import { presets, type PresetName } from '@ggem/vit';
import { compare } from './compare.js';
import { defaults, P_LR_SCALE, type TrainOptions } from './options.js';
import { FULL_DATA_REFERENCE, linearBaseline, writeRunReport } from './run-report.js';
import { checkStudy, study, studyNames, type StudyName, type StudyOptions } from './study.js';
import { train } from './train.js';

enableRelaxedSimd(); // Node 20: the kernels' FMA, as on Node 22 and in browsers

const int =
  (name: string, min: number, max = 2 ** 31 - 1) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got '${v}'`);
    return n;
  };
const num =
  (name: string, check: (n: number) => boolean, what: string) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`${name} must be ${what}, got '${v}'`);
    return n;
  };

/** The options of a training run, shared by `train` and `compare`. */
function withTrainOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--task <task>', 'classify (10 classes) or retrieval (Norm-softmax on classes 0-4, retrieve among 5-9)')
        .choices(['classify', 'retrieval'])
        .default(defaults.task),
    )
    .option(
      '--temperature <x>',
      'Norm-softmax temperature (retrieval)',
      num('--temperature', (n) => n > 0, '> 0'),
      defaults.temperature,
    )
    .addOption(new Option('--preset <name>', 'model preset').choices(Object.keys(presets)).default(defaults.preset))
    .option('--patch <n>', "patch size (overrides the preset's 4)", int('--patch', 1, 28), defaults.patch)
    .option('--dim <n>', 'embedding width D', int('--dim', 1, 4096))
    .option('--depth <n>', 'number of blocks', int('--depth', 1, 64))
    .option('--heads <n>', 'attention heads (must divide D)', int('--heads', 1, 4096))
    .option(
      '--mlp-ratio <x>',
      'MLP hidden width / D',
      num('--mlp-ratio', (n) => n > 0, '> 0'),
    )
    .addOption(new Option('--pooling <name>', 'pooling').choices([...poolingNames]).default(defaults.pooling))
    .option('--groups <n>', 'GGeM groups (default: the number of heads; must leave no group empty)', int('--groups', 1))
    .option(
      '--p <x>',
      'initial p of gem / ggem',
      num('--p', (n) => n > 0, '> 0'),
      defaults.p,
    )
    .option('--fixed-p', 'keep p fixed (default: trainable)')
    .option(
      '--p-lr-scale <x>',
      `learning rate of a trainable p as a multiple of --lr (default ${P_LR_SCALE}; at the weights' rate p barely moves in short runs)`,
      num('--p-lr-scale', (n) => n > 0, '> 0'),
    )
    .option('--epochs <n>', 'epochs', int('--epochs', 1), defaults.epochs)
    .option('--batch-size <n>', 'batch size', int('--batch-size', 1, 65536), defaults.batchSize)
    .option(
      '--lr <x>',
      'peak learning rate (AdamW)',
      num('--lr', (n) => n > 0, '> 0'),
      defaults.lr,
    )
    .option(
      '--weight-decay <x>',
      'decoupled weight decay (not on biases, norms, embeddings, p)',
      num('--weight-decay', (n) => n >= 0, '>= 0'),
      defaults.weightDecay,
    )
    .option(
      '--warmup-epochs <x>',
      'linear warmup length in epochs, then cosine',
      num('--warmup-epochs', (n) => n >= 0, '>= 0'),
      defaults.warmupEpochs,
    )
    .option(
      '--label-smoothing <x>',
      'label smoothing',
      num('--label-smoothing', (n) => n >= 0 && n < 1, 'in [0, 1)'),
      defaults.labelSmoothing,
    )
    .option(
      '--clip <x>',
      'gradient-norm clipping (0: off)',
      num('--clip', (n) => n >= 0, '>= 0'),
      defaults.clip,
    )
    .option('--seed <n>', 'seed of the initialisation, data order and augmentation', int('--seed', 0, Number.MAX_SAFE_INTEGER), defaults.seed)
    .option('--data <which>', "'embedded', 'full' or a folder with the IDX files", defaults.data)
    .option('--limit <n>', 'use only the first n training images (0: all)', int('--limit', 0), defaults.limit)
    .option('--test-limit <n>', 'use only the first n test images (0: all)', int('--test-limit', 0), defaults.testLimit)
    .option('--crop-pad <n>', 'random crop after padding by n pixels (0: off)', int('--crop-pad', 0), defaults.cropPad)
    .option('--flip', 'random horizontal flips')
    .option('--freeze-blocks <k>', 'freeze the embeddings and the first k blocks (k = depth: linear probe)', int('--freeze-blocks', 0), defaults.freezeBlocks)
    .option('--init-from <file>', 'start from these weights (another pooling loads what fits)')
    .option('--resume', 'continue the run in --out from its latest checkpoint')
    .option('--stop-after <n>', 'stop after n epochs of this invocation (continue later with --resume)', int('--stop-after', 0), defaults.stopAfter)
    .option('--knn-k <n>', 'k of the k-NN evaluation (0: none)', int('--knn-k', 0), defaults.knnK)
    .option(
      '--threads <n>',
      'threads: 1 trains on this one, more split each batch over data-parallel replicas (a seed repeats a run for the same count)',
      int('--threads', 1, 64),
      Math.max(1, Math.min(4, availableParallelism())), // the cores, at most 4: a batch of 64 splits into shards too small to pay beyond
    )
    .option(
      '--out <dir>',
      `where checkpoints, metrics and the result go (each new run replaces the default ${defaults.out}; another folder that holds a run needs --resume or --overwrite)`,
      defaults.out,
    )
    .option('--overwrite', 'replace the run already in --out');
}

function toTrainOptions(o: Record<string, unknown>): TrainOptions {
  return {
    ...defaults,
    ...(o as Partial<TrainOptions>),
    preset: o.preset as PresetName,
    pooling: o.pooling as PoolingName,
    trainP: !o.fixedP,
    flip: Boolean(o.flip),
    resume: Boolean(o.resume),
    overwrite: Boolean(o.overwrite),
    quiet: false,
  };
}

const list =
  <T>(name: string, allowed?: readonly T[]) =>
  (v: string): T[] => {
    const items = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError(`${name} needs at least one value`);
    if (allowed) {
      const bad = items.filter((x) => !allowed.includes(x as T));
      if (bad.length) throw new InvalidArgumentError(`${name}: unknown ${bad.join(', ')}; allowed: ${allowed.join(', ')}`);
      return items as T[];
    }
    return items.map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name}: '${x}' is not an integer >= 0`);
      return n as T;
    });
  };

/** A comma-separated list of numbers that pass `ok`. */
const listOf =
  (name: string, ok: (n: number) => boolean) =>
  (v: string): number[] => {
    const items = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError(`${name} needs at least one value`);
    return items.map((x) => {
      const n = Number(x);
      if (!Number.isFinite(n) || !ok(n)) throw new InvalidArgumentError(`${name}: '${x}' is not allowed here`);
      return n;
    });
  };

const program = new Command().name('ggem-train').description('Train and evaluate ViTs with token, avg, max, GeM or GGeM pooling on Fashion-MNIST');

withTrainOptions(program.command('train', { isDefault: true }).description('train one model (the default command)'))
  .addHelpText(
    'after',
    "\nOther commands: compare (every pooling over several seeds, one report): npm run train -- compare --help\n                study (the paper's ablations in miniature): npm run train -- study --help",
  )
  .action(async (o: Record<string, unknown>, cmd: Command) => {
    const t0 = performance.now();
    const r = await train({ ...toTrainOptions(o), overwrite: Boolean(o.overwrite) || cmd.getOptionValueSource('out') === 'default' });
    const seconds = (performance.now() - t0) / 1000;
    const last = r.history[r.history.length - 1];
    const rt = r.final.retrieval;
    const scores = rt
      ? `test accuracy on classes 0-4 ${(100 * r.final.testAcc).toFixed(2)}%; retrieval among classes 5-9: R@1 ${(100 * rt.recallAt1).toFixed(2)}, RP ${(100 * rt.rPrecision).toFixed(2)}, MAP@R ${(100 * rt.mapAtR).toFixed(2)}`
      : `test accuracy ${(100 * r.final.testAcc).toFixed(2)}%${r.final.k > 0 ? `, ${r.final.k}-NN accuracy ${(100 * r.final.knnAcc).toFixed(2)}%` : ''}`;
    console.log(`\ndone in ${seconds.toFixed(0)} s: ${scores}${last?.p.length ? `, p ${last.p.map((v) => v.toFixed(3)).join(' ')}` : ''}`);
    const written = [r.checkpoint, `${r.out}/metrics.jsonl`, `${r.out}/result.json`];
    if (!rt && r.history.length === o.epochs) {
      const baseline = linearBaseline(r.splits.train, r.splits.test, 2, o.seed as number);
      console.log(
        `for context: a softmax regression on the raw pixels of the same images reaches ${(100 * baseline).toFixed(2)}% in 2 epochs (measured now); ${FULL_DATA_REFERENCE}`,
      );
      written.push(...(await writeRunReport(toTrainOptions(o), r, baseline, ['npm run train --', ...process.argv.slice(2)].join(' '))));
    }
    console.log(`written: ${written.join(', ')}`);
  });

withTrainOptions(program.command('compare').description('train every pooling with every seed under one budget; write a markdown report with SVG plots'))
  .option('--poolings <list>', 'comma-separated poolings', list('--poolings', poolingNames), [...poolingNames])
  .option('--seeds <list>', 'comma-separated seeds', list<number>('--seeds'), [0])
  .option('--retrieval', 'also run the retrieval protocol (Norm-softmax on classes 0-4, retrieve among 5-9)')
  .option('--analysis-images <n>', 'test images for the head analysis (CKA, mean distance)', int('--analysis-images', 1), 64)
  .action(async (o: Record<string, unknown>) => {
    const report = await compare({
      base: toTrainOptions(o),
      poolings: o.poolings as PoolingName[],
      seeds: o.seeds as number[],
      retrieval: Boolean(o.retrieval),
      analysisImages: o.analysisImages as number,
      command: ['npm run train --', ...process.argv.slice(2).filter((a) => a !== '--resume')].join(' '),
    });
    console.log(`\nreport: ${report}`);
  });

withTrainOptions(
  program
    .command('study')
    .argument('<name>', `the study: ${studyNames.join(', ')}`)
    .description(
      "one of the paper's ablations in miniature (Fig. 6 init-p, Fig. 7 groups, Fig. 8 p-trajectories, Table 2 finetune): every run resumable, a report with plots; by default on the full data, 1 epoch a run, no k-NN",
    ),
)
  .option('--seeds <list>', 'comma-separated seeds', list<number>('--seeds'), [0, 1, 2])
  .option(
    '--p-values <list>',
    'initial p values (init-p, p-trajectories)',
    listOf('--p-values', (n) => n > 0),
  )
  .option(
    '--groups-list <list>',
    'GGeM group counts (groups)',
    listOf('--groups-list', (n) => Number.isInteger(n) && n >= 1),
    [1, 2, 4, 8, 16, 32, 64],
  )
  .option('--blocks <list>', 'blocks fine-tuned on the trunk (finetune; 0: linear probing)', list<number>('--blocks'), [0, 1, 2, 4])
  .option('--pretrain-epochs <n>', "epochs of the finetune study's class-token trunk", int('--pretrain-epochs', 1), 2)
  .option('--runs <dir>', 'where the runs live, one folder each (shared by the studies)', 'runs/studies')
  .addHelpText('after', '\nContinue an interrupted study by running the same command again: finished runs are read back, the others resume.')
  .action(async (name: string, o: Record<string, unknown>, cmd: Command) => {
    const given = (k: string) => cmd.getOptionValueSource(k) !== 'default' && cmd.getOptionValueSource(k) !== undefined;
    const base = toTrainOptions(o);
    if (!given('data')) base.data = 'full';
    if (!given('epochs')) base.epochs = 1;
    if (!given('knnK')) base.knnK = 0;
    const opts: StudyOptions = {
      name: name as StudyName,
      base,
      seeds: o.seeds as number[],
      pValues: (o.pValues as number[] | undefined) ?? (name === 'p-trajectories' ? [1, 3, 5, 7] : [1, 2, 3, 4, 5, 6, 7]),
      groups: o.groupsList as number[],
      blocks: o.blocks as number[],
      pretrainEpochs: o.pretrainEpochs as number,
      runs: o.runs as string,
      out: given('out') ? (o.out as string) : `docs/studies/${name}`,
      command: ['npm run train --', ...process.argv.slice(2)].join(' '),
    };
    checkStudy(opts);
    console.log(`\nreport: ${await study(opts)}`);
  });

// no command named (`npm run train -- --help`, `npm run train -- --epochs 3`): the train command,
// so that its help lists the training options
const args = process.argv.slice(2);
const named = args[0] === 'help' || program.commands.some((c) => c.name() === args[0]);
program.parseAsync(named ? process.argv : [...process.argv.slice(0, 2), 'train', ...args]).catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
