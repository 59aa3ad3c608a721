import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildModule, Bytes, Fn, I32, op } from './emit.js';

describe('the WebAssembly writer', () => {
  it('Bytes keeps every byte, in order, as it grows past its first buffer', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 12 }), (parts) => {
        const b = new Bytes();
        for (const [i, p] of parts.entries()) b.write(i % 2 ? p : Array.from(p));
        const expected = parts.flatMap((p) => Array.from(p));
        assert.deepEqual(Array.from(b.bytes), expected);
      }),
    );
  });

  it('writes a module whose long body runs: n stores of f32 constants at consecutive addresses', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    // each store is about 12 bytes, so 400 of them go well past Bytes's first 1 KB
    const n = 400;
    const f = new Fn('fill', [I32]);
    for (let i = 0; i < n; i++) f.emit(op.get(0), op.f32(i * 0.5 - 7), op.f32Store(4 * i));
    const bytes = buildModule([f.def()], { shared: false, min: 1, max: 1 });
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    (exports.fill as (p: number) => void)(64);
    const out = new Float32Array(memory.buffer, 64, n);
    for (let i = 0; i < n; i++) assert.equal(out[i], i * 0.5 - 7, `value ${i}`);
  });

  it('gives a module its own buffer, not a view of a larger one (WebAssembly.Module(bytes.buffer) works)', () => {
    // a short module: the writer's first buffer is larger than it
    const f = new Fn('nop', [I32]);
    const bytes = buildModule([f.def()], { shared: false, min: 1, max: 1 });
    assert.equal(bytes.buffer.byteLength, bytes.byteLength);
    assert.ok(WebAssembly.validate(bytes.buffer));
  });
});
