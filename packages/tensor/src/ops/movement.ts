import { record } from '../autograd/engine.js';
import type { View } from '../backend/backend.js';
import { broadcastShapes, fmt, normAxis, sameShape, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';

/** Same storage, new shape; one dim may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const resolved = resolveShape(x, shape);
  if (sameShape(resolved, x.shape)) return x;
  const out = x.withStorage(x.storage, resolved, x.dtype);
  return record(out, 'reshape', [x], (g) => [g.reshape(x.shape)]);
}

function resolveShape(x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const free = out.indexOf(-1);
  if (free !== out.lastIndexOf(-1)) throw new Error(`reshape: only one dim may be -1, got ${fmt(shape)}`);
  if (out.some((d) => !Number.isInteger(d) || d < -1)) throw new Error(`reshape: invalid target shape ${fmt(shape)}`);
  if (free >= 0) {
    const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0)
      throw new Error(`reshape: cannot infer -1 in ${fmt(shape)} for a tensor of shape ${fmt(x.shape)} (${x.size} elements)`);
    out[free] = x.size / known;
  }
  if (sizeOf(out) !== x.size)
    throw new Error(`reshape: cannot reshape a tensor of shape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)} (${sizeOf(out)} elements)`);
  return out;
}

/** Merges dims start..end (inclusive) into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.rank === 0) return x.reshape([1]);
  const s = normAxis('flatten', start, x.rank);
  const e = normAxis('flatten', end, x.rank);
  return x.reshape([...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, x.rank + 1);
  return x.reshape([...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Removes one size-1 dim, or all of them when no axis is given. */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return x.reshape(x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.rank);
  if (x.shape[a] !== 1) return x;
  return x.reshape(x.shape.filter((_, i) => i !== a));
}

function viewOf(x: Tensor, view: View, op: string, backward: (g: Tensor) => Tensor): Tensor {
  const out = x.withStorage(x.backend.strided(x.storage, view, x.dtype), view.shape, x.dtype);
  return record(out, op, [x], (g) => [backward(g)]);
}

/** Reorders dims: output dim i is input dim perm[i]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((a) => normAxis('permute', a, x.rank));
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new Error(`permute: [${perm.join(', ')}] is not a permutation of the ${x.rank} dims of a tensor of shape ${fmt(x.shape)}`);
  }
  if (p.every((a, i) => a === i)) return x;
  const strides = stridesOf(x.shape);
  const inverse = new Array<number>(p.length);
  p.forEach((a, i) => (inverse[a] = i));
  const view = { shape: p.map((a) => x.shape[a]!), strides: p.map((a) => strides[a]!), offset: 0 };
  return viewOf(x, view, 'permute', (g) => g.permute(inverse));
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const i = normAxis('transpose', a, x.rank);
  const j = normAxis('transpose', b, x.rank);
  const perm = [...Array(x.rank).keys()];
  [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  return permute(x, perm);
}

/** Broadcasts to `shape` (NumPy rules; -1 keeps a dim). The gradient sums over the broadcast dims. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.rank;
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - lead]! : d));
  if (lead < 0 || !sameShape(broadcastShapes('expand', x.shape, target), target)) {
    throw new Error(`expand: cannot expand a tensor of shape ${fmt(x.shape)} to ${fmt(shape)}`);
  }
  if (sameShape(target, x.shape)) return x;
  const strides = stridesOf(x.shape);
  const view = { shape: target, strides: target.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : strides[i - lead]!)), offset: 0 };
  return viewOf(x, view, 'expand', (g) => g);
}

/** Takes `[start, end)` along each dim (null keeps the dim whole; negative indices count from the end). */
export function slice(x: Tensor, ranges: readonly (readonly [number, number] | null)[]): Tensor {
  if (ranges.length > x.rank) throw new Error(`slice: ${ranges.length} ranges for a tensor of rank ${x.rank} (shape ${fmt(x.shape)})`);
  const strides = stridesOf(x.shape);
  let offset = 0;
  const shape = x.shape.map((d, i) => {
    const r = ranges[i];
    if (r == null) return d;
    const s = r[0] < 0 ? r[0] + d : r[0];
    const e = r[1] < 0 ? r[1] + d : r[1];
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > d || s > e) {
      throw new Error(`slice: range [${r[0]}, ${r[1]}) is out of bounds for dim ${i} of size ${d} (shape ${fmt(x.shape)})`);
    }
    offset += s * strides[i]!;
    return e - s;
  });
  if (sameShape(shape, x.shape)) return x;
  const view = { shape, strides, offset };
  return viewOf(x, view, 'slice', (g) => adjoint(g, view, x));
}

