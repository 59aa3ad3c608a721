/**
 * Ops over the cell limit: chunks along a leading axis (rows, batch, outer), and tensors
 * stored as consecutive pieces that later ops take chunk by chunk.
 */
import type { DType } from '../../dtype.js';
import { broadcastStrides, sizeOf } from '../../shape.js';
import type { Backend } from '../backend.js';
import type { GpujsBackend } from './index.js';
import * as k from './kernels.js';
import type { Run } from './runs.js';
import type { CpuFallback } from './fallback.js';
import { hostStorage, type DeviceStorage, type GpuStorage } from './storage.js';

/** The chunking helpers of one backend (`self`), whose kernels run through `run` and whose CPU fallbacks through `cpu`. */
export function chunking(limit: number, run: Run, cpu: CpuFallback, { deferred }: DeviceStorage, self: () => GpujsBackend) {
  /** Copies `cut` made for the chunk being run; released once the chunk has run. */
  let made: GpuStorage[] = [];
  /** Runs `f` and releases the copies `cut` made for it. */
  function scoped<T>(f: () => T): T {
    const outer = made;
    made = [];
    try {
      return f();
    } finally {
      for (const s of made) self().release!(s);
      made = outer;
    }
  }
  /** Rows a chunk takes when a row is `cells` cells. */
  const fit = (cells: number) => Math.max(1, Math.floor(limit / cells));
  /** `f` on rows [r, r + k) for consecutive chunks of `step` rows. */
  function chunks<T>(rows: number, step: number, f: (r: number, k: number) => T): T[] {
    const out: T[] = [];
    for (let r = 0; r < rows; r += step) out.push(scoped(() => f(r, Math.min(step, rows - r))));
    return out;
  }
  /**
   * Consecutive chunks' results as one storage: its pieces when over the limit, else one
   * output they are copied into (`owned`: the results are released then).
   */
  function join(xs: GpuStorage[], owned = true): GpuStorage {
    if (xs.length === 1) return xs[0]!;
    const size = xs.reduce((n, x) => n + x.size, 0);
    if (size <= limit) {
      return xs.reduce((a, b) => {
        const ab = run('concat', k.concat2Kernel, a.size + b.size, { n0: a.size, n1: b.size, inner: 1 }, a, b);
        if (owned || a !== xs[0]) self().release!(a);
        if (owned) self().release!(b);
        return ab;
      });
    }
    const parts: NonNullable<GpuStorage['parts']> = [];
    let at = 0;
    for (const x of xs) {
      for (const p of x.parts ?? [{ s: x, at: 0 }]) parts.push({ s: p.s, at: at + p.at });
      at += x.size;
    }
    return { out: null, host: null, size, parts };
  }
  /** Partial results of `n` cells combined elementwise by `op` (a sum by default); the partials are released. */
  function total(xs: GpuStorage[], n: number, op: 'add' | 'maximum' | 'minimum' = 'add'): GpuStorage {
    return xs.reduce((acc, x) => {
      const s = self().binary(op, acc, [n], x, [n], [n], 'float32');
      self().release!(acc);
      self().release!(x);
      return s;
    });
  }
  /**
   * Cells [at, at + n) of x: x itself, its piece, a view of its host array, or a copy made
   * on the device (released with the chunk); more than the limit, a storage of pieces.
   */
  function cut(x: GpuStorage, at: number, n: number): GpuStorage {
    if (at === 0 && n === x.size) return x;
    if (x.parts !== undefined) {
      const bits = x.parts
        .filter((p) => p.at < at + n && p.at + p.s.size > at)
        .map((p) => {
          const lo = Math.max(at, p.at);
          return cut(p.s, lo - p.at, Math.min(at + n, p.at + p.s.size) - lo);
        });
      // the copies of parts of pieces are released with the chunk; joined, they are copied again
      const joined = join(bits, false);
      if (n <= limit && bits.length > 1) made.push(joined);
      return joined;
    }
    if (x.out === null && !x.pending) return hostStorage(x.host!.subarray(at, at + n));
    // webgpu: a CPU fallback's array over the limit, still on its way (a kernel's output is within it)
    if (x.pending && x.size > limit)
      return deferred(
        x.pending.then(() => x.host!.subarray(at, at + n)),
        [x],
        n,
      );
    const c = run('slice', k.sliceKernel, n, { at }, x);
    made.push(c);
    return c;
  }
  /** An elementwise op on equal-sized inputs, in chunks of the limit when over it. */
  function elementwise(size: number, xs: GpuStorage[], f: (xs: GpuStorage[], size: number) => GpuStorage): GpuStorage {
    if (size <= limit) return f(xs, size);
    return join(
      chunks(size, limit, (r, n) =>
        f(
          xs.map((x) => cut(x, r, n)),
          n,
        ),
      ),
    );
  }

  /**
   * A broadcasting op over the limit: chunks of the output's leading axis, each operand cut
   * to its rows (or whole where it broadcasts along that axis); one row at a time without
   * the leading axis, recursively, when a row is over the limit.
   */
  function broadcastChunks(
    operands: [GpuStorage, readonly number[]][],
    outShape: readonly number[],
    f: (operands: [GpuStorage, number[]][], outShape: number[]) => GpuStorage,
  ): GpuStorage {
    const padded = operands.map(([x, s]) => [x, [...Array(outShape.length - s.length).fill(1), ...s]] as [GpuStorage, number[]]);
    const rest = outShape.slice(1);
    const drop = sizeOf(rest) > limit;
    return join(
      chunks(outShape[0]!, drop ? 1 : fit(sizeOf(rest)), (i, m) =>
        f(
          padded.map(([x, s]) => {
            const tail = s.slice(1);
            const shape = drop ? tail : [s[0] === 1 ? 1 : m, ...tail];
            return [s[0] === 1 ? x : cut(x, i * sizeOf(tail), m * sizeOf(tail)), shape];
          }),
          drop ? rest : [m, ...rest],
        ),
      ),
    );
  }

  /**
   * A strided view over the limit (or of a storage over it): chunks of the view's leading
   * axis, each reading the span of x it covers; when one row's span is over the limit,
   * one row at a time without the leading axis (up to 64 rows, else on the CPU).
   */
  function stridedChunks(x: GpuStorage, view: Parameters<Backend['strided']>[1], dtype: DType): GpuStorage {
    if (view.shape.length === 0) return self().strided(cut(x, view.offset, 1), { shape: [], strides: [], offset: 0 }, dtype);
    const [d0, ...rest] = view.shape as [number, ...number[]];
    const [s0, ...rs] = view.strides as [number, ...number[]];
    const row = sizeOf(rest);
    const lo = rest.reduce((acc, dim, i) => acc + Math.min(0, (dim - 1) * rs[i]!), 0);
    const hi = rest.reduce((acc, dim, i) => acc + Math.max(0, (dim - 1) * rs[i]!), 0);
    if (row <= limit && hi - lo + 1 <= limit) {
      const step = Math.min(fit(row), s0 === 0 ? Infinity : Math.floor((limit - (hi - lo + 1)) / Math.abs(s0)) + 1);
      return join(
        chunks(d0, Math.max(1, step), (i, m) => {
          const off = view.offset + i * s0;
          const [from, to] = [off + Math.min(0, (m - 1) * s0) + lo, off + Math.max(0, (m - 1) * s0) + hi];
          return self().strided(cut(x, from, to - from + 1), { shape: [m, ...rest], strides: view.strides, offset: off - from }, dtype);
        }),
      );
    }
    if (d0 > 64) return cpu('strided', 'strided (rows over the cell limit)')(x, view, dtype);
    return join(chunks(d0, 1, (i) => self().strided(x, { shape: rest, strides: rs, offset: view.offset + i * s0 }, dtype)));
  }

  /**
   * The adjoint of a view over the limit whose rows (along its leading axis) write disjoint,
   * increasing spans of the output (slices such as a ViT's tokens after the class token):
   * each chunk of rows fills its span, zeros between; other views run on the CPU.
   */
  function adjointChunks(x: GpuStorage, view: Parameters<Backend['stridedAdjoint']>[1], outShape: readonly number[], dtype: DType): GpuStorage {
    const size = sizeOf(outShape);
    const [d0, ...rest] = view.shape as [number, ...number[]];
    const [s0, ...rs] = view.strides as [number, ...number[]];
    const row = sizeOf(rest);
    const span = rest.reduce((acc, dim, i) => acc + (dim - 1) * rs[i]!, 0) + 1;
    if (view.shape.length === 0 || (d0 > 1 && s0 < span) || row > limit || span > limit)
      return cpu('stridedAdjoint', 'stridedAdjoint (over the cell limit)')(x, view, outShape, dtype);
    const step = Math.max(1, Math.min(fit(row), s0 === 0 ? Infinity : Math.floor((limit - span) / s0) + 1));
    const pieces: GpuStorage[] = [];
    let at = 0;
    const zeros = (n: number) => {
      if (n > 0) pieces.push(hostStorage(new Float32Array(n)));
    };
    chunks(d0, step, (i, m) => {
      const from = view.offset + i * s0;
      const cells = (m - 1) * s0 + span;
      zeros(from - at);
      pieces.push(self().stridedAdjoint(cut(x, i * row, m * row), { shape: [m, ...rest], strides: view.strides, offset: 0 }, [cells], dtype));
      at = from + cells;
    });
    zeros(size - at);
    return join(pieces);
  }

  return { scoped, fit, chunks, join, total, cut, elementwise, broadcastChunks, stridedChunks, adjointChunks };
}

