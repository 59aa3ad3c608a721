/**
 * Every op of the unary and binary tables (ops/tables/) against PyTorch in float64
 * (packages/tensor/golden/generate_ops.py): outputs and gradients on inputs from each op's
 * domain, with the edge values it names (halves for round, zero for sign, tiny arguments for
 * log1p, expm1 and erf).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { binaryOps, elu, leakyRelu, tensor, unaryOps, type Tensor } from '../index.js';
import { binary, unary } from '../ops/primitive.js';

interface Case {
  name: string;
  inputs: { shape: number[]; data: number[] }[];
  w: number[];
  out: number[];
  grads: (number[] | null)[];
}
const golden = JSON.parse(readFileSync(new URL('../../golden/ops-golden.json', import.meta.url), 'utf8')) as { cases: Case[] };

const composites: Record<string, (x: Tensor) => Tensor> = {
  leakyRelu: (x) => leakyRelu(x, 0.1),
  elu: (x) => elu(x, 0.7),
};

function opFor(name: string): ((...xs: Tensor[]) => Tensor) | undefined {
  if ((unaryOps as readonly string[]).includes(name)) return (x) => unary(name as (typeof unaryOps)[number], x!);
  if ((binaryOps as readonly string[]).includes(name)) return (a, b) => binary(name as (typeof binaryOps)[number], a!, b!);
  return composites[name];
}

/** float64: within 1e-12 relative, or 1e-15 absolute near zero. */
function close(got: ArrayLike<number>, want: number[], what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-12 * Math.abs(want[i]!) + 1e-15, `${what}[${i}]: got ${got[i]}, PyTorch ${want[i]}`);
  }
}

describe('the op tables against PyTorch (float64)', () => {
  it('every op of the tables has a golden case', () => {
    const names = new Set(golden.cases.map((c) => c.name));
    assert.deepEqual(
      [...unaryOps, ...binaryOps].filter((op) => !names.has(op)),
      [],
    );
  });
  for (const c of golden.cases) {
    it(`${c.name}: output and gradients`, () => {
      const f = opFor(c.name);
      assert.ok(f, `no op for golden case ${c.name}`);
      const xs = c.inputs.map((x) => tensor(Float64Array.from(x.data), { shape: x.shape, requiresGrad: true }));
      const y = f(...xs);
      close(y.data, c.out, `${c.name} output`);
      if (c.grads[0] === null) return; // a comparison: 0/1, no gradient
      y.mul(tensor(Float64Array.from(c.w), { shape: y.shape }))
        .sum()
        .backward();
      c.grads.forEach((g, k) => close(xs[k]!.grad!.data, g!, `${c.name} d/dx${k}`));
    });
  }
});
