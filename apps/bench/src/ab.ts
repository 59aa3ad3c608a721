/**
 * This checkout against an earlier commit, side by side in one process: the project's own
 * workloads (matmul, softmax and layer norm with their backward, GGeM, the small-ViT
 * training step, the ViT-S/16 forward) on both copies of the packages, alternated round by
 * round (A B, B A, ...), on one core. Prints the medians and the median of the per-round
 * ratios, which shared, noisy machines disturb least.
 *
 *   npm run bench:ab -w @ggem/bench -- <commit> [--rounds 15] [--only ViT]
 *
 * The commit is checked out with `git worktree` beside the repository (in the OS's temporary
 * directory), sharing this checkout's node_modules, and removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { enableRelaxedSimd } from '@ggem/tensor/node';

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const o = new Command()
  .name('ggem-bench-ab')
  .argument('<commit>', 'the earlier commit (A); this checkout is B')
  .option('--rounds <n>', 'rounds of alternation', '15')
  .option('--only <text>', 'only the workloads whose name contains this')
  .parse();
const [commit] = o.args as [string];
const { rounds: roundsText, only } = o.opts<{ rounds: string; only?: string }>();
const rounds = Number(roundsText);

/** A worktree of `commit` whose node_modules are this checkout's, except its own @ggem packages. */
function worktree(rev: string): { root: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ggem-ab-'));
  const root = join(dir, 'repo');
  execFileSync('git', ['-C', repo, 'worktree', 'add', '--detach', '-q', root, rev]);
  mkdirSync(join(root, 'node_modules', '@ggem'), { recursive: true });
  for (const name of readdirSync(join(repo, 'node_modules'))) {
    if (name !== '@ggem') symlinkSync(join(repo, 'node_modules', name), join(root, 'node_modules', name));
  }
  for (const p of ['tensor', 'pooling', 'vit']) symlinkSync(join(root, 'packages', p), join(root, 'node_modules', '@ggem', p));
  const remove = () => {
    execFileSync('git', ['-C', repo, 'worktree', 'remove', '--force', root]);
    rmSync(dir, { recursive: true, force: true });
  };
  return { root, remove };
}

// biome-ignore lint/suspicious/noExplicitAny: two copies of the packages, of two commits' APIs
type Lib = { t: any; pool: any; vit: any };

async function load(root: string): Promise<Lib> {
  const t = await import(join(root, 'packages/tensor/src/index.ts'));
  const pool = await import(join(root, 'packages/pooling/src/index.ts'));
  const vit = await import(join(root, 'packages/vit/src/index.ts'));
  t.setCpuThreads(1);
  return { t, pool, vit };
}

function workloads({ t, pool, vit }: Lib): [string, number, () => void][] {
  const g = (s: number) => new t.Generator(s);
  const [a, b] = [t.randn([512, 512], { generator: g(1) }), t.randn([512, 512], { generator: g(2) })];
  const [rx, rw] = [t.randn([64 * 50, 64], { generator: g(3) }), t.randn([64 * 50, 64], { generator: g(4) })];
  const [gx, gw] = [t.randn([64, 196, 384], { generator: g(5) }), t.randn([64, 384], { generator: g(6) })];
  const small = vit.createVit('vit_mnist_small', 'avg', { seed: 0 });
  const opt = new t.optim.AdamW(small.parameters(), { lr: 1e-3, weightDecay: 0.05 });
  const img = t.randn([64, 1, 28, 28], { generator: g(7) });
  const labels = Array.from({ length: 64 }, (_, i) => i % 10);
  const big = vit.createVit('vit_small_patch16_224', 'token', { seed: 1 });
  const one = t.randn([1, 3, 224, 224], { generator: g(8) });
  type T = Lib['t'];
  /** f on a fresh leaf copy of x0, then the backward of Σ f(x)·w. */
  const backward = (f: (x: T) => T, x0: T, w: T) => f(x0.detach().setRequiresGrad(true)).mul(w).sum().backward();
  return [
    ['matmul 512³', 3, () => void a.matmul(b).data],
    ['softmax fwd+bwd [3200, 64]', 3, () => backward((x) => t.softmax(x, -1), rx, rw)],
    ['layernorm fwd+bwd [3200, 64]', 3, () => backward((x) => t.layerNorm(x, null, null, 1e-6), rx, rw)],
    ['ggem G=12 fwd+bwd [64, 196, 384]', 3, () => backward((x) => pool.ggem(x, t.full([12], 3, { requiresGrad: true })), gx, gw)],
    [
      'small-ViT training step, batch 64',
      3,
      () => {
        opt.zeroGrad();
        t.crossEntropy(small.forward(img), labels).backward();
        opt.step();
      },
    ],
    ['ViT-S/16 forward, batch 1', 2, () => void t.noGrad(() => big.forward(one)).data],
  ];
}

const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
enableRelaxedSimd();
const old = worktree(commit);
try {
  const sides = [await load(old.root), await load(repo)].map((l) => workloads(l).filter(([n]) => only === undefined || n.includes(only)));
  const times = sides.map((w) => w.map(() => [] as number[][]));
  for (let r = 0; r < rounds; r++) {
    sides[0]!.forEach((_, k) => {
      for (const s of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const [, reps, f] = sides[s]![k]!;
        f(); // warm
        const round: number[] = [];
        for (let i = 0; i < reps; i++) {
          const t0 = performance.now();
          f();
          round.push(performance.now() - t0);
        }
        times[s]![k]!.push(round);
      }
    });
  }
  console.log(`A = ${commit}, B = this checkout; ${rounds} rounds on one core\n`);
  console.log("| workload | A (ms) | B (ms) | B/A of the medians | median of the rounds' B/A |\n|---|---:|---:|---:|---:|");
  sides[0]!.forEach(([name], k) => {
    const [ma, mb] = [median(times[0]![k]!.flat()), median(times[1]![k]!.flat())];
    const ratios = times[1]![k]!.map((round, r) => median(round) / median(times[0]![k]![r]!));
    console.log(`| ${name} | ${ma.toFixed(2)} | ${mb.toFixed(2)} | ${(mb / ma).toFixed(3)} | ${median(ratios).toFixed(3)} |`);
  });
} finally {
  old.remove();
}
process.exit(0);
