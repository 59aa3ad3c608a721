import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readIdx } from './idx.js';
import { splitOf, type Split } from './split.js';

export { CLASS_NAMES, filterClasses, limitSplit, type Split } from './split.js';

export interface Data {
  train: Split;
  test: Split;
  source: string;
}

export const FULL_DIR = '/usr/share/datasets/fashion-mnist';
export const EMBEDDED_DIR = fileURLToPath(new URL('../../data/', import.meta.url));

function split(dir: string, prefix: string): Split {
  const find = (kind: string) => {
    for (const name of [`${prefix}-${kind}.gz`, `${prefix}-${kind}`]) if (existsSync(join(dir, name))) return join(dir, name);
    throw new Error(
      `${join(dir, `${prefix}-${kind}.gz`)}: no such file (a data folder holds train- and t10k- images-idx3-ubyte and labels-idx1-ubyte, gzipped or raw)`,
    );
  };
  const imagesFile = find('images-idx3-ubyte');
  const labelsFile = find('labels-idx1-ubyte');
  return splitOf(readIdx(imagesFile), readIdx(labelsFile), imagesFile, labelsFile);
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
