/**
 * The messages between the page and its worker. The worker holds the models: the one it
 * trains, and the one the panels inspect (a snapshot of training, or a loaded file); the
 * page holds none, so its own JavaScript carries no tensor engine and its thread only draws.
 */
import type { PoolingName } from '@ggem/pooling';

export type BackendChoice = 'cpu' | 'webgl2' | 'webgpu';

export interface TrainSettings {
  pooling: PoolingName;
  /** GGeM groups. */
  groups: number;
  /** Initial p of GeM / GGeM. */
  p: number;
  epochs: number;
  batchSize: number;
  seed: number;
  backend: BackendChoice;
}

/** What the panels ask of the inspected model, and what each answers. */
export interface Calls {
  /** Safetensors bytes become the inspected model; its description. */
  load(bytes: Uint8Array, name: string): ModelInfo;
  /** The training model's current weights become the inspected model. */
  publish(label: string): ModelInfo;
  /** The training model's weights as safetensors bytes. */
  snapshot(): Uint8Array;
  /** Top-3 of a 28×28 image (bytes 0..255). */
  topK(pixels: Uint8Array): { label: number; prob: number }[];
  /** Top-1 of the first n test images. */
  predictions(n: number): number[];
  /** The last block's patch tokens of test image i, `[n, c]` row-major, on a grid×grid patch grid. */
  tokens(image: number): { data: Float32Array; n: number; c: number; grid: number; groups: number; p: number[] };
  /** Per group at these p: average, pooled value, maximum, and the gradient over the patches. */
  pooled(image: number, ps: number[]): { avg: number; pooled: number; max: number; grad: number[] }[];
  /** Attention from patch `query` to every patch, per head, in `block`. */
  attention(image: number, block: number, query: number): number[][];
  /** Mean attention distance per head and inter-head CKA of `block`, over 64 test images. */
  heads(block: number): { distance: number[]; cka: number[][] };
}

export interface ModelInfo {
  source: string;
  pooling: PoolingName;
  groups: number;
  patchSize: number;
  depth: number;
  grid: number;
}

/** Page → worker. */
export type ToWorker =
  | { type: 'init'; dataUrl: string }
  | { type: 'start'; settings: TrainSettings }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'reset' }
  | { [K in keyof Calls]: { type: 'call'; id: number; fn: K; args: Parameters<Calls[K]> } }[keyof Calls];

/** Worker → page. */
export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'step'; step: number; epoch: number; loss: number; acc: number; p: number[]; imagesPerSecond: number; kernelClasses: string[]; fallbacks: string[] }
  | { type: 'epoch'; epoch: number; testAcc: number }
  | { type: 'done' }
  | { type: 'paused' }
  | { type: 'result'; id: number; value?: unknown; error?: string }
  | { type: 'error'; message: string };
