import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readIdx } from './idx.js';

/** Images as bytes `[n, 28, 28]` with labels 0..9. */
export interface Split {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export interface Data {
  train: Split;
  test: Split;
  source: string;
}

export const FULL_DIR = '/usr/share/datasets/fashion-mnist';
export const EMBEDDED_DIR = fileURLToPath(new URL('../../data/', import.meta.url));

export const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

function split(dir: string, prefix: string): Split {
  const find = (kind: string) => {
    for (const name of [`${prefix}-${kind}.gz`, `${prefix}-${kind}`]) if (existsSync(join(dir, name))) return join(dir, name);
    throw new Error(
      `${join(dir, `${prefix}-${kind}.gz`)}: no such file (a data folder holds train- and t10k- images-idx3-ubyte and labels-idx1-ubyte, gzipped or raw)`,
    );
  };
  const imagesFile = find('images-idx3-ubyte');
  const labelsFile = find('labels-idx1-ubyte');
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.dims.length !== 3) throw new Error(`${imagesFile}: expected 3 dimensions [n, rows, cols], got [${images.dims.join(', ')}]`);
  if (labels.dims.length !== 1) throw new Error(`${labelsFile}: expected 1 dimension [n], got [${labels.dims.join(', ')}]`);
  if (images.dims[0] !== labels.dims[0]) throw new Error(`${imagesFile} has ${images.dims[0]} images but ${labelsFile} has ${labels.dims[0]} labels`);
  const bad = labels.data.findIndex((l) => l > 9);
  if (bad >= 0) throw new Error(`${labelsFile}: label ${labels.data[bad]} at position ${bad} is not a class 0..9`);
  return { images: images.data, labels: labels.data, count: images.dims[0]!, height: images.dims[1]!, width: images.dims[2]! };
}

/**
 * `embedded` (the class-balanced subset in apps/train/data), `full` (Debian's
 * dataset-fashion-mnist) or a folder with the four IDX files.
 */
export function loadData(which: string): Data {
  const dir = which === 'embedded' ? EMBEDDED_DIR : which === 'full' ? FULL_DIR : which;
  if (which === 'full' && !existsSync(dir)) {
    throw new Error(`the full Fashion-MNIST is not installed: ${FULL_DIR} is missing. Install it with: apt-get install -y dataset-fashion-mnist`);
  }
  if (!existsSync(dir)) throw new Error(`data folder ${dir} does not exist (use embedded, full or a folder with the IDX files)`);
  return { train: split(dir, 'train'), test: split(dir, 't10k'), source: which };
}

/** The first `limit` images of a split. */
export function limitSplit(s: Split, limit: number): Split {
  const n = Math.min(limit, s.count);
  const px = s.height * s.width;
  return { ...s, images: s.images.subarray(0, n * px), labels: s.labels.subarray(0, n), count: n };
}

/** The images of a split whose label is in `classes` (labels keep their values). */
export function filterClasses(s: Split, classes: readonly number[]): Split {
  const px = s.height * s.width;
  const keep: number[] = [];
  for (let i = 0; i < s.count; i++) if (classes.includes(s.labels[i]!)) keep.push(i);
  const images = new Uint8Array(keep.length * px);
  keep.forEach((i, k) => images.set(s.images.subarray(i * px, (i + 1) * px), k * px));
  return { ...s, images, labels: Uint8Array.from(keep, (i) => s.labels[i]!), count: keep.length };
}
