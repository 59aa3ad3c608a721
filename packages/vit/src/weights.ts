import type { AnyModule, LoadOptions, LoadReport, Tensor } from '@ggem/tensor';
import { resamplePosEmbed } from './pos-embed.js';
import { readSafetensors, writeSafetensors, type FloatStorage, type SafetensorsFile } from './safetensors.js';
import { VIT_DEFAULTS, VisionTransformer, type VitConfig } from './vit.js';

/** The `__metadata__` key under which a ViT's architecture is saved with its weights. */
export const CONFIG_KEY = 'ggem.vit';
/** What the weights' meaning depends on (trainP, dropout and the seed do not change it). */
const ARCHITECTURE = [
  'imgSize',
  'patchSize',
  'inChans',
  'numClasses',
  'embedDim',
  'depth',
  'numHeads',
  'mlpRatio',
  'qkvBias',
  'pooling',
  'poolGroups',
  'classToken',
  'regTokens',
  'noEmbedClass',
  'initValues',
  'qkNorm',
  'preNorm',
  'fcNorm',
  'finalNorm',
  'normEps',
  'act',
] as const;

function architecture(c: VisionTransformer['config']): Partial<VitConfig> {
  const a: Record<string, unknown> = Object.fromEntries(ARCHITECTURE.map((k) => [k, c[k]]));
  if (c.pooling !== 'ggem') delete a.poolGroups; // only GGeM's p depends on G
  return a;
}

/** A saved architecture with the defaults of fields older files do not have (as the constructor fills them). */
function withDefaults(saved: Record<string, unknown>): Record<string, unknown> {
  const { dropRate, attnDropRate, dropPathRate, seed, poolP, trainP, dynamicImgSize, ...defaults } = VIT_DEFAULTS;
  return { ...defaults, fcNorm: saved.pooling !== 'token', ...saved };
}

/** Fields that differ without changing what the weights mean: LayerScale's initial value (present or not is what counts). */
function same(k: string, a: unknown, b: unknown): boolean {
  return k === 'initValues' ? Boolean(a) === Boolean(b) : a === b;
}

/** The metadata that goes with a model's weights: a ViT's architecture (pooling, G, shape) as JSON. */
export function modelMetadata(model: AnyModule): Record<string, string> {
  return model instanceof VisionTransformer ? { [CONFIG_KEY]: JSON.stringify(architecture(model.config)) } : {};
}

/** `key: file's value ≠ model's value` for each architecture field a file's metadata gives differently. */
function configDifferences(model: AnyModule, metadata: Record<string, string>): string[] {
  const saved = metadata[CONFIG_KEY];
  if (!(model instanceof VisionTransformer) || saved === undefined) return [];
  let theirs: Record<string, unknown>;
  try {
    theirs = JSON.parse(saved);
  } catch {
    return [`${CONFIG_KEY} is not JSON: ${saved.slice(0, 80)}`];
  }
  if (typeof theirs !== 'object' || theirs === null || Array.isArray(theirs)) return [`${CONFIG_KEY} is not an object: ${saved.slice(0, 80)}`];
  theirs = withDefaults(theirs);
  const ours = architecture(model.config) as Record<string, unknown>;
  // the image size may differ: the position embeddings are resampled on load
  return [...new Set([...Object.keys(ours), ...Object.keys(theirs)])]
    .filter((k) => k !== 'imgSize' && !same(k, theirs[k], ours[k]))
    .map((k) => `${k}: the file's ${JSON.stringify(theirs[k]) ?? 'none'}, the model's ${JSON.stringify(ours[k]) ?? 'none'}`);
}

/**
 * A load's report: the tensors skipped (LoadReport), and for a ViT, the architecture fields in
 * which the file differs and the tensors resampled to fit (position embeddings of another
 * image size).
 */
export interface WeightsReport extends LoadReport {
  config: string[];
  resampled: string[];
}

/**
 * A ViT's tensors as the model needs them: position embeddings saved for another patch grid
 * resampled to the model's, as timm's checkpoint filter does (`resample_abs_pos_embed`:
 * bicubic, antialiased, prefix tokens kept), so that a 224² checkpoint runs at 384².
 */
function fitToModel(model: AnyModule, tensors: Record<string, Tensor>): { tensors: Record<string, Tensor>; resampled: string[] } {
  const pos = tensors.pos_embed;
  if (!(model instanceof VisionTransformer) || pos === undefined || pos.rank !== 3) return { tensors, resampled: [] };
  const want = model.pos_embed.shape;
  if (pos.shape[1] === want[1] || pos.shape[2] !== want[2]) return { tensors, resampled: [] };
  const prefix = model.config.noEmbedClass ? 0 : model.numPrefixTokens;
  const side = Math.sqrt(pos.shape[1]! - prefix);
  if (!Number.isInteger(side)) return { tensors, resampled: [] }; // not a square grid: left to the shape check
  const g = model.patch_embed.gridSize;
  const resampled = resamplePosEmbed(pos, [g, g], { oldGrid: [side, side], prefixTokens: prefix }).detach();
  return { tensors: { ...tensors, pos_embed: resampled }, resampled: [`pos_embed: ${side}×${side} → ${g}×${g} patches`] };
}

/**
 * Where safetensors bytes come from, in any runtime: the bytes themselves, a `Response`
 * (what `fetch` returns), a `Blob` or `File` (a browser's file picker or drop), or a URL
 * (fetched; a string is taken as a URL, relative to the page in a browser). Paths are
 * Node's: `@ggem/vit/node` reads files.
 */