/**
 * The adjoint kernel's constants for a view of up to 6 non-negative strides whose strided
 * dims split an offset in one way at most (each stride over the span of the smaller), or null.
 */
export function adjointConstants(view: { shape: readonly number[]; strides: readonly number[]; offset: number }): Record<string, number> | null {
  const r = view.shape.length;
  if (r > 6 || view.strides.some((s) => s < 0)) return null;
  const xs = view.shape.map((_, i) => sizeOf(view.shape.slice(i + 1)));
  const dims = view.shape.map((d, i) => ({ d, s: view.strides[i]!, x: xs[i]! })).filter(({ d }) => d > 1);
  const strided = dims.filter(({ s }) => s > 0).sort((a, b) => b.s - a.s);
  const broadcast = dims.filter(({ s }) => s === 0);
  let below = 0;
  for (let i = strided.length - 1; i >= 0; i--) {
    if (strided[i]!.s <= below) return null;
    below += (strided[i]!.d - 1) * strided[i]!.s;
  }
  const c: Record<string, number> = { offset: view.offset, Z: broadcast.reduce((n, { d }) => n * d, 1) };
  for (let i = 0; i < 6; i++) {
    const t = strided[i];
    Object.assign(c, { [`t${i}`]: t?.s ?? 1, [`e${i}`]: t?.d ?? 1, [`xs${i}`]: t?.x ?? 0 });
    // the broadcast dims right-aligned in slots 0..5 (slot 5 varies fastest)
    const z = broadcast[broadcast.length - 6 + i];
    Object.assign(c, { [`f${i}`]: z?.d ?? 1, [`zs${i}`]: z?.x ?? 0 });
  }
  return c;
}

/**
 * The constants of a kernel that broadcasts operands to an output of up to 4 dims: the
 * output's dims d0..d3 (left-padded with 1) and each operand's strides <name>0..<name>3.
 */
export function broadcastConstants(outShape: readonly number[], operands: Record<string, readonly number[]>): Record<string, number> {
  const pad = (s: readonly number[], fill: number) => [...Array(4 - s.length).fill(fill), ...s];
  const c: Record<string, number> = {};
  pad(outShape, 1).forEach((d, i) => (c[`d${i}`] = d));
  for (const [name, shape] of Object.entries(operands)) pad(broadcastStrides(shape, outShape), 0).forEach((s, i) => (c[`${name}${i}`] = s));
  return c;
}

/** The cells of an op's result, from its arguments: a webgpu fallback's size before it has run. */
