/**
 * PyTorch (Debian's python3-torch, 1 thread) as a peer process speaking JSON lines
 * (../torch/peer.py), so that its runs alternate with ours. Absent when Debian's python3
 * has no torch: the workload then reports PyTorch as not measured.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Tensor } from '@ggem/tensor';
import { steady, type Impl } from '../harness.js';
import type { VitSpec } from '../workloads/vit.js';
import { ADAMW, CHECKED } from '../workloads/vit-step.js';

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
    threads: 1,
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

/** The benchmark ViT's weights, images and labels as files in `dir`, and the spec without them: what the peer reads. */
function vitFiles(dir: string, s: VitSpec) {
  const weights = [...s.weights].map(([name, { shape, data }], i) => {
    const path = join(dir, `w${i}.f32`);
    writeFileSync(path, data);
    return [name, shape, path];
  });
  writeFileSync(join(dir, 'x.f32'), s.x);
  writeFileSync(join(dir, 'labels.i32'), s.labels);
  const { weights: _, x: __, labels: ___, ...spec } = s;
  return { spec, weights, x: join(dir, 'x.f32'), labels: join(dir, 'labels.i32') };
}

/** The benchmark ViT in PyTorch (1 thread): a training step or a forward pass. */
export function torchVit(s: VitSpec, mode: 'step' | 'forward'): Impl {
  return peerImpl('PyTorch 1.13 CPU (1 thread)', (dir) => ({ workload: 'vit', mode, ...vitFiles(dir, s), adamw: ADAMW, checked: CHECKED }));
}

/**
 * The benchmark ViT's forward exported to ONNX by the PyTorch peer (`torch.onnx.export`,
 * opset 14, dynamic batch), made at bench time and kept in the temporary folder under a hash
 * of the architecture and weights, so that the engines' processes share one export.
 */
export async function vitOnnx(s: VitSpec): Promise<string> {
  if (!torchAvailable()) throw new Error('no ONNX model without PyTorch: apt-get install -y python3-torch');
  const { weights: _, x: __, labels: ___, batch: ____, ...arch } = s;
  const hash = createHash('sha256').update(JSON.stringify(arch));
  for (const [name, { data }] of s.weights) hash.update(name).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const folder = join(tmpdir(), 'ggem-bench-onnx');
  const path = join(folder, `vit-${hash.digest('hex').slice(0, 16)}.onnx`);
  if (existsSync(path)) return path;
  mkdirSync(folder, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'ggem-bench-'));
  const peer = new TorchPeer();
  try {
    const tmp = `${path}.${process.pid}.tmp`;
    const { spec, weights } = vitFiles(dir, s);
    await peer.send({ cmd: 'export', spec, weights, path: tmp });
    renameSync(tmp, path);
  } finally {
    peer.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return path;
}
