import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Generator, randn, tensor } from '@ggem/tensor';
import { createVit, halfToFloat, MAX_HEADER_BYTES, readSafetensors, writeSafetensors } from './index.js';
import { loadWeightsFile, saveWeightsFile } from './node.js';

/** A file from a header object and a data buffer, for building malformed cases. */
function file(header: unknown, data = new Uint8Array(0), headerText?: string): Uint8Array {
  const h = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips bits exactly, with metadata; the header is 8-byte aligned', () => {
    const tensors = { a: randn([3, 4], { generator: new Generator(1) }), 'b.c': tensor([1.5, -2, NaN, Infinity]), s: tensor(7) };
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    assert.equal(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8, 0);
    const back = readSafetensors(bytes);
    assert.deepEqual(back.metadata, { format: 'pt' });
    for (const [k, t] of Object.entries(tensors)) {
      assert.deepEqual(back.tensors[k]!.shape, t.shape);
      assert.deepEqual(new Uint32Array(back.tensors[k]!.data.buffer), new Uint32Array((t.data as Float32Array).slice().buffer), k);
    }
  });
  it('reads F64, F16 and BF16', () => {
    const f64 = new Float64Array([1.25, -3]);
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00]); // 1, -2, smallest subnormal, +inf
    const bf16 = new Uint16Array([0x3f80, 0xc040]); // 1, -3
    const data = new Uint8Array(16 + 8 + 4);
    data.set(new Uint8Array(f64.buffer), 0);
    data.set(new Uint8Array(f16.buffer), 16);
    data.set(new Uint8Array(bf16.buffer), 24);
    const t = readSafetensors(
      file(
        {
          a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
          b: { dtype: 'F16', shape: [4], data_offsets: [16, 24] },
          c: { dtype: 'BF16', shape: [2], data_offsets: [24, 28] },
        },
        data,
      ),
    ).tensors;
    assert.deepEqual(Array.from(t.a!.data), [1.25, -3]);
    assert.deepEqual(Array.from(t.b!.data), [1, -2, 2 ** -24, Infinity].map(Math.fround));
    assert.deepEqual(Array.from(t.c!.data), [1, -3]);
    assert.equal(halfToFloat(0x3555), 0.333251953125);
  });
  it('keys named __proto__ are keys like any other; __metadata__ must be an object of strings', () => {
    const w = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
    const bytes = file(JSON.parse(`{"__proto__": ${JSON.stringify(w)}, "__metadata__": {"__proto__": "x", "format": "pt"}}`), new Uint8Array(4));
    const { tensors, metadata } = readSafetensors(bytes, 'evil.safetensors');
    assert.deepEqual(Object.keys(tensors), ['__proto__']);
    assert.deepEqual(Object.keys(metadata), ['__proto__', 'format']);
    assert.equal(Object.getPrototypeOf(tensors), Object.prototype, 'the prototype is untouched');
    assert.throws(() => createVit('vit_mnist_tiny', 'ggem').loadStateDict(tensors), /unexpected keys: __proto__/);
    assert.throws(() => readSafetensors(file({ __metadata__: ['a'] }), 'm.safetensors'), /m\.safetensors: __metadata__ is an array, not an object of strings/);
  });
  it('pads the header to 8 bytes counting UTF-8 bytes, not characters', () => {
    for (const name of ['w', 'poids-é', '重み', 'ω'.repeat(5)]) {
      const bytes = writeSafetensors({ [name]: tensor([1, 2]) }, { note: 'ünïcode' });
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      assert.equal((8 + n) % 8, 0, `${name}: the data starts 8-byte aligned`);
      assert.deepEqual([...readSafetensors(bytes).tensors[name]!.data], [1, 2], name);
    }
  });
  it('rejects every malformed file with an error naming the file and the problem', () => {
    const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const cases: [string, Uint8Array, RegExp][] = [
      ['too short', new Uint8Array(4), /too short for the 8-byte header length/],
      ['truncated header', file(ok, new Uint8Array(8)).subarray(0, 20), /header length \d+ runs past the end of the file/],
      [
        'header too large',
        (() => {
          const b = new Uint8Array(16);
          new DataView(b.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
          return b;
        })(),
        /exceeds the 100000000-byte limit/,
      ],
      [
        'huge length (no allocation)',
        (() => {
          const b = new Uint8Array(16);
          new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true);
          return b;
        })(),
        /exceeds the/,
      ],
      ['bad JSON', file(null, new Uint8Array(0), '{"w": '), /the header is not valid JSON/],
      ['not an object', file([1, 2]), /the header is not a JSON object/],
      [
        'unknown dtype',
        file({ w: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
        /tensor 'w' has dtype "C64"; supported: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL/,
      ],
      ['truncated data', file(ok, new Uint8Array(4)), /data_offsets \[0, 8\] run past the 4-byte data buffer: truncated/],
      [
        'size mismatch',
        file({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
        /of shape \[3\] F32 needs 12 bytes, its offsets give 8/,
      ],
      [
        'overlap',
        file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)),
        /tensor 'b' \[4, 12\) overlaps the tensor before it/,
      ],
      ['hole', file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /bytes \[0, 4\) of the data buffer belong to no tensor/],
      ['trailing bytes', file(ok, new Uint8Array(12)), /bytes \[8, 12\) of the data buffer belong to no tensor/],
      ['negative offsets', file({ w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, new Uint8Array(8)), /invalid data_offsets/],
      ['bad shape', file({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, new Uint8Array(8)), /invalid shape \[-2\]/],
    ];
    for (const [what, bytes, err] of cases) {
      assert.throws(
        () => readSafetensors(bytes, 'model.safetensors'),
        (e: Error) => e.message.startsWith('model.safetensors: ') && err.test(e.message),
        what,
      );
    }
  });
  it('saves atomically and loads a model strictly; another pooling loads with a report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-vit-'));
    const path = join(dir, 'model.safetensors');
    const gem = createVit('vit_mnist_tiny', 'gem', { seed: 2 });
    await saveWeightsFile(gem, path);
    assert.deepEqual(readdirSync(dir), ['model.safetensors'], 'no temporary file left');
    await assert.rejects(loadWeightsFile(createVit('vit_mnist_tiny', 'gem'), dir), new RegExp(`${dir}: a folder, not a safetensors file`));
    await assert.rejects(loadWeightsFile(createVit('vit_mnist_tiny', 'gem'), join(dir, 'none.safetensors')), /none\.safetensors: no such file/);
    const again = createVit('vit_mnist_tiny', 'gem', { seed: 3 });
    await loadWeightsFile(again, path);
    for (const [k, p] of gem.namedParameters()) assert.deepEqual(again.namedParameters().find(([n]) => n === k)![1].data, p.data, k);
    const token = createVit('vit_mnist_tiny', 'token');
    await assert.rejects(
      loadWeightsFile(token, path),
      /model\.safetensors: saved from another model \(pooling: the file's "gem", the model's "token"; fcNorm: the file's true, the model's false\)/,
    );
    const report = await loadWeightsFile(token, path, { strict: false });
    assert.deepEqual(report, {
      missing: ['norm.weight', 'norm.bias'],
      unexpected: ['pool.p', 'fc_norm.weight', 'fc_norm.bias'],
      mismatched: [],
      config: ['pooling: the file\'s "gem", the model\'s "token"', "fcNorm: the file's true, the model's false"],
      resampled: [],
    });
    // same-shaped tensors of another pooling (max and avg have none of their own) load, and would mean something else
    const max = createVit('vit_mnist_tiny', 'max', { seed: 4 });
    await saveWeightsFile(max, path);
    await assert.rejects(
      loadWeightsFile(createVit('vit_mnist_tiny', 'avg'), path),
      /saved from another model \(pooling: the file's "max", the model's "avg"\)/,
    );
    await saveWeightsFile(createVit('vit_mnist_tiny', 'ggem', { poolGroups: 2 }), path);
    await assert.rejects(loadWeightsFile(createVit('vit_mnist_tiny', 'ggem'), path), /poolGroups: the file's 2, the model's 4/);
    assert.deepEqual(token.blocks[0]!.attn.qkv.weight.data, gem.blocks[0]!.attn.qkv.weight.data, 'the blocks loaded');
  });
});
