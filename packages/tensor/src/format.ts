import type { Tensor } from './tensor.js';
import { fmt } from './shape.js';

const EDGE = 3;
const MAX_FULL = 1000;

/** Renders like PyTorch: nested brackets, 4 decimals, edges only for large tensors. */
export function formatTensor(t: Tensor): string {
  const d = t.data;
  const summarize = t.size > MAX_FULL;
  const num = (v: number): string =>
    t.dtype === 'int32'
      ? String(v)
      : Number.isInteger(v) && Math.abs(v) < 1e6
        ? `${v}.`
        : Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-4)
          ? v.toExponential(4)
          : v.toFixed(4);
  const rec = (dim: number, off: number, indent: string): string => {
    if (dim === t.rank) return num(d[off]!);
    const n = t.shape[dim]!;
    const stride = t.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    const idx = summarize && n > 2 * EDGE ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()];
    const parts = idx.map((i) => (i < 0 ? '...' : rec(dim + 1, off + i * stride, `${indent} `)));
    const sep = dim === t.rank - 1 ? ', ' : `,\n${indent} `;
    return `[${parts.join(sep)}]`;
  };
  const body = rec(0, 0, '       ');
  const extra = t.requiresGrad ? ', requiresGrad=true' : '';
  return `tensor(${body}, shape=${fmt(t.shape)}, dtype=${t.dtype}${extra})`;
}
