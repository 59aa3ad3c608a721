/**
 * safetensors dtypes against golden files (golden/generate_dtypes.py: the bytes written by
 * hand after the format's specification, the values from numpy and PyTorch): every dtype
 * read to the values PyTorch gives, F16 and BF16 written with the bits PyTorch rounds to,
 * FP8 against the OCP specification's table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { tensor } from '@ggem/tensor';
import { e4m3ToFloat, floatToBf16, floatToHalf, halfToFloat, readSafetensors, writeSafetensors } from './index.js';

const golden = JSON.parse(readFileSync(new URL('../golden/dtypes.json', import.meta.url), 'utf8')) as {
  tensors: Record<string, { shape: number[]; values: (number | string)[] }>;
  rounding: { inputs: (number | string)[]; f16_bits: number[]; bf16_bits: number[] };
};
const num = (v: number | string) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : (v as number));
const bytes = new Uint8Array(readFileSync(new URL('../golden/dtypes.safetensors', import.meta.url)));

describe('safetensors: every dtype', () => {
  it("reads each dtype to PyTorch's values: floats as float32 (F64 as float64), integers and BOOL as int32", () => {
    const f = readSafetensors(bytes, 'dtypes.safetensors');
    assert.deepEqual(Object.keys(f.tensors).sort(), Object.keys(golden.tensors).sort());
    for (const [name, want] of Object.entries(golden.tensors)) {
      const t = f.tensors[name]!;
      assert.deepEqual(t.shape, want.shape, name);
      assert.equal(t.dtype, name === 'f64' ? 'float64' : /^(i|u|bool)/.test(name) ? 'int32' : 'float32', name);
      assert.deepEqual([...t.data], want.values.map(num), name);
    }
  });
  it('writes F16 and BF16 with the bits PyTorch rounds float32 to, and reads them back', () => {
    const inputs = Float32Array.from(golden.rounding.inputs.map(num));
    assert.deepEqual(Array.from(inputs, floatToHalf), golden.rounding.f16_bits);
    assert.deepEqual(Array.from(inputs, floatToBf16), golden.rounding.bf16_bits);
    for (const dtype of ['F16', 'BF16', 'F64', 'F32'] as const) {
      const back = readSafetensors(writeSafetensors({ x: tensor(inputs) }, {}, { dtype })).tensors.x!;
      const want = dtype === 'F16' ? golden.rounding.f16_bits.map(halfToFloat) : dtype === 'BF16' ? golden.tensors.bf16!.values.map(num) : [...inputs];
      assert.deepEqual([...back.data], want, dtype);
    }
  });
  it('F16 round trips every half exactly, and rounds any float32 to the nearest half (ties to even)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = halfToFloat(h);
      if (Number.isNaN(v)) assert.ok(Number.isNaN(halfToFloat(floatToHalf(v))));
      else assert.equal(floatToHalf(v), h === 0x8000 ? 0x8000 : h, `half 0x${h.toString(16)}`);
    }
    fc.assert(
      fc.property(fc.float({ noNaN: true, min: -65504, max: 65504 }), (x) => {
        const got = halfToFloat(floatToHalf(x));
        const h = floatToHalf(x);
        // no half lies strictly nearer to x than the chosen one
        for (const n of [h - 1, h + 1])
          if (n >= 0 && n <= 0xffff && !Number.isNaN(halfToFloat(n))) assert.ok(Math.abs(halfToFloat(n) - x) >= Math.abs(got - x), `${x}`);
      }),
      { numRuns: 2000 },
    );
  });
  it("FP8: E4M3 per the OCP table (max 448, NaN at S.1111.111, no infinities), E5M2 as a half's top byte", () => {
    assert.equal(e4m3ToFloat(0x7e), 448);
    assert.ok(Number.isNaN(e4m3ToFloat(0x7f)) && Number.isNaN(e4m3ToFloat(0xff)));
    assert.equal(e4m3ToFloat(0x01), 2 ** -9);
    assert.equal(e4m3ToFloat(0x08), 2 ** -6);
    assert.equal(e4m3ToFloat(0x38), 1);
    assert.equal(e4m3ToFloat(0xb8), -1);
    assert.equal(e4m3ToFloat(0x78), 256);
    const head = (dtype: string, data: number[]) => {
      const json = new TextEncoder().encode(JSON.stringify({ x: { dtype, shape: [4], data_offsets: [0, 4] } }));
      const out = new Uint8Array(8 + json.length + 4);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(data, 8 + json.length);
      return out;
    };
    assert.deepEqual([...readSafetensors(head('F8_E4M3', [0x38, 0x7e, 0x3c, 0x7c])).tensors.x!.data], [1, 448, 1.5, 384]);
    assert.deepEqual([...readSafetensors(head('F8_E5M2', [0x38, 0x7b, 0x3c, 0x7c])).tensors.x!.data], [0.5, 57344, 1, Infinity]);
  });
  it('an integer beyond int32, or an unknown dtype, is an error naming the tensor', () => {
    const file = (dtype: string, data: Uint8Array) => {
      const json = new TextEncoder().encode(JSON.stringify({ step: { dtype, shape: [1], data_offsets: [0, data.length] } }));
      const out = new Uint8Array(8 + json.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(data, 8 + json.length);
      return out;
    };
    const big = new Uint8Array(new BigInt64Array([2n ** 40n]).buffer);
    assert.throws(
      () => readSafetensors(file('I64', big), 'ckpt.safetensors'),
      /ckpt\.safetensors: tensor 'step' \(I64\) holds 1099511627776 at 0, beyond int32/,
    );
    assert.throws(
      () => readSafetensors(file('C64', new Uint8Array(8)), 'ckpt.safetensors'),
      /ckpt\.safetensors: tensor 'step' has dtype "C64"; supported: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64/,
    );
  });
});
