import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadData } from './dataset.js';
import { encodeIdx, parseIdx, readIdx } from './idx.js';

describe('IDX files', () => {
  it('round-trips, raw and gzipped', () => {
    const bytes = encodeIdx([2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6]));
    for (const b of [bytes, new Uint8Array(gzipSync(bytes))]) {
      const idx = parseIdx(b, 'x');
      assert.deepEqual(idx.dims, [2, 3]);
      assert.deepEqual(Array.from(idx.data), [1, 2, 3, 4, 5, 6]);
    }
  });
  it('names the file and the problem for corrupt data', () => {
    const ok = encodeIdx([2, 3], new Uint8Array(6));
    const bad = (b: Uint8Array, re: RegExp) =>
      assert.throws(
        () => parseIdx(b, 'train-images.gz'),
        (e: Error) => e.message.startsWith('train-images.gz: ') && re.test(e.message),
      );
    bad(ok.subarray(0, 10), /need 6 bytes of data, the file has -2|truncated IDX header/);
    bad(ok.subarray(0, 14), /need 6 bytes of data, the file has 2 \(truncated\)/);
    bad(Uint8Array.from([0, 0, 9, 1, 0, 0, 0, 0]), /bad IDX magic number 0x00000901/);
    bad(Uint8Array.from([0x1f, 0x8b, 1, 2, 3]), /corrupt gzip data/);
    assert.throws(() => readIdx('/nonexistent/file.gz'), /\/nonexistent\/file\.gz: cannot read \(ENOENT\)/);
  });
  it('checks that images and labels agree, and explains how to get the full data', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-idx-'));
    for (const p of ['train', 't10k']) {
      writeFileSync(join(dir, `${p}-images-idx3-ubyte`), encodeIdx([3, 2, 2], new Uint8Array(12)));
      writeFileSync(join(dir, `${p}-labels-idx1-ubyte`), encodeIdx([p === 'train' ? 2 : 3], new Uint8Array(p === 'train' ? 2 : 3)));
    }
    assert.throws(() => loadData(dir), /train-images-idx3-ubyte has 3 images but .*train-labels-idx1-ubyte has 2 labels/);
    assert.throws(() => loadData('/nonexistent'), /data folder \/nonexistent does not exist/);
    const embedded = loadData('embedded');
    assert.equal(embedded.train.count, 10000);
    assert.equal(embedded.test.count, 2000);
    const perClass = new Array(10).fill(0);
    embedded.train.labels.forEach((l) => perClass[l]++);
    assert.deepEqual(perClass, new Array(10).fill(1000), 'class-balanced');
  });
});
