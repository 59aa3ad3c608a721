/**
 * PyTorch (Debian's python3-torch, 1 thread) as a peer process speaking JSON lines
 * (../torch/peer.py), so that its runs alternate with ours. Absent when Debian's python3
 * has no torch: the workload then reports PyTorch as not measured.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Tensor } from '@ggem/tensor';
import { steady, type Impl } from '../harness.js';
import { ADAMW, CHECKED, type VitSpec } from '../workloads/vit.js';

const PYTHON = '/usr/bin/python3';

export function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
}

export class TorchPeer {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;

  constructor() {
    const script = fileURLToPath(new URL('../../torch/peer.py', import.meta.url));
    this.proc = spawn(PYTHON, [script], { env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: '1' } });
    this.proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[torch] ${d}`));
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }

  async send<T>(msg: object): Promise<T> {
    this.proc.stdin.write(`${JSON.stringify(msg)}\n`);
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the PyTorch peer exited');
    return JSON.parse(value) as T;
  }

  close(): void {
    this.proc.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
  }
}

/**
 * PyTorch as an engine of a workload: `prepare` writes the inputs into a fresh folder and
 * returns the setup message; each run returns the peer's result. Reported as not installed
 * when Debian's python3 has no torch.
 */
function peerImpl(engine: string, prepare: (dir: string) => Record<string, unknown>): Impl {
  if (!torchAvailable())
    return {
      engine: 'PyTorch (python3-torch not installed)',
      setup: () => {
        throw new Error('not installed: apt-get install -y python3-torch');
      },
    };
  let peer: TorchPeer | null = null;
  return {
    engine,
    async setup() {
      const msg = prepare(mkdtempSync(join(tmpdir(), 'ggem-bench-')));
      peer = new TorchPeer();
      await peer.send({ cmd: 'setup', ...msg });
      // the peer times its run itself (the time leaves out the JSON messaging); it sits idle
      // while the other engines run, so short runs follow an untimed one as in isolated.ts
      return steady(async () => {
        const { result, ms } = await peer!.send<{ result: number[]; ms: number }>({ cmd: 'run' });
        return { result: Float64Array.from(result), ms };
      });
    },
    teardown: () => peer?.close(),
    peakMB: async () => (await peer!.send<{ maxRssMB: number }>({ cmd: 'memory' })).maxRssMB,
  };
}

/** A workload on x and w (the files the peer reads); `setup` names the workload and its parameters. */
export function torchImpl(engine: string, x: Tensor, w: Tensor, setup: Record<string, unknown>): Impl {
  return peerImpl(engine, (dir) => {
    writeFileSync(join(dir, 'x.f32'), x.data as Float32Array);
    writeFileSync(join(dir, 'w.f32'), w.data as Float32Array);
    return { x: join(dir, 'x.f32'), w: join(dir, 'w.f32'), ...setup };
  });
}

/** The benchmark ViT in PyTorch (1 thread): a training step or a forward pass. */
export function torchVit(s: VitSpec, mode: 'step' | 'forward'): Impl {
  return peerImpl('PyTorch 1.13 CPU (1 thread)', (dir) => {
    const weights = [...s.weights].map(([name, { shape, data }], i) => {
      const path = join(dir, `w${i}.f32`);
      writeFileSync(path, data);
      return [name, shape, path];
    });
    writeFileSync(join(dir, 'x.f32'), s.x);
    writeFileSync(join(dir, 'labels.i32'), s.labels);
    const { weights: _, x: __, labels: ___, ...spec } = s;
    return { workload: 'vit', mode, spec, weights, x: join(dir, 'x.f32'), labels: join(dir, 'labels.i32'), adamw: ADAMW, checked: CHECKED };
  });
}
