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
import type { Impl } from '../harness.js';

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
    this.proc.stdin.write(JSON.stringify(msg) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the PyTorch peer exited');
    return JSON.parse(value) as T;
  }

  close(): void {
    this.proc.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
  }
}

/**
 * PyTorch as an engine of a workload: x and w go to files the peer reads, `setup` (the
 * workload's name and parameters) prepares it, each run returns its result summary.
 * Reported as not installed when Debian's python3 has no torch.
 */
export function torchImpl(engine: string, x: Tensor, w: Tensor, setup: Record<string, unknown>): Impl {
  if (!torchAvailable()) return { engine: 'PyTorch (python3-torch not installed)', setup: () => { throw new Error('not installed: apt-get install -y python3-torch'); } };
  let peer: TorchPeer | null = null;
  return {
    engine,
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'ggem-bench-'));
      writeFileSync(join(dir, 'x.f32'), x.data as Float32Array);
      writeFileSync(join(dir, 'w.f32'), w.data as Float32Array);
      peer = new TorchPeer();
      await peer.send({ cmd: 'setup', x: join(dir, 'x.f32'), w: join(dir, 'w.f32'), ...setup });
      return async () => Float64Array.from((await peer!.send<{ result: number[] }>({ cmd: 'run' })).result);
    },
    teardown: () => peer?.close(),
  };
}
