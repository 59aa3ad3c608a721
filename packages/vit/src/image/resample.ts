/**
 * Separable resampling as Pillow's `Resample.c` computes it, which PyTorch's antialiased
 * `F.interpolate(..., antialias=True)` follows too: each output pixel is a normalised
 * weighted sum of the input pixels under a filter stretched by the scale when shrinking
 * (antialiasing) and not when enlarging. Two users:
 *
 *   - `resampleMatrix`: the weights as a dense matrix, in floating point: the position
 *     embeddings' bicubic resampling (timm's `resample_abs_pos_embed`);
 *   - `resizeU8`: Pillow's 8-bit resize (fixed point, 22 fraction bits, a uint8 image between
 *     the horizontal and the vertical pass): what `PIL.Image.resize` returns, and so what
 *     timm's eval transform sees. A float resize, even antialiased, differs from it by up to
 *     0.4 on the normalised input.
 */

/** A resampling filter: its support (in input pixels at scale 1) and its kernel. */
export interface Filter {
  support: number;
  kernel: (x: number) => number;
}

/** Pillow's bicubic (a = −0.5, also PyTorch's antialiased bicubic; plain bicubic uses −0.75). */
export const bicubic: Filter = {
  support: 2,
  kernel: (x) => {
    const a = -0.5;
    const t = Math.abs(x);
    if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
    return 0;
  },
};

/** Pillow's bilinear (the triangle). */
export const bilinear: Filter = { support: 1, kernel: (x) => Math.max(0, 1 - Math.abs(x)) };

export const filters = { bicubic, bilinear } as const;
export type FilterName = keyof typeof filters;

/** Output pixel i reads `count[i]` input pixels from `first[i]`, with weights `weights[i·ksize + j]`. */
export interface Coefficients {
  ksize: number;
  first: Int32Array;
  count: Int32Array;
  weights: Float64Array;
}

/** Pillow's `precompute_coeffs` for the whole axis (box 0..inSize). */
export function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  if (!(Number.isInteger(inSize) && inSize > 0 && Number.isInteger(outSize) && outSize > 0)) {
    throw new Error(`resample: sizes must be positive integers, got ${inSize} → ${outSize}`);
  }
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) truncates toward zero
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - lo;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const w = filter.kernel((j + lo - center + 0.5) / filterScale);
      weights[i * ksize + j] = w;
      total += w;
    }
    if (total !== 0) for (let j = 0; j < n; j++) weights[i * ksize + j]! /= total;
    first[i] = lo;
    count[i] = n;
  }
  return { ksize, first, count, weights };
}

/** The resampling weights as a dense row-major `[outSize, inSize]` matrix. */
export function resampleMatrix(inSize: number, outSize: number, filter: Filter = bicubic): Float32Array {
  const c = coefficients(inSize, outSize, filter);
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    for (let j = 0; j < c.count[i]!; j++) m[i * inSize + c.first[i]! + j] = c.weights[i * c.ksize + j]!;
  }
  return m;
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

/** Pillow's `normalize_coeffs_8bpc`: the weights as integers with 22 fraction bits, rounded half away from zero. */
function fixedPoint(c: Coefficients): Int32Array {
  return Int32Array.from(c.weights, (w) => Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE));
}

/**
 * One pass of Pillow's 8-bit resampling along an axis, over `lines` lines:
 * `dst[l·dstLine + i·dstTap + ch] = clip8(½ + Σ_j src[l·srcLine + (first[i] + j)·srcTap + ch] · k[i, j])`.
 */
function pass(
  src: Uint8Array,
  dst: Uint8Array,
  c: Coefficients,
  channels: number,
  lines: number,
  [srcLine, srcTap]: [number, number],
  [dstLine, dstTap]: [number, number],
): void {
  const k = fixedPoint(c);
  const outSize = c.first.length;
  for (let l = 0; l < lines; l++) {
    for (let i = 0; i < outSize; i++) {
      const kOff = i * c.ksize;
      const n = c.count[i]!;
      const base = l * srcLine + c.first[i]! * srcTap;
      for (let ch = 0; ch < channels; ch++) {
        let ss = ONE / 2;
        for (let j = 0; j < n; j++) ss += src[base + j * srcTap + ch]! * k[kOff + j]!;
        // clip8: an arithmetic shift, then clamped to a byte
        dst[l * dstLine + i * dstTap + ch] = Math.min(255, Math.max(0, Math.floor(ss / ONE)));
      }
    }
  }
}

/** An 8-bit image: `channels` interleaved values per pixel, row-major. */
export interface U8Image {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * `PIL.Image.resize((width, height), filter)` of an 8-bit image (L, RGB): the horizontal pass
 * first, rounded to uint8, then the vertical pass; an axis whose size does not change is not
 * resampled, as in Pillow.
 */
export function resizeU8(img: U8Image, width: number, height: number, filter: Filter = bicubic): U8Image {
  const { width: w0, height: h0, channels: ch } = img;
  if (img.data.length !== w0 * h0 * ch) throw new Error(`resize: ${img.data.length} bytes do not hold a ${w0}×${h0} image of ${ch} channels`);
  let cur = img.data;
  if (width !== w0) {
    const out = new Uint8Array(width * h0 * ch);
    pass(cur, out, coefficients(w0, width, filter), ch, h0, [w0 * ch, ch], [width * ch, ch]);
    cur = out;
  }
  if (height !== h0) {
    // the lines are the columns; taps are a row apart
    const out = new Uint8Array(width * height * ch);
    pass(cur, out, coefficients(h0, height, filter), ch, width, [ch, width * ch], [ch, width * ch]);
    cur = out;
  }
  return { data: cur === img.data ? img.data.slice() : cur, width, height, channels: ch };
}
