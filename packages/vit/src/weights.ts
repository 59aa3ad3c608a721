import type { LoadReport, Module } from '@ggem/tensor';
import { readSafetensors, writeSafetensors, type SafetensorsFile } from './safetensors.js';

/** Reads a safetensors file (Node). */
export async function loadSafetensors(path: string): Promise<SafetensorsFile> {
  const { readFile } = await import('node:fs/promises');
  return readSafetensors(new Uint8Array(await readFile(path)), path);
}

/**
 * Writes a safetensors file atomically (Node): to a temporary file in the same folder,
 * flushed, then renamed over the target, so a crash leaves the old file or the new one.
 */
export async function saveSafetensors(path: string, tensors: Parameters<typeof writeSafetensors>[0], metadata: Record<string, string> = {}): Promise<void> {
  const { open, rename } = await import('node:fs/promises');
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(writeSafetensors(tensors, metadata));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** Saves a model's state dict (timm names) as safetensors. */
export function saveWeights(model: Module<any, any>, path: string, metadata: Record<string, string> = {}): Promise<void> {
  return saveSafetensors(path, model.stateDict(), metadata);
}

/**
 * Loads weights into a model. Strict by default (every missing, unexpected or mis-shaped
 * tensor named in the error); `{ strict: false }` loads what fits, e.g. a checkpoint trained
 * with another pooling, and returns what it skipped.
 */
export async function loadWeights(model: Module<any, any>, path: string, options: { strict?: boolean } = {}): Promise<LoadReport> {
  const { tensors } = await loadSafetensors(path);
  try {
    return model.loadStateDict(tensors, options);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}