export type WeightsSource = ArrayBuffer | ArrayBufferView | Blob | Response | URL | string;

/** The bytes of `source` and the name its errors use. */
async function bytesOf(source: WeightsSource): Promise<{ bytes: Uint8Array; name: string }> {
  if (source instanceof Uint8Array) return { bytes: source, name: 'safetensors bytes' };
  if (ArrayBuffer.isView(source)) return { bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength), name: 'safetensors bytes' };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), name: 'safetensors bytes' };
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = typeof File !== 'undefined' && source instanceof File ? source.name : 'safetensors blob';
    return { bytes: new Uint8Array(await source.arrayBuffer()), name };
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    const name = source.url || 'safetensors response';
    return { bytes: await body(source, name), name };
  }
  if (typeof source === 'string' || source instanceof URL) {
    const url = String(source);
    if (typeof location === 'undefined' && !URL.canParse(url)) {
      throw new Error(`${url}: not a URL, and there is no page to resolve it against; in Node, read files with loadWeightsFile from @ggem/vit/node`);
    }
    let response: Response;
    try {
      response = await fetch(source);
    } catch (e) {
      throw new Error(`${url}: could not fetch the weights (${(e as Error).message})`);
    }
    return { bytes: await body(response, url), name: url };
  }
  throw new Error(`readWeights: expected bytes (ArrayBuffer, Uint8Array), a Blob or File, a Response or a URL, got ${Object.prototype.toString.call(source)}`);
}

/** A response's whole body, refused unless it is a success and as long as it says. */
async function body(response: Response, url: string): Promise<Uint8Array> {
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}, not safetensors weights`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw new Error(`${url}: the download broke off (${(e as Error).message})`);
  }
  const declared = response.headers.get('content-length');
  const encoded = response.headers.get('content-encoding');
  if (declared !== null && (encoded === null || encoded === 'identity') && Number(declared) !== bytes.length) {
    throw new Error(`${url}: received ${bytes.length} of ${declared} bytes: truncated download`);
  }
  return bytes;
}

/** Reads a safetensors file from bytes, a Blob/File, a Response or a URL. */
export async function readWeights(source: WeightsSource): Promise<SafetensorsFile> {
  const { bytes, name } = await bytesOf(source);
  return readSafetensors(bytes, name);
}

/**
 * Loads weights into a model, all or nothing: the whole file is read and checked, and every
 * tensor matched against the model, before any parameter changes. Strict by default (every
 * missing, unexpected or mis-shaped tensor named in the error); `{ strict: false }` loads
 * what fits, e.g. a checkpoint trained with another pooling, and returns what it skipped.
 * Errors name the source (the URL, the file's name).
 */
export async function loadWeights(model: AnyModule, source: WeightsSource, options: LoadOptions = {}): Promise<WeightsReport> {
  const { bytes, name } = await bytesOf(source);
  return loadInto(model, readSafetensors(bytes, name), name, options);
}

/**
 * Loads a parsed file into a model; errors are prefixed with `name`. A ViT's weights carry
 * its architecture (`modelMetadata`): a strict load refuses a file saved from another pooling,
 * G or shape, naming each difference, since same-shaped tensors of another pooling would load
 * and silently mean something else; a non-strict load reports them.
 */
export function loadInto(model: AnyModule, file: SafetensorsFile, name: string, options: LoadOptions = {}): WeightsReport {
  const config = configDifferences(model, file.metadata);
  if ((options.strict ?? true) && config.length > 0) {
    throw new Error(`${name}: saved from another model (${config.join('; ')}); build the model the file describes, or load what fits with { strict: false }`);
  }
  try {
    const { tensors, resampled } = fitToModel(model, file.tensors);
    return { ...model.loadStateDict(tensors, options), config, resampled };
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
}

/**
 * The ViT a file describes, with its weights: the architecture from the file's metadata (what
 * `weightsToBytes` writes), built, then loaded strictly. A file without that metadata (a timm
 * checkpoint) is an error saying so: build the model yourself and use `loadWeights`.
 */
export async function vitFromWeights(source: WeightsSource): Promise<VisionTransformer> {
  const { bytes, name } = await bytesOf(source);
  const file = readSafetensors(bytes, name);
  const saved = file.metadata[CONFIG_KEY];
  if (saved === undefined)
    throw new Error(`${name}: no ${CONFIG_KEY} metadata (the architecture); not weights this project wrote, so build the model and use loadWeights`);
  let config: VitConfig;
  try {
    config = JSON.parse(saved) as VitConfig;
  } catch {
    throw new Error(`${name}: ${CONFIG_KEY} is not JSON: ${saved.slice(0, 80)}`);
  }
  let model: VisionTransformer;
  try {
    model = new VisionTransformer(config);
  } catch (e) {
    throw new Error(`${name}: ${CONFIG_KEY} does not describe a ViT (${(e as Error).message})`);
  }
  loadInto(model, file, name);
  return model.eval();
}

/** A model's state dict (timm names) as safetensors bytes, with its architecture in the metadata; floats as F32 unless `options.dtype` (F16, BF16: half the size). */
export function weightsToBytes(model: AnyModule, metadata: Record<string, string> = {}, options: { dtype?: FloatStorage } = {}): Uint8Array {
  return writeSafetensors(model.stateDict(), { ...modelMetadata(model), ...metadata }, options);
}

/** A model's weights as a Blob, for a page to offer as a download (`URL.createObjectURL`). */
export function weightsToBlob(model: AnyModule, metadata: Record<string, string> = {}): Blob {
  return new Blob([weightsToBytes(model, metadata) as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
}
