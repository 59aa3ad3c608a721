import { Fn, I32, op, V128, type FuncDef } from './emit.js';
import { ERFC_P } from '../../reference/math.js';
import { exp, horner, v } from './vec.js';

/**
 * Elementwise float32 kernels, f32x4 (pointers in bytes, the length in floats; the
 * caller's layout pads every operand to whole vectors):
 *
 *   add(a, b, out, n)           out = a + b
 *   geluForward(x, y, n)        y = x·Φ(x), the exact (erf) GELU
 *   geluBackward(x, g, gx, n)   gx = g·(Φ(x) + x·φ(x))
 *
 * Φ(x) = erfc(−x/√2)/2 with Numerical Recipes' erfc (fractional error below 1.2e-7, so the
 * far negative tail keeps its relative accuracy, as in ../math.ts):
 * erfc(z) = t·exp(−z² − 1.26551223 + t·P(t)), t = 1/(1 + z/2) for z ≥ 0, and 2 − erfc(−z).
 */
export function elementwiseFunctions(): FuncDef[] {
  return [add(), kernel('geluForward', false, 6), kernel('geluBackward', true, 4)];
}

function add(): FuncDef {
  const f = new Fn('add', [I32, I32, I32, I32]);
  const [A, B, OUT, N] = [0, 1, 2, 3];
  const i = f.local(I32);
  const ld = (p: number) => [...op.get(p), ...op.get(i), ...op.i32Add, ...op.v128Load(0)];
  f.loop(i, op.i32(0), [...op.get(N), ...op.i32(4), ...op.i32Mul], 16, () => f.emit(op.get(OUT), op.get(i), op.i32Add, v.add(ld(A), ld(B)), op.v128Store(0)));
  return f.def();
}

/**
 * The GELU passes handle `lanes` vectors an iteration, each statement for every vector in
 * turn, so the core overlaps their long dependency chains (erfc's polynomial, exp). Per
 * 302K floats on one core, here: forward 1.49 ms with one vector, 0.80 with four, 0.62 with
 * six, 0.67 with eight; backward (two exps, more live vectors) 1.61 with one, 0.98 with
 * four, 1.15 with six.
 */
function kernel(name: string, backward: boolean, lanes: number): FuncDef {
  const f = new Fn(name, backward ? [I32, I32, I32, I32] : [I32, I32, I32]);
  const [X, G, OUT, N] = backward ? [0, 1, 2, 3] : [0, -1, 1, 2];
  const i = f.local(I32);
  const lane = () => {
    const [xv, u, z, t, phi, s1, s2] = [0, 0, 0, 0, 0, 0, 0].map(() => f.local(V128)) as [number, number, number, number, number, number, number];
    return { xv, u, z, t, phi, s1, s2 };
  };
  const group = Array.from({ length: lanes }, lane);
  type Lane = (typeof group)[number];
  // each statement for every lane in turn: the lanes' chains are independent
  const statements: ((l: Lane, at: number) => number[][])[] = [
    (l, at) => [op.get(X), op.get(i), op.i32Add, op.v128Load(at), op.set(l.xv)],
    (l) => [v.mul(v.get(l.xv), v.f(-Math.SQRT1_2)), op.set(l.u)],
    (l) => [v.abs(v.get(l.u)), op.set(l.z)],
    (l) => [v.div(v.f(1), v.add(v.f(1), v.mul(v.f(0.5), v.get(l.z)))), op.set(l.t)],
    // erfc(|u|), then erfc(u) = u ≥ 0 ? erfc(|u|) : 2 − erfc(|u|); Φ(x) = erfc(u)/2
    (l) => [v.mul(v.get(l.t), exp(v.sub(horner(v.get(l.t), ERFC_P), v.mul(v.get(l.z), v.get(l.z))), l.s1, l.s2)), op.set(l.z)],
    (l) => [v.mul(v.f(0.5), v.select(v.get(l.z), v.sub(v.f(2), v.get(l.z)), v.ge(v.get(l.u), v.zero()))), op.set(l.phi)],
    (l, at) => {
      const out = [op.get(OUT), op.get(i), op.i32Add];
      if (!backward) return [...out, v.mul(v.get(l.xv), v.get(l.phi)), op.v128Store(at)];
      // Φ(x) + x·φ(x), φ(x) = exp(−x²/2)/√(2π)
      const density = v.mul(v.f(1 / Math.sqrt(2 * Math.PI)), exp(v.mul(v.f(-0.5), v.mul(v.get(l.xv), v.get(l.xv))), l.s1, l.s2));
      return [
        ...out,
        v.mul([...op.get(G), ...op.get(i), ...op.i32Add, ...op.v128Load(at)], v.add(v.get(l.phi), v.mul(v.get(l.xv), density))),
        op.v128Store(at),
      ];
    },
  ];
  const body = (ls: Lane[]) => () => {
    for (const st of statements) ls.forEach((l, k) => f.emit(...st(l, k * 16)));
  };
  const bytes = [...op.get(N), ...op.i32(4), ...op.i32Mul];
  // whole groups of lanes, then single vectors
  f.loop(i, op.i32(0), [...bytes, ...op.i32(16 * (lanes - 1)), ...op.i32Sub], 16 * lanes, body(group));
  f.loop(i, op.get(i), bytes, 16, body(group.slice(0, 1)));
  return f.def();
}
