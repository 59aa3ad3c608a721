/**
 * GeM / GGeM against PyTorch (packages/pooling/golden/generate.py): the fused float32
 * kernels within 1e-5 (outputs) and 1e-4 (gradients) relative of PyTorch's float64 values.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { tensor, withBackend } from '@ggem/tensor';
import { ggem } from './index.js';

interface Case {
  name: string;
  x: { shape: number[]; data: number[] };
  p: number[];
  w: number[];
  y: number[];
  dx: number[];
  dp: number[];
}
const golden = JSON.parse(readFileSync(new URL('../golden/pooling-golden.json', import.meta.url), 'utf8')) as { eps: number; cases: Case[] };

/** |a − b| <= rtol·max(|b|, 1e-2·max|b|): relative, with a floor for entries near zero. */
function close(got: ArrayLike<number>, want: number[], rtol: number, what: string): void {
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  want.forEach((w, i) => {
    const tol = rtol * Math.max(Math.abs(w), 1e-2 * scale);
    assert.ok(Math.abs(got[i]! - w) <= tol, `${what}[${i}]: got ${got[i]}, PyTorch ${w}`);
  });
}

describe('GeM / GGeM golden values from PyTorch', () => {
  for (const backend of ['cpu', 'reference']) {
    for (const c of golden.cases) {
      it(`${c.name} (${backend} backend)`, () => {
        withBackend(backend, () => {
          const x = tensor(Float32Array.from(c.x.data), { shape: c.x.shape, requiresGrad: true });
          const p = tensor(Float32Array.from(c.p), { requiresGrad: true });
          const y = ggem(x, p, { eps: golden.eps });
          close(y.data, c.y, 1e-5, 'y');
          y.mul(tensor(Float32Array.from(c.w), { shape: y.shape }))
            .sum()
            .backward();
          close(x.grad!.data, c.dx, 1e-4, 'dx');
          close(p.grad!.data, c.dp, 1e-4, 'dp');
        });
      });
    }
  }
});
