import { op, uleb } from './emit.js';

/**
 * f32x4 / f64x2 expressions for the kernels: each helper returns the bytes that leave one
 * v128 on the stack, so nested calls read like the formula they compute.
 */
type E = number[];
const simd = (code: number) => [0xfd, ...uleb(code)];
const bin =
  (code: number) =>
  (a: E, b: E): E => [...a, ...b, ...simd(code)];

function constBytes(view: (dv: DataView) => void): E {
  const dv = new DataView(new ArrayBuffer(16));
  view(dv);
  return [0xfd, ...uleb(0x0c), ...new Uint8Array(dv.buffer)];
}

export const v = {
  get: (i: number): E => op.get(i),
  /** f32x4 with all lanes = x. */
  f: (x: number): E => constBytes((dv) => [0, 4, 8, 12].forEach((o) => dv.setFloat32(o, x, true))),
  /** i32x4 with all lanes = x. */
  i: (x: number): E => constBytes((dv) => [0, 4, 8, 12].forEach((o) => dv.setInt32(o, x, true))),
  zero: (): E => constBytes(() => {}),
  /** i32x4 of four lanes. */
  i32x4: (lanes: [number, number, number, number]): E => constBytes((dv) => lanes.forEach((x, k) => dv.setInt32(4 * k, x, true))),
  add: bin(0xe4),
  sub: bin(0xe5),
  mul: bin(0xe6),
  div: bin(0xe7),
  /** Lane-wise max/min (pmax/pmin: b < a ? a : b, no NaN canonicalisation). */
  max: bin(0xeb),
  min: bin(0xea),
  ge: bin(0x46),
  lt: bin(0x43),
  floor: (a: E): E => [...a, ...simd(0x68)],
  abs: (a: E): E => [...a, ...simd(0xe0)],
  sqrt: (a: E): E => [...a, ...simd(0xe3)],
  /** Lane 0 as an f32. */
  lane0: (a: E): E => [...a, ...simd(0x1f), 0],
  neg: (a: E): E => [...a, ...simd(0xe1)],
  /** Lanes of `a` where `mask` is all ones, else of `b`. */
  select: (a: E, b: E, mask: E): E => [...a, ...b, ...mask, ...simd(0x52)],
  /** a·b + c: relaxed-simd's multiply-add (an FMA where the CPU has one) or a multiply and an add. */
  madd: (a: E, b: E, c: E, fma: boolean): E => (fma ? [...a, ...b, ...c, ...simd(0x105)] : v.add(v.mul(a, b), c)),
  /** i32 lanes: a < b (signed), all ones or zero. */
  ilt: bin(0x39),
  /** i32x4 with all lanes = the i32 on the stack. */
  isplat: (a: E): E => [...a, ...simd(0x11)],
  /** All four lanes = the maximum (sum) of a's lanes (`a` is evaluated several times: pass a local.get). */
  hmax: (a: E): E => v.max(v.max(a, swapHalves(a)), swapPairs(v.max(a, swapHalves(a)))),
  hsum: (a: E): E => v.add(v.add(a, swapHalves(a)), swapPairs(v.add(a, swapHalves(a)))),
  /** f32x4 with all lanes = the f32 on the stack. */
  splat: (a: E): E => [...a, ...simd(0x13)],
  and: bin(0x4e),
  or: bin(0x50),
  iadd: bin(0xae),
  isub: bin(0xb1),
  shl: (a: E, n: number): E => [...a, ...op.i32(n), ...simd(0xab)],
  shrU: (a: E, n: number): E => [...a, ...op.i32(n), ...simd(0xad)],
  /** i32 lanes to f32 lanes (value conversion). */
  toF: (a: E): E => [...a, ...simd(0xfa)],
  /** f32 lanes to i32 lanes, truncating, saturating. */
  toI: (a: E): E => [...a, ...simd(0xf8)],
  /** f64x2 of lanes 0, 1 of an f32x4. */
  lo64: (a: E): E => [...a, ...simd(0x5f)],
  /** f64x2 of lanes 2, 3 of an f32x4 (`a` is evaluated twice: pass a local.get). */
  hi64: (a: E): E => [...swapHalves(a), ...simd(0x5f)],
  add64: bin(0xf0),
};

