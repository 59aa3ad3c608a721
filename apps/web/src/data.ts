/**
 * The embedded Fashion-MNIST subset in a page or worker: the IDX files the build ships
 * (gzipped), fetched and decompressed with the browser's DecompressionStream, then checked
 * as the CLI checks them.
 */
import { decodeIdx, splitOf, type Split } from '@ggem/train/core';

async function idx(base: string, file: string) {
  const url = new URL(file, base).href;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const raw = new Uint8Array(await new Response(res.body!.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  return decodeIdx(raw, url);
}

/** The training or test split (`train` or `t10k`) under `base` (a folder URL ending in /). */
export async function loadSplit(base: string, prefix: 'train' | 't10k'): Promise<Split> {
  const [images, labels] = await Promise.all([idx(base, `${prefix}-images-idx3-ubyte.gz`), idx(base, `${prefix}-labels-idx1-ubyte.gz`)]);
  return splitOf(images, labels, `${prefix}-images-idx3-ubyte.gz`, `${prefix}-labels-idx1-ubyte.gz`);
}
