/**
 * PyTorch (Debian's python3-torch, 1 thread) as a peer process speaking JSON lines
 * (../torch/peer.py), so that its runs alternate with ours. Absent when Debian's python3
 * has no torch: the workload then reports PyTorch as not measured.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

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
