/**
 * The fault suite: the training CLI killed with SIGKILL at spread-out moments and resumed,
 * a disk that fills up mid-run (a small tmpfs; needs root, as CI has), a rerun into a used
 * folder and a resume with changed options. After each fault the newest checkpoint loads
 * and is finite, and the metrics log every step at most once.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadLatestCheckpoint } from './checkpoint.js';

const CLI = new URL('./cli.ts', import.meta.url).pathname;
/** 4 epochs of 3 steps of a 1-block, 32-wide ViT on 96 images. */
const RUN = [
  '--preset',
  'vit_mnist_tiny',
  '--dim',
  '32',
  '--depth',
  '1',
  '--heads',
  '2',
  '--limit',
  '96',
  '--test-limit',
  '64',
  '--knn-k',
  '3',
  '--epochs',
  '4',
  '--batch-size',
  '32',
];
const NODE = ['--conditions=@ggem/source', '--import', 'tsx', CLI];

function cli(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [...NODE, ...RUN, ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

/** Steps logged so far (0 while the file does not exist: before the first step, or as a new run replaces it). */
function stepsLogged(out: string): number {
  try {
    return readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"type":"step"')).length;
  } catch {
    return 0;
  }
}

/**
 * Starts the CLI and SIGKILLs it `jitter` ms after its metrics show `step` steps (at once for
 * step 0: during start-up), or lets it finish (`step` Infinity). Moments tied to progress,
 * not to the clock, so a busy machine moves them less.
 */
function killAt(args: string[], out: string, step: number, jitter: number): Promise<'killed' | 'finished'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE, ...RUN, ...args], { stdio: 'ignore' });
    let timer: NodeJS.Timeout | undefined;
    const poll = setInterval(() => {
      if (timer === undefined && stepsLogged(out) >= step) timer = setTimeout(() => child.kill('SIGKILL'), jitter);
    }, 5);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0) resolve('finished');
      else reject(new Error(`the CLI exited with ${code}`));
    });
  });
}

