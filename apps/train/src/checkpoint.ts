import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, type GeneratorState, type optim, type TypedArray } from '@ggem/tensor';
import type { VisionTransformer } from '@ggem/vit';
import { readSafetensorsFile, writeSafetensorsFile } from '@ggem/vit/node';

/** Everything besides tensors that a resumed run needs to continue exactly. */
export interface CheckpointState {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps done. */
  step: number;
  rng: { data: GeneratorState; model: GeneratorState };
  schedule: { t: number; base: number[] };
  optimizer: Omit<optim.OptimizerState, 'buffers'>;
  /** The options the run was started with (checked on resume). */
  options: Record<string, unknown>;
  history: Record<string, unknown>[];
}

const LATEST = 'latest.json';

function writeDurably(path: string, data: string | Uint8Array): void {
  writeFileSync(path, data);
  const fd = openSync(path, 'r');
  fsyncSync(fd);
  closeSync(fd);
}

/**
 * Writes `<dir>/epoch-N/` (model.safetensors with timm names, optimizer.safetensors with the
 * optimizer's buffers, state.json) atomically: into a temporary folder, renamed into place,
 * then `latest.json` replaced by rename. A kill at any point leaves the previous checkpoint
 * whole and `latest.json` pointing at it. Keeps the two newest checkpoints.
 */
export async function saveCheckpoint(dir: string, model: VisionTransformer, opt: optim.Optimizer, state: Omit<CheckpointState, 'optimizer'>): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const name = `epoch-${state.epoch}`;
  const tmp = join(dir, `${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const { buffers, ...optimizer } = opt.stateDict();
  await writeSafetensorsFile(join(tmp, 'model.safetensors'), model.stateDict(), { format: 'pt', epoch: String(state.epoch) });
  await writeSafetensorsFile(join(tmp, 'optimizer.safetensors'), Object.fromEntries(Object.entries(buffers).map(([k, v]) => [k, tensor(v)])));
  writeDurably(join(tmp, 'state.json'), JSON.stringify({ ...state, optimizer }, null, 1));
  rmSync(join(dir, name), { recursive: true, force: true });
  renameSync(tmp, join(dir, name));
  writeDurably(join(dir, `${LATEST}.tmp`), JSON.stringify({ epoch: state.epoch, dir: name }));
  renameSync(join(dir, `${LATEST}.tmp`), join(dir, LATEST));
  for (const old of readdirSync(dir)) {
    const m = /^epoch-(\d+)$/.exec(old);
    if (m && Number(m[1]) < state.epoch - 1) rmSync(join(dir, old), { recursive: true, force: true });
  }
  return join(dir, name);
}

export interface LoadedCheckpoint {
  path: string;
  state: CheckpointState;
  weights: Awaited<ReturnType<typeof readSafetensorsFile>>['tensors'];
  optimizer: optim.OptimizerState;
}

/** The checkpoint `latest.json` points to, or null when the folder has none. */
export async function loadLatestCheckpoint(dir: string): Promise<LoadedCheckpoint | null> {
  const pointer = join(dir, LATEST);
  if (!existsSync(pointer)) return null;
  const { dir: name } = JSON.parse(readFileSync(pointer, 'utf8')) as { dir: string };
  const path = join(dir, name);
  let state: CheckpointState & { optimizer: Omit<optim.OptimizerState, 'buffers'> };
  try {
    state = JSON.parse(readFileSync(join(path, 'state.json'), 'utf8'));
  } catch (e) {
    throw new Error(`${join(path, 'state.json')}: cannot read the checkpoint state (${(e as Error).message})`);
  }
  const weights = (await readSafetensorsFile(join(path, 'model.safetensors'))).tensors;
  const buffers: Record<string, TypedArray> = {};
  for (const [k, t] of Object.entries((await readSafetensorsFile(join(path, 'optimizer.safetensors'))).tensors)) buffers[k] = t.data;
  return { path, state, weights, optimizer: { ...state.optimizer, buffers } };
}
