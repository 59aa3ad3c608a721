import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tensor, type GeneratorState, type optim, type Tensor, type TypedArray, type AnyModule } from '@ggem/tensor';
import { modelMetadata, type VisionTransformer } from '@ggem/vit';
import { readSafetensorsFile, writeSafetensorsFile } from '@ggem/vit/node';

/** Everything besides tensors that a resumed run needs to continue exactly. */
export interface CheckpointState {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps done. */
  step: number;
  /** The run this checkpoint belongs to (its result.json names the same). */
  runId?: string;
  rng: { data: GeneratorState; model: GeneratorState };
  schedule: { t: number; base: number[] };
  optimizer: Omit<optim.OptimizerState, 'buffers'>;
  /** The options the run was started with (checked on resume). */
  options: Record<string, unknown>;
  history: Record<string, unknown>[];
}

const LATEST = 'latest.json';

const HINTS: Record<string, string> = {
  EROFS: 'a read-only file system',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  ENOSPC: 'no space left on the device',
  ENOTDIR: 'a file stands where a folder should',
  ENOENT: 'the file system does not allow it there',
};

/** A file-system error in words, with its code: `no space left on the device, ENOSPC`. */
function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return `${HINTS[code] ?? (e as Error).message}${code ? `, ${code}` : ''}`;
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdir loops for ever under /proc and
 * reports ENOENT on a read-only file system; this names the folder it could not make and why.
 */
export function makeDirs(path: string, what: string): void {
  const missing: string[] = [];
  for (let p = resolve(path); !existsSync(p); p = dirname(p)) missing.unshift(p);
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new Error(`${what}: cannot create ${p} (${why(e)})`);
    }
  }
}

/** The first non-finite value, as `name holds NaN at index i`, or null. */
export function nonFinite(arrays: readonly (readonly [string, ArrayLike<number>])[]): string | null {
  for (const [name, d] of arrays) {
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return `${name} holds ${d[i]} at index ${i}`;
  }
  return null;
}

/** Flushes a folder's entries (a rename is durable once its folder is). */
function syncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The optimizer's buffers (keyed by position, `group.index.buffer`) keyed by parameter name, `name:buffer`. */
const namesOf = (model: AnyModule) => new Map<Tensor, string>(model.namedParameters().map(([n, p]) => [p, n]));

function byName(buffers: Record<string, TypedArray>, opt: optim.Optimizer, model: AnyModule): Record<string, TypedArray> {
  const names = namesOf(model);
  return Object.fromEntries(
    Object.entries(buffers).map(([k, v]) => {
      const [gi, pi, ...rest] = k.split('.');
      const param = opt.groups[Number(gi)]?.params[Number(pi)];
      const name = param && names.get(param);
      if (name === undefined) throw new Error(`saveCheckpoint: optimizer buffer ${k} belongs to no parameter of the model`);
      return [`${name}:${rest.join('.')}`, v];
    }),
  );
}

/**
 * A checkpoint's optimizer state for `opt`, its buffers keyed back from parameter names to
 * `opt`'s positions, so that a change in which parameters train cannot land the moments on
 * the wrong ones; every buffer must name a parameter `opt` trains and have its size, and a
 * trained run must have them.
 */