/** What must hold after any fault: the newest checkpoint loads and is finite; no step logged twice; no temporary folder left published. */
async function assertIntact(out: string, what: string): Promise<number> {
  const ck = await loadLatestCheckpoint(join(out, 'checkpoints')).catch((e: Error) => assert.fail(`${what}: ${e.message}`));
  if (ck !== null) {
    for (const [k, t] of Object.entries(ck.weights)) assert.ok(t.data.every(Number.isFinite), `${what}: ${k} is not finite`);
    assert.equal(ck.state.epoch, Number(/epoch-(\d+)$/.exec(ck.path)![1]), `${what}: latest.json points at its epoch`);
  }
  const metrics = join(out, 'metrics.jsonl');
  if (existsSync(metrics)) {
    const steps = readFileSync(metrics, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"type":"step"'))
      .map((l) => JSON.parse(l).step as number);
    assert.equal(new Set(steps).size, steps.length, `${what}: a step logged twice (${steps.join(', ')})`);
  }
  return ck?.state.epoch ?? 0;
}

describe('faults: the training CLI', () => {
  const dirs: string[] = [];
  const fresh = (name: string) => {
    const d = mkdtempSync(join(tmpdir(), `ggem-fault-${name}-`));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('killed with SIGKILL at spread-out moments and resumed: every checkpoint loads, every step is logged once, the run completes', async () => {
    const out = fresh('kill');
    // [step reached, ms after]: in start-up, mid-epoch, around the end of an epoch (evaluation, checkpoint), then to the end
    const moments: [number, number][] = [
      [0, 300],
      [2, 0],
      [3, 15],
      [5, 40],
      [6, 5],
      [8, 0],
      [9, 25],
      [11, 10],
      [Infinity, 0],
    ];
    let kills = 0;
    for (const [step, jitter] of moments) {
      const resume = existsSync(join(out, 'checkpoints', 'latest.json')) ? ['--resume'] : ['--overwrite'];
      if ((await killAt(['--out', out, ...resume], out, step, jitter)) === 'killed') kills++;
      await assertIntact(out, `after kill ${kills} (step ${step} + ${jitter} ms)`);
      if (existsSync(join(out, 'result.json'))) break;
    }
    assert.ok(kills >= 4, `only ${kills} kills landed before the run finished`);
    const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'step')
      .map((l) => l.step);
    assert.deepEqual(
      steps,
      Array.from({ length: 12 }, (_, i) => i + 1),
      'each of the 12 steps exactly once',
    );
    assert.deepEqual(readdirSync(join(out, 'checkpoints')).sort(), ['epoch-3', 'epoch-4', 'latest.json'], 'no temporary folder left');
    assert.ok(existsSync(join(out, 'result.json')));
  });

  it('a rerun into the used folder and a resume with changed options are refused, and leave the run as it was', async () => {
    const out = fresh('rerun');
    assert.equal(cli(['--out', out, '--epochs', '4', '--stop-after', '1']).status, 0);
    const rerun = cli(['--out', out]);
    assert.equal(rerun.status, 1);
    assert.match(rerun.stderr, /holds another run .* --resume, write to a new --out, or replace it with --overwrite/);
    const changed = cli(['--out', out, '--resume', '--lr', '0.01', '--clip', '0']);
    assert.equal(changed.status, 1);
    assert.match(changed.stderr, /cannot resume .* with other options \(lr: 0\.002 then, 0\.01 now; clip: 1 then, 0 now\)/);
    assert.equal(await assertIntact(out, 'after the refusals'), 1);
  });

  it("weights poisoned on an epoch's last step: the CLI fails, and nothing of them is saved or reported", async () => {
    const out = fresh('nan');
    // one batch an epoch: the poisoning update is the epoch's last step, and its loss was finite
    const r = cli(['--out', out, '--lr', '1e39', '--clip', '0', '--warmup-epochs', '0', '--epochs', '2', '--limit', '32']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /after step 1 \(the end of epoch 1\) .* holds (NaN|-?Infinity) .* stopped before evaluating or saving it/);
    assert.equal(await assertIntact(out, 'after the NaN'), 0);
    assert.ok(!existsSync(join(out, 'result.json')));
  });
  it('Ctrl-C in a terminal gives the cursor and line wrap back, names the checkpoint and exits 130', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0) return t.skip('no script(1) for a pseudo-terminal');
    const out = fresh('ctrlc');
    const typescript = join(out, 'terminal.log');
    const command = [process.execPath, ...NODE, ...RUN, '--epochs', '40', '--limit', '3000', '--out', join(out, 'run')].join(' ');
    const term = spawn('script', ['-qfec', command, typescript], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => term.on('exit', (code) => r(code)));
    for (let i = 0; i < 600 && !(existsSync(typescript) && readFileSync(typescript, 'latin1').includes('epoch 2/40')); i++)
      await new Promise((r) => setTimeout(r, 50));
    const pid = Number(
      spawnSync('pgrep', ['-f', '--', `^${process.execPath} .*--out ${join(out, 'run')}$`], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')[0],
    );
    assert.ok(pid, 'the CLI is running in the terminal');
    process.kill(pid!, 'SIGINT');
    assert.equal(await exited, 130);
    const screen = readFileSync(typescript, 'latin1');
    const tail = screen.slice(screen.lastIndexOf('epoch 2/40'));
    assert.ok(tail.includes('\x1b[?25h'), 'the cursor is shown again');
    assert.ok(tail.includes('\x1b[?7h'), 'line wrap is on again');
    assert.match(tail, /interrupted; the last checkpoint is .*epoch-1; continue with --resume --out/);
  });
  it('a read-only file system is named as such', async (t) => {
    const ro = fresh('ro');
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', ro]).status !== 0) return t.skip('mounting a tmpfs needs root');
    try {
      const r = cli(['--out', join(ro, 'run')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /--out: cannot create .*\/run \(a read-only file system, EROFS\)/);
    } finally {
      spawnSync('umount', [ro]);
    }
  });
  it('a disk that fills up mid-run: a clear error, and the last good checkpoint stays whole', async (t) => {
    const sizing = fresh('size');
    assert.equal(cli(['--out', sizing, '--stop-after', '1']).status, 0);
    const du = (p: string): number =>
      readdirSync(p, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? du(join(p, e.name)) : readFileSync(join(p, e.name)).length), 0);
    const one = du(join(sizing, 'checkpoints', 'epoch-1'));
    const disk = fresh('disk');
    const size = Math.ceil((du(sizing) + one * 0.6) / 4096) * 4096; // room for the first epoch and part of the second
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', disk]).status !== 0) return t.skip('mounting a tmpfs needs root');
    try {
      const out = join(disk, 'run');
      mkdirSync(out);
      const r = cli(['--out', out]);
      assert.equal(r.status, 1, 'the run fails');
      assert.match(
        r.stderr,
        /(saveCheckpoint: epoch 2 could not be written to .* \(no space left on the device, ENOSPC\); the last good checkpoint stays|ENOSPC)/,
      );
      assert.equal(await assertIntact(out, 'after the disk filled'), 1);
      assert.deepEqual(readdirSync(join(out, 'checkpoints')).sort(), ['epoch-1', 'latest.json'], 'no partial checkpoint left');
    } finally {
      spawnSync('umount', [disk]);
    }
  });
});
