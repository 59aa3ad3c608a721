import { F32, Fn, I32, op, V128, type FuncDef } from './emit.js';
import { exp, v } from './vec.js';

/**
 * The pieces of fused attention for one (image, head), f32x4 (pointers and strides in
 * bytes; `d`, the head size, a multiple of 4; `np` = n rounded up to a multiple of 4;
 * products summed with relaxed-simd multiply-adds where the engine has them).
 * ../attention.ts strings them together:
 *
 *   transpose(src, rs, rows, cols, dst, ld)       dst[c][r] = src[r][c], zero for rows ≤ r < ld
 *   softmaxRows(s, np, rows, n, scale, p)         p[i] = softmax(scale·s[i][0..n)), rows of n
 *   softmaxGradRows(p, g, np, rows, n, scale)     g[i][j] = scale·p[i][j]·(g[i][j] − Σ_j p[i][j]·g[i][j])
 *   combine(p, pis, pjs, x, xrs, rows, m, d, out, ors)
 *                                                 out[i] = Σ_{j<m} p(i, j)·x[j], p(i, j) at p + i·pis + j·pjs
 *                                                 (x's rows of d; the scores q·kᵀ are combine with kᵀ as x)
 *
 * Rows of n written by softmaxRows use whole vectors: a row's last vector spills up to 3
 * lanes into the next row, which is written after it (rows go in order), and the caller
 * leaves 4 floats of slack after the last. Lanes at j ≥ n are masked wherever they are read.
 */
export function attentionFunctions(fma: boolean): FuncDef[] {
  return [transpose(), softmaxRows(), softmaxGradRows(), combine(fma)];
}

/** i32x4 mask of the lanes j..j+3 that are below n (all ones) or not (zero). */
const below = (j: number, n: number) => v.ilt(v.iadd(v.isplat(op.get(j)), v.i32x4([0, 1, 2, 3])), v.isplat(op.get(n)));
const at = (base: number, ...terms: number[][]) => [...op.get(base), ...terms.flatMap((t) => [...t, ...op.i32Add])];
const times = (a: number, b: number | number[]) => [...op.get(a), ...(typeof b === 'number' ? op.get(b) : b), ...op.i32Mul];

function transpose(): FuncDef {
  const f = new Fn('transpose', [I32, I32, I32, I32, I32, I32]);
  const [SRC, RS, ROWS, COLS, DST, LD] = [0, 1, 2, 3, 4, 5];
  const [r, c] = [f.local(I32), f.local(I32)];
  const dst = (extra: number[]) => [...at(DST, times(c, [...op.get(LD), ...op.i32(4), ...op.i32Mul]), times(r, op.i32(4))), ...extra];
  f.loop(c, op.i32(0), op.get(COLS), 1, () => {
    f.loop(r, op.i32(0), op.get(ROWS), 1, () => f.emit(dst([]), at(SRC, times(r, RS), times(c, op.i32(4))), op.f32Load(0), op.f32Store(0)));
    f.loop(r, op.get(ROWS), op.get(LD), 1, () => f.emit(dst([]), op.f32(0), op.f32Store(0)));
  });
  return f.def();
}

/**
 * Emits `for (j = 0; j < end; j += w·step)` with w = 4 while four steps fit (the work of
 * four vectors side by side, so each load of the shared operand serves four), then w = 1.
 */
function blocked(f: Fn, j: number, end: number[], step: number, body: (w: number) => void): void {
  f.loop(j, op.i32(0), [...end, ...op.i32(3 * step), ...op.i32Sub], 4 * step, () => body(4));
  f.loop(j, op.get(j), end, step, () => body(1));
}

