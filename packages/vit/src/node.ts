/**
 * @ggem/vit/node: weights as files (Node only). Everything else, and weights from bytes,
 * Blobs, Responses and URLs, is in `@ggem/vit`.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import type { AnyModule, LoadOptions } from '@ggem/tensor';
import { readSafetensors, writeSafetensors, type FloatStorage, type SafetensorsFile } from './safetensors.js';
import { loadInto, modelMetadata, type WeightsReport } from './weights.js';

/** Reads a safetensors file. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: ${code === 'EISDIR' ? 'a folder, not a safetensors file' : code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return readSafetensors(bytes, path);
}

/**
 * Writes a safetensors file atomically: to a temporary file in the same folder, flushed,
 * then renamed over the target, so a crash leaves the old file or the new one.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Parameters<typeof writeSafetensors>[0],
  metadata: Record<string, string> = {},
  options: { dtype?: FloatStorage } = {},
): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(writeSafetensors(tensors, metadata, options));
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
}

/** Saves a model's state dict (timm names) and architecture as a safetensors file, atomically. */
export function saveWeightsFile(model: AnyModule, path: string, metadata: Record<string, string> = {}, options: { dtype?: FloatStorage } = {}): Promise<void> {
  return writeSafetensorsFile(path, model.stateDict(), { ...modelMetadata(model), ...metadata }, options);
}

/** Loads a safetensors file into a model, all or nothing, as `loadWeights` does from bytes. */
export async function loadWeightsFile(model: AnyModule, path: string, options: LoadOptions = {}): Promise<WeightsReport> {
  return loadInto(model, await readSafetensorsFile(path), path, options);
}
