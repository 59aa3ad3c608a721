import { record } from '../autograd/engine.js';
import type { View } from '../backend/backend.js';
import { broadcastShapes, fmt, normAxis, sameShape, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { constant } from './primitive.js';

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

/**
 * Takes `[start, end)` along each dim, every `step`-th entry when a third number is given
 * (null keeps the dim whole; negative indices count from the end). A view: the gradient is
 * written back into the positions taken.
 */
export function slice(x: Tensor, ranges: readonly (readonly [number, number] | readonly [number, number, number] | null)[]): Tensor {
  if (ranges.length > x.rank) throw new Error(`slice: ${ranges.length} ranges for a tensor of rank ${x.rank} (shape ${fmt(x.shape)})`);
  const base = stridesOf(x.shape);
  const strides = [...base];
  let offset = 0;
  const shape = x.shape.map((d, i) => {
    const r = ranges[i];
    if (r == null) return d;
    const s = r[0] < 0 ? r[0] + d : r[0];
    const e = r[1] < 0 ? r[1] + d : r[1];
    const step = r[2] ?? 1;
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > d || s > e) {
      throw new Error(`slice: range [${r[0]}, ${r[1]}) is out of bounds for dim ${i} of size ${d} (shape ${fmt(x.shape)})`);
    }
    if (!Number.isInteger(step) || step < 1) throw new Error(`slice: the step must be a positive integer, got ${step} for dim ${i}`);
    offset += s * base[i]!;
    strides[i] = base[i]! * step;
    return Math.ceil((e - s) / step);
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

/** Pieces of `size` along `axis` (the last may be smaller), or of the given sizes, which must add up to the dim. */
export function split(x: Tensor, size: number | readonly number[], axis = 0): Tensor[] {
  const a = normAxis('split', axis, x.rank);
  const d = x.shape[a]!;
  let sizes: number[];
  if (typeof size === 'number') {
    if (!Number.isInteger(size) || size < 1) throw new Error(`split: the piece size must be a positive integer, got ${size}`);
    sizes = Array.from({ length: Math.ceil(d / size) }, (_, i) => Math.min(size, d - i * size));
  } else {
    sizes = [...size];
    if (sizes.some((s) => !Number.isInteger(s) || s < 0) || sizes.reduce((p, s) => p + s, 0) !== d)
      throw new Error(`split: sizes [${sizes.join(', ')}] do not add up to dim ${a} of size ${d} (shape ${fmt(x.shape)})`);
  }
  let off = 0;
  return sizes.map((n) => {
    off += n;
    return narrow(x, a, off - n, n);
  });
}

/** `chunks` pieces of equal size along `axis` (PyTorch's chunk: ceil(d / chunks) each, the last smaller). */
export function chunk(x: Tensor, chunks: number, axis = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks < 1) throw new Error(`chunk: expected a positive number of chunks, got ${chunks}`);
  const d = x.shape[normAxis('chunk', axis, x.rank)]!;
  return split(x, Math.max(1, Math.ceil(d / chunks)), axis);
}

/** The slices along `axis`, each without it. */
export function unbind(x: Tensor, axis = 0): Tensor[] {
  const a = normAxis('unbind', axis, x.rank);
  return Array.from({ length: x.shape[a]! }, (_, i) => narrow(x, a, i, 1).squeeze(a));
}

/** Reverses the order along each of `axes`. */
export function flip(x: Tensor, axes: number | readonly number[]): Tensor {
  let y = x;
  for (const a of typeof axes === 'number' ? [axes] : axes) {
    const ax = normAxis('flip', a, x.rank);
    const n = x.shape[ax]!;
    y = indexSelect(
      y,
      ax,
      Array.from({ length: n }, (_, i) => n - 1 - i),
    );
  }
  return y;
}

/** Shifts entries along `axis` by `shift`, wrapping around: out[(i + shift) mod n] = x[i]. */
export function roll(x: Tensor, shift: number, axis: number): Tensor {
  const a = normAxis('roll', axis, x.rank);
  const n = x.shape[a]!;
  if (!Number.isInteger(shift)) throw new Error(`roll: the shift must be an integer, got ${shift}`);
  const s = ((shift % n) + n) % n;
  if (s === 0 || n === 0) return x;
  return concat([narrow(x, a, n - s, s), narrow(x, a, 0, n - s)], a);
}

/**
 * Pads with a constant: `widths` gives [before, after] for the last dims, the last dim
 * first (PyTorch's F.pad order: [left, right, top, bottom, ...] flattened into pairs).
 */
export function pad(x: Tensor, widths: readonly (readonly [number, number])[], value = 0): Tensor {
  if (widths.length > x.rank) throw new Error(`pad: ${widths.length} pairs for a tensor of rank ${x.rank} (shape ${fmt(x.shape)})`);
  let y = x;
  widths.forEach(([before, after], k) => {
    const a = x.rank - 1 - k;
    if (!Number.isInteger(before) || !Number.isInteger(after) || before < 0 || after < 0)
      throw new Error(`pad: widths must be non-negative integers, got [${before}, ${after}]`);
    const parts: Tensor[] = [];
    const filler = (n: number) => {
      const shape = [...y.shape];
      shape[a] = n;
      return constant(y, new Array<number>(sizeOf(shape)).fill(value), shape);
    };
    if (before > 0) parts.push(filler(before));
    parts.push(y);
    if (after > 0) parts.push(filler(after));
    if (parts.length > 1) y = concat(parts, a);
  });
  return y;
}

/** Repeats the tensor `reps[i]` times along dim i (NumPy's tile, PyTorch's repeat); leading reps add dims. */
export function tile(x: Tensor, reps: readonly number[]): Tensor {
  if (reps.some((r) => !Number.isInteger(r) || r < 1)) throw new Error(`tile: repetitions must be positive integers, got [${reps.join(', ')}]`);
  const rank = Math.max(reps.length, x.rank);
  const r = [...new Array<number>(rank - reps.length).fill(1), ...reps];
  const shape = [...new Array<number>(rank - x.rank).fill(1), ...x.shape];
  // [.., d, ..] -> [.., r, d, ..] by broadcasting a new axis before each dim, then merged
  const interleaved = shape.flatMap((d) => [1, d]);
  const expanded = x.reshape(interleaved).expand(shape.flatMap((d, i) => [r[i]!, d]));
  return expanded.reshape(shape.map((d, i) => d * r[i]!));
}

function triangle(op: string, x: Tensor, keep: (i: number, j: number) => boolean): Tensor {
  if (x.rank < 2) throw new Error(`${op}: expected a tensor of rank >= 2, got shape ${fmt(x.shape)}`);
  const [m, n] = [x.shape[x.rank - 2]!, x.shape[x.rank - 1]!];
  const mask = Array.from({ length: m * n }, (_, k) => (keep(Math.floor(k / n), k % n) ? 1 : 0));
  return x.where(constant(x, mask, [m, n]), 0);
}

/** The lower triangle of the last two dims, on and below the `diagonal`-th diagonal (0 the main one); zeros above. */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle('tril', x, (i, j) => j - i <= diagonal);
}

/** The upper triangle of the last two dims, on and above the `diagonal`-th diagonal; zeros below. */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle('triu', x, (i, j) => j - i >= diagonal);
}
