/**
 * A split of Fashion-MNIST as bytes, and what is done with one: checked from its two IDX
 * files, limited, filtered by class. Runtime-neutral (the web app uses it); ./dataset.ts
 * finds the files in Node.
 */
import type { Idx } from './idx-format.js';

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

export const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** The split of an images file `[n, rows, cols]` and a labels file `[n]` (classes 0..9), checked. */
export function splitOf(images: Idx, labels: Idx, imagesFile: string, labelsFile: string): Split {
  if (images.dims.length !== 3) throw new Error(`${imagesFile}: expected 3 dimensions [n, rows, cols], got [${images.dims.join(', ')}]`);
  if (labels.dims.length !== 1) throw new Error(`${labelsFile}: expected 1 dimension [n], got [${labels.dims.join(', ')}]`);
  if (images.dims[0] !== labels.dims[0]) throw new Error(`${imagesFile} has ${images.dims[0]} images but ${labelsFile} has ${labels.dims[0]} labels`);
  const bad = labels.data.findIndex((l) => l > 9);
  if (bad >= 0) throw new Error(`${labelsFile}: label ${labels.data[bad]} at position ${bad} is not a class 0..9`);
  return { images: images.data, labels: labels.data, count: images.dims[0]!, height: images.dims[1]!, width: images.dims[2]! };
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