function softmaxRows(): FuncDef {
  const f = new Fn('softmaxRows', [I32, I32, I32, I32, F32, I32]);
  const [S, NP, ROWS, N, SCALE, P] = [0, 1, 2, 3, 4, 5];
  const [i, j, row, out] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const [x, mx, sum, sc, s1, s2] = [V128, V128, V128, V128, V128, V128].map((t) => f.local(t)) as [number, number, number, number, number, number];
  const src = () => [...op.get(row), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  const dst = () => [...op.get(out), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  f.emit(v.splat(op.get(SCALE)), op.set(sc));
  f.loop(i, op.i32(0), op.get(ROWS), 1, () => {
    f.emit(at(S, times(i, [...op.get(NP), ...op.i32(4), ...op.i32Mul])), op.set(row));
    f.emit(at(P, times(i, [...op.get(N), ...op.i32(4), ...op.i32Mul])), op.set(out));
    // scaled scores, −∞ past n, and their maximum
    f.emit(v.f(-Infinity), op.set(mx));
    f.loop(j, op.i32(0), op.get(NP), 4, () => {
      f.emit(v.select(v.mul([...src(), ...op.v128Load(0)], v.get(sc)), v.f(-Infinity), below(j, N)), op.set(x));
      f.emit(src(), v.get(x), op.v128Store(0), v.max(v.get(mx), v.get(x)), op.set(mx));
    });
    f.emit(v.hmax(v.get(mx)), op.set(mx));
    // e = exp(x − max) (zero past n), written to the output row, and Σ e
    f.emit(v.zero(), op.set(sum));
    f.loop(j, op.i32(0), op.get(NP), 4, () => {
      f.emit(v.and(exp(v.sub([...src(), ...op.v128Load(0)], v.get(mx)), s1, s2), below(j, N)), op.set(x));
      f.emit(dst(), v.get(x), op.v128Store(0), v.add(v.get(sum), v.get(x)), op.set(sum));
    });
    f.emit(v.div(v.f(1), v.hsum(v.get(sum))), op.set(sum));
    f.loop(j, op.i32(0), op.get(NP), 4, () => f.emit(dst(), v.mul([...dst(), ...op.v128Load(0)], v.get(sum)), op.v128Store(0)));
  });
  return f.def();
}

function softmaxGradRows(): FuncDef {
  const f = new Fn('softmaxGradRows', [I32, I32, I32, I32, I32, F32]);
  const [P, G, NP, ROWS, N, SCALE] = [0, 1, 2, 3, 4, 5];
  const [i, j, prow, grow] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const [dot, sc] = [f.local(V128), f.local(V128)];
  const pv = () => v.and([...op.get(prow), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0)], below(j, N));
  const gp = () => [...op.get(grow), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  f.emit(v.splat(op.get(SCALE)), op.set(sc));
  f.loop(i, op.i32(0), op.get(ROWS), 1, () => {
    f.emit(at(P, times(i, [...op.get(N), ...op.i32(4), ...op.i32Mul])), op.set(prow));
    f.emit(at(G, times(i, [...op.get(NP), ...op.i32(4), ...op.i32Mul])), op.set(grow));
    f.emit(v.zero(), op.set(dot));
    f.loop(j, op.i32(0), op.get(NP), 4, () => f.emit(v.add(v.get(dot), v.mul(pv(), [...gp(), ...op.v128Load(0)])), op.set(dot)));
    f.emit(v.hsum(v.get(dot)), op.set(dot));
    f.loop(j, op.i32(0), op.get(NP), 4, () => f.emit(gp(), v.mul(v.get(sc), v.mul(pv(), v.sub([...gp(), ...op.v128Load(0)], v.get(dot)))), op.v128Store(0)));
  });
  return f.def();
}

/**
 * Two output rows at a time (then the odd last one), each loaded vector of x serving both:
 * 8 accumulators, the register tile of the matmul kernel.
 */
function combine(fma: boolean): FuncDef {
  const f = new Fn('combine', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [P, PIS, PJS, X, XRS, ROWS, M, D, OUT, ORS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [i, c, j, pp, xp] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const acc = Array.from({ length: 8 }, () => f.local(V128));
  const [sp, sq, xv] = [f.local(V128), f.local(V128), f.local(V128)];
  const rowsOf = (r: number) => () => {
    blocked(f, c, [...op.get(D), ...op.i32(4), ...op.i32Mul], 16, (w) => {
      for (let t = 0; t < w * r; t++) f.emit(v.zero(), op.set(acc[t]!));
      f.emit(at(P, times(i, PIS)), op.set(pp), at(X, [...op.get(c)]), op.set(xp));
      f.loop(j, op.i32(0), op.get(M), 1, () => {
        f.emit(op.get(pp), op.v128Load32Splat(0), op.set(sp));
        if (r === 2) f.emit(op.get(pp), op.get(PIS), op.i32Add, op.v128Load32Splat(0), op.set(sq));
        for (let t = 0; t < w; t++) {
          f.emit(op.get(xp), op.v128Load(16 * t), op.set(xv));
          f.emit(v.madd(v.get(sp), v.get(xv), v.get(acc[t]!), fma), op.set(acc[t]!));
          if (r === 2) f.emit(v.madd(v.get(sq), v.get(xv), v.get(acc[w + t]!), fma), op.set(acc[w + t]!));
        }
        f.emit(op.get(pp), op.get(PJS), op.i32Add, op.set(pp), op.get(xp), op.get(XRS), op.i32Add, op.set(xp));
      });
      for (let t = 0; t < w; t++) {
        f.emit(at(OUT, times(i, ORS), [...op.get(c)]), v.get(acc[t]!), op.v128Store(16 * t));
        if (r === 2) f.emit(at(OUT, times(i, ORS), [...op.get(c)], op.get(ORS)), v.get(acc[w + t]!), op.v128Store(16 * t));
      }
    });
  };
  f.loop(i, op.i32(0), [...op.get(ROWS), ...op.i32(1), ...op.i32Sub], 2, rowsOf(2));
  f.loop(i, op.get(i), op.get(ROWS), 1, rowsOf(1));
  return f.def();
}
