/**
 * Writes the embedded default data (apps/train/data): a class-balanced subset of Debian's
 * Fashion-MNIST, 1000 training and 200 test images per class, in dataset order, gzipped IDX.
 *
 *   apt-get install -y dataset-fashion-mnist
 *   node --import tsx apps/train/scripts/make-embedded.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { EMBEDDED_DIR, loadData, type Split } from '../src/data/dataset.js';
import { encodeIdx } from '../src/data/idx.js';

const PER_CLASS = { train: 1000, t10k: 200 };

function balanced(s: Split, perClass: number): { images: Uint8Array; labels: Uint8Array; count: number } {
  const px = s.height * s.width;
  const taken = new Array<number>(10).fill(0);
  const pick: number[] = [];
  for (let i = 0; i < s.count && pick.length < perClass * 10; i++) {
    const l = s.labels[i]!;
    if (taken[l]! < perClass) {
      taken[l]!++;
      pick.push(i);
    }
  }
  const images = new Uint8Array(pick.length * px);
  pick.forEach((i, k) => images.set(s.images.subarray(i * px, (i + 1) * px), k * px));
  return { images, labels: Uint8Array.from(pick, (i) => s.labels[i]!), count: pick.length };
}

const full = loadData('full');
for (const [prefix, s] of [
  ['train', full.train],
  ['t10k', full.test],
] as const) {
  const b = balanced(s, PER_CLASS[prefix]);
  writeFileSync(join(EMBEDDED_DIR, `${prefix}-images-idx3-ubyte.gz`), gzipSync(encodeIdx([b.count, s.height, s.width], b.images), { level: 9 }));
  writeFileSync(join(EMBEDDED_DIR, `${prefix}-labels-idx1-ubyte.gz`), gzipSync(encodeIdx([b.count], b.labels), { level: 9 }));
  console.log(`${prefix}: ${b.count} images`);
}
