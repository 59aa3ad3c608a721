import { F32, Fn, I32, op, V128, type FuncDef } from './emit.js';
import { v } from './vec.js';

/**
 * Row-wise kernels over `[rows, d]` float32 (d a multiple of 4, f32x4 along the row;
 * pointers in bytes):
 *
 *   layerNormForward(x, w, b, y, mean, rstd, rows, d, eps)
 *       y = (x − μ)·rstd·w + b per row, rstd = 1/√(var + eps) (biased variance); μ and rstd
 *       stored per row (the caller passes ones and zeros for a missing w, b)
 *   layerNormBackward(g, x, w, mean, rstd, gx, gw, gb, rows, d)
 *       x̂ = (x − μ)·rstd, ĝ = g·w:  gx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)),
 *       gw += Σ_rows g·x̂ and gb += Σ_rows g, accumulated in float64 (f64 `[d]`)
 *   columnSums(x, rows, d, out)   out += Σ_rows x, float64 (f64 `[d]`): a bias gradient
 *
 * Sums along a row (d terms) are float32; sums over rows are float64, as in ../reduce.ts.
 */
export function rowwiseFunctions(): FuncDef[] {
  return [layerNormForward(), layerNormBackward(), columnSums()];
}

const ptr = (base: number, off: number) => [...op.get(base), ...op.get(off), ...op.i32Add];
const load = (base: number, off: number) => [...ptr(base, off), ...op.v128Load(0)];
/** f64 accumulators at acc + 2·j (bytes) += the 4 lanes of `x` (an f32x4 local). */
function addF64(f: Fn, acc: number, j: number, x: number): void {
  const at = () => [...op.get(acc), ...op.get(j), ...op.i32(2), ...op.i32Mul, ...op.i32Add];
  f.emit(at(), v.add64([...at(), ...op.v128Load(0)], v.lo64(v.get(x))), op.v128Store(0));
  f.emit(at(), v.add64([...at(), ...op.v128Load(16)], v.hi64(v.get(x))), op.v128Store(16));
}

function layerNormForward(): FuncDef {
  const f = new Fn('layerNormForward', [I32, I32, I32, I32, I32, I32, I32, I32, F32]);
  const [X, W, B, Y, MEAN, RSTD, ROWS, D, EPS] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [r, j, row, bytes] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const [s, mu, rs, c] = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  f.emit(op.get(D), op.i32(4), op.i32Mul, op.set(bytes));
  f.loop(r, op.i32(0), op.get(ROWS), 1, () => {
    f.emit(op.get(r), op.get(bytes), op.i32Mul, op.set(row));
    f.emit(v.zero(), op.set(s));
    f.loop(j, op.i32(0), op.get(bytes), 16, () => f.emit(v.add(v.get(s), [...ptr(X, row), ...op.get(j), ...op.i32Add, ...op.v128Load(0)]), op.set(s)));
    f.emit(v.div(v.hsum(v.get(s)), v.splat([...op.get(D), ...[0xb2]])), op.set(mu)); // f32.convert_i32_s
    f.emit(v.zero(), op.set(s));
    f.loop(j, op.i32(0), op.get(bytes), 16, () => {
      f.emit(v.sub([...ptr(X, row), ...op.get(j), ...op.i32Add, ...op.v128Load(0)], v.get(mu)), op.set(c));
      f.emit(v.add(v.get(s), v.mul(v.get(c), v.get(c))), op.set(s));
    });
    f.emit(v.div(v.f(1), v.sqrt(v.add(v.div(v.hsum(v.get(s)), v.splat([...op.get(D), ...[0xb2]])), v.splat(op.get(EPS))))), op.set(rs));
    f.emit(op.get(MEAN), op.get(r), op.i32(4), op.i32Mul, op.i32Add, v.lane0(v.get(mu)), op.f32Store(0));
    f.emit(op.get(RSTD), op.get(r), op.i32(4), op.i32Mul, op.i32Add, v.lane0(v.get(rs)), op.f32Store(0));
    f.loop(j, op.i32(0), op.get(bytes), 16, () => {
      const xh = v.mul(v.sub([...ptr(X, row), ...op.get(j), ...op.i32Add, ...op.v128Load(0)], v.get(mu)), v.get(rs));
      f.emit(ptr(Y, row), op.get(j), op.i32Add, v.add(v.mul(xh, load(W, j)), load(B, j)), op.v128Store(0));
    });
  });
  return f.def();
}