export function optimizerState(saved: optim.OptimizerState, opt: optim.Optimizer, model: AnyModule, path: string): optim.OptimizerState {
  const where = new Map<string, [string, Tensor]>();
  const names = namesOf(model);
  opt.groups.forEach((g, gi) =>
    g.params.forEach((p, pi) => {
      const name = names.get(p);
      if (name !== undefined) where.set(name, [`${gi}.${pi}`, p]);
    }),
  );
  const buffers: Record<string, TypedArray> = {};
  for (const [k, v] of Object.entries(saved.buffers)) {
    const at = k.lastIndexOf(':');
    const [name, buf] = [k.slice(0, at), k.slice(at + 1)];
    const slot = where.get(name);
    if (at < 0 || slot === undefined) throw new Error(`${path}: optimizer buffer '${k}' names no parameter this run trains`);
    if (v.length !== slot[1].size) throw new Error(`${path}: optimizer buffer '${k}' has ${v.length} values, the parameter ${slot[1].size}`);
    buffers[`${slot[0]}.${buf}`] = v;
  }
  if (saved.step > 0 && Object.keys(buffers).length === 0 && where.size > 0)
    throw new Error(`${path}: optimizer.safetensors holds no optimizer state after ${saved.step} steps`);
  return { ...saved, buffers };
}

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
  makeDirs(dir, 'saveCheckpoint');
  // temporary folders of killed runs (this process's own is replaced below)
  for (const f of readdirSync(dir)) if (/^epoch-\d+\.tmp-\d+$/.test(f)) rmSync(join(dir, f), { recursive: true, force: true });
  const { buffers, ...optimizer } = opt.stateDict();
  const named = byName(buffers, opt, model);
  const bad = nonFinite([
    ...model.namedParameters().map(([k, p]) => [`parameter ${k}`, p.data] as const),
    ...Object.entries(named).map(([k, v]) => [`optimizer buffer ${k}`, v] as const),
  ]);
  if (bad !== null) throw new Error(`saveCheckpoint: ${bad}; epoch ${state.epoch} is not saved (the last good checkpoint stays)`);
  const name = `epoch-${state.epoch}`;
  const tmp = join(dir, `${name}.tmp-${process.pid}`);
  try {
    mkdirSync(tmp);
    await writeSafetensorsFile(join(tmp, 'model.safetensors'), model.stateDict(), { ...modelMetadata(model), format: 'pt', epoch: String(state.epoch) });
    await writeSafetensorsFile(join(tmp, 'optimizer.safetensors'), Object.fromEntries(Object.entries(named).map(([k, v]) => [k, tensor(v)])), {
      keys: 'parameter-name:buffer',
    });
    writeDurably(join(tmp, 'state.json'), JSON.stringify({ ...state, optimizer }, null, 1));
    syncDir(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`saveCheckpoint: epoch ${state.epoch} could not be written to ${dir} (${why(e)}); the last good checkpoint stays`);
  }
  rmSync(join(dir, name), { recursive: true, force: true }); // an epoch-N a killed run renamed into place but never pointed to
  renameSync(tmp, join(dir, name));
  writeDurably(join(dir, `${LATEST}.tmp`), JSON.stringify({ epoch: state.epoch, dir: name }));
  renameSync(join(dir, `${LATEST}.tmp`), join(dir, LATEST));
  syncDir(dir);
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
  let name: unknown;
  try {
    ({ dir: name } = JSON.parse(readFileSync(pointer, 'utf8')) as { dir?: unknown });
  } catch (e) {
    throw new Error(`${pointer}: cannot read the checkpoint pointer (${(e as Error).message}); expected {"epoch": N, "dir": "epoch-N"}`);
  }
  if (typeof name !== 'string' || !/^epoch-\d+$/.test(name))
    throw new Error(`${pointer}: expected {"epoch": N, "dir": "epoch-N"}, got ${readFileSync(pointer, 'utf8').slice(0, 80) || 'an empty file'}`);
  const path = join(dir, name);
  let state: CheckpointState & { optimizer: Omit<optim.OptimizerState, 'buffers'> };
  try {
    state = JSON.parse(readFileSync(join(path, 'state.json'), 'utf8'));
  } catch (e) {
    throw new Error(`${join(path, 'state.json')}: cannot read the checkpoint state (${(e as Error).message})`);
  }
  for (const k of ['epoch', 'step', 'rng', 'schedule', 'optimizer', 'options', 'history'] as const) {
    if (state[k] === undefined) throw new Error(`${join(path, 'state.json')}: the checkpoint state has no '${k}'`);
  }
  const weights = (await readSafetensorsFile(join(path, 'model.safetensors'))).tensors;
  const buffers: Record<string, TypedArray> = {};
  for (const [k, t] of Object.entries((await readSafetensorsFile(join(path, 'optimizer.safetensors'))).tensors)) buffers[k] = t.data;
  return { path, state, weights, optimizer: { ...state.optimizer, buffers } };
}