function adjoint(g: Tensor, view: View, x: Tensor): Tensor {
  return g.withStorage(g.backend.stridedAdjoint(g.storage, view, x.shape, g.dtype), x.shape, g.dtype);
}

export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis('narrow', axis, x.rank);
  const ranges = x.shape.map((_, i) => (i === a ? ([start, start + length] as const) : null));
  return slice(x, ranges);
}

/** Joins tensors along an existing axis; all other dims must match. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const first = xs[0];
  if (first === undefined) throw new Error('concat: expected at least one tensor');
  const a = normAxis('concat', axis, first.rank);
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i]) || t.dtype !== first.dtype) {
      throw new Error(`concat: shapes ${xs.map((u) => `${fmt(u.shape)} ${u.dtype}`).join(', ')} do not match outside axis ${a}`);
    }
  }
  const sizes = xs.map((t) => t.shape[a]!);
  const outer = sizeOf(first.shape.slice(0, a));
  const inner = sizeOf(first.shape.slice(a + 1));
  const shape = [...first.shape];
  shape[a] = sizes.reduce((s, n) => s + n, 0);
  const out = first.withStorage(
    first.backend.concat(
      xs.map((t) => t.storage),
      outer,
      sizes,
      inner,
      first.dtype,
    ),
    shape,
    first.dtype,
  );
  return record(out, 'concat', xs, (g) => {
    let off = 0;
    return sizes.map((n) => {
      off += n;
      return narrow(g, a, off - n, n);
    });
  });
}

/** Joins tensors of equal shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  const first = xs[0];
  if (first === undefined) throw new Error('stack: expected at least one tensor');
  for (const t of xs) if (!sameShape(t.shape, first.shape)) throw new Error(`stack: shapes ${xs.map((u) => fmt(u.shape)).join(', ')} differ`);
  const a = normAxis('stack', axis, first.rank + 1);
  return concat(
    xs.map((t) => t.unsqueeze(a)),
    a,
  );
}

/** Picks entries along `axis` by integer index: `out[..., j, ...] = x[..., index[j], ...]`. */
export function indexSelect(x: Tensor, axis: number, index: Tensor | readonly number[]): Tensor {
  const a = normAxis('indexSelect', axis, x.rank);
  const n = x.shape[a] ?? 1;
  const check = (v: number, j: number) => {
    if (!Number.isInteger(v) || v < 0 || v >= n)
      throw new Error(
        `indexSelect: index ${v} at position ${j} is ${Number.isInteger(v) ? 'out of range' : 'not an integer'} for dim ${a} of size ${n} (shape ${fmt(x.shape)})`,
      );
  };
  const list = Array.isArray(index) ? (index as readonly number[]) : null;
  list?.forEach(check); // before Int32Array truncates 1.7 or wraps 2³²
  const idx = list === null ? (index as Tensor) : x.withStorage(x.backend.fromArray(Int32Array.from(list)), [list.length], 'int32');
  if (idx.dtype !== 'int32' || idx.rank !== 1)
    throw new Error(`indexSelect: the index must be a 1-d int32 tensor, got ${idx.dtype} of shape ${fmt(idx.shape)}`);
  idx.data.forEach(check);
  const outer = sizeOf(x.shape.slice(0, a));
  const inner = sizeOf(x.shape.slice(a + 1));
  const shape = [...x.shape];
  shape[a] = idx.size;
  const out = x.withStorage(x.backend.gather(x.storage, outer, n, inner, idx.storage, idx.size, x.dtype), shape, x.dtype);
  // adjoint of a gather: scatter-add the gradient back to the picked positions
  return record(out, 'indexSelect', [x], (g) => [
    g.withStorage(g.backend.scatterAdd(g.storage, outer, n, inner, idx.storage, idx.size, g.dtype), x.shape, g.dtype),
  ]);
}