function layerNormBackward(): FuncDef {
  const f = new Fn('layerNormBackward', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [G, X, W, MEAN, RSTD, GX, GW, GB, ROWS, D] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [r, j, row, bytes, xp, gp] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const [mu, rs, sg, sgx, xh, gv, gh, t] = [V128, V128, V128, V128, V128, V128, V128, V128].map((ty) => f.local(ty)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fd = () => v.splat([...op.get(D), ...[0xb2]]);
  f.emit(op.get(D), op.i32(4), op.i32Mul, op.set(bytes));
  f.loop(r, op.i32(0), op.get(ROWS), 1, () => {
    f.emit(op.get(r), op.get(bytes), op.i32Mul, op.set(row));
    f.emit(op.get(MEAN), op.get(r), op.i32(4), op.i32Mul, op.i32Add, op.v128Load32Splat(0), op.set(mu));
    f.emit(op.get(RSTD), op.get(r), op.i32(4), op.i32Mul, op.i32Add, op.v128Load32Splat(0), op.set(rs));
    f.emit(v.zero(), op.set(sg), v.zero(), op.set(sgx));
    const step = () => {
      f.emit(ptr(X, row), op.get(j), op.i32Add, op.set(xp), ptr(G, row), op.get(j), op.i32Add, op.set(gp));
      f.emit(v.mul(v.sub([...op.get(xp), ...op.v128Load(0)], v.get(mu)), v.get(rs)), op.set(xh));
      f.emit(op.get(gp), op.v128Load(0), op.set(gv));
      f.emit(v.mul(v.get(gv), load(W, j)), op.set(gh));
    };
    f.loop(j, op.i32(0), op.get(bytes), 16, () => {
      step();
      f.emit(v.add(v.get(sg), v.get(gh)), op.set(sg));
      f.emit(v.add(v.get(sgx), v.mul(v.get(gh), v.get(xh))), op.set(sgx));
      f.emit(v.mul(v.get(gv), v.get(xh)), op.set(t));
      addF64(f, GW, j, t);
      addF64(f, GB, j, gv);
    });
    f.emit(v.div(v.hsum(v.get(sg)), fd()), op.set(sg), v.div(v.hsum(v.get(sgx)), fd()), op.set(sgx));
    f.loop(j, op.i32(0), op.get(bytes), 16, () => {
      step();
      f.emit(ptr(GX, row), op.get(j), op.i32Add, v.mul(v.get(rs), v.sub(v.sub(v.get(gh), v.get(sg)), v.mul(v.get(xh), v.get(sgx)))), op.v128Store(0));
    });
  });
  return f.def();
}

function columnSums(): FuncDef {
  const f = new Fn('columnSums', [I32, I32, I32, I32]);
  const [X, ROWS, D, OUT] = [0, 1, 2, 3];
  const [r, j, p, bytes] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const x = f.local(V128);
  f.emit(op.get(D), op.i32(4), op.i32Mul, op.set(bytes), op.get(X), op.set(p));
  f.loop(r, op.i32(0), op.get(ROWS), 1, () => {
    f.loop(j, op.i32(0), op.get(bytes), 16, () => {
      f.emit(op.get(p), op.get(j), op.i32Add, op.v128Load(0), op.set(x));
      addF64(f, OUT, j, x);
    });
    f.emit(op.get(p), op.get(bytes), op.i32Add, op.set(p));
  });
  return f.def();
}