/** Swaps lanes 0 ↔ 1 and 2 ↔ 3 (i8x16.shuffle). */
function swapPairs(a: E): E {
  const lanes = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];
  return [...a, ...a, ...simd(0x0d), ...lanes];
}

/** Moves lanes 2, 3 to lanes 0, 1 (i8x16.shuffle). */
function swapHalves(a: E): E {
  const lanes = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
  return [...a, ...a, ...simd(0x0d), ...lanes];
}

const SQRTHF = Math.SQRT1_2;
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
];
const EXP_P = [1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
const LN2_HI = 0.693359375;
const LN2_LO = -2.1219444e-4;

export function horner(x: E, coeffs: number[]): E {
  let acc = v.f(coeffs[0]!);
  for (const c of coeffs.slice(1)) acc = v.add(v.mul(acc, x), v.f(c));
  return acc;
}

/**
 * ln x for x > 0 (Cephes logf, about 1 ulp): x = m·2^e with m in [√½, √2), then
 * ln x = (m − 1) − (m − 1)²/2 + (m − 1)³·P(m − 1) + e·ln 2. `x` is evaluated twice (pass a
 * local.get); m, e and k are scratch v128 locals.
 */
export function log(x: E, m: number, e: number, k: number): E {
  const bits = x;
  return [
    // m in [0.5, 1): mantissa with exponent 126; e = biased exponent − 126
    ...v.or(v.and(bits, v.i(0x007fffff)), v.i(0x3f000000)),
    ...op.set(m),
    ...v.toF(v.isub(v.shrU(bits, 23), v.i(126))),
    ...op.set(e),
    // where m < √½: e −= 1 and m = 2m − 1, else m = m − 1
    ...v.lt(v.get(m), v.f(SQRTHF)),
    ...op.set(k),
    ...v.sub(v.get(e), v.and(v.get(k), v.f(1))),
    ...op.set(e),
    ...v.add(v.sub(v.get(m), v.f(1)), v.and(v.get(k), v.get(m))),
    ...op.set(m),
    // y = m³·P(m) − m²/2 + e·LN2_LO; result = m + y + e·LN2_HI
    ...v.add(
      v.add(
        v.get(m),
        v.add(
          v.sub(v.mul(v.mul(horner(v.get(m), LOG_P), v.get(m)), v.mul(v.get(m), v.get(m))), v.mul(v.f(0.5), v.mul(v.get(m), v.get(m)))),
          v.mul(v.get(e), v.f(LN2_LO)),
        ),
      ),
      v.mul(v.get(e), v.f(LN2_HI)),
    ),
  ];
}

/**
 * eˣ for x in [−87, 0] (Cephes expf, about 1 ulp; inputs below −87 give e^−87 ≈ 1.6e-38):
 * n = floor(x·log₂e + ½), r = x − n·ln 2, eˣ = 2ⁿ·(1 + r + r²·Q(r)). Uses locals r, n.
 */
export function exp(x: E, r: number, n: number): E {
  return [
    ...v.max(x, v.f(-87)),
    ...op.set(r),
    ...v.floor(v.add(v.mul(v.get(r), v.f(Math.LOG2E)), v.f(0.5))),
    ...op.set(n),
    ...v.sub(v.sub(v.get(r), v.mul(v.get(n), v.f(LN2_HI))), v.mul(v.get(n), v.f(LN2_LO))),
    ...op.set(r),
    ...v.mul(v.add(v.add(v.mul(horner(v.get(r), EXP_P), v.mul(v.get(r), v.get(r))), v.get(r)), v.f(1)), v.shl(v.iadd(v.toI(v.get(n)), v.i(127)), 23)),
  ];
}
