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
  return [add(), kernel('geluForward', false), kernel('geluBackward', true)];
}

function add(): FuncDef {
  const f = new Fn('add', [I32, I32, I32, I32]);
  const [A, B, OUT, N] = [0, 1, 2, 3];
  const i = f.local(I32);
  const ld = (p: number) => [...op.get(p), ...op.get(i), ...op.i32Add, ...op.v128Load(0)];
  f.loop(i, op.i32(0), [...op.get(N), ...op.i32(4), ...op.i32Mul], 16, () => f.emit(op.get(OUT), op.get(i), op.i32Add, v.add(ld(A), ld(B)), op.v128Store(0)));
  return f.def();
}

function kernel(name: string, backward: boolean): FuncDef {
  const f = new Fn(name, backward ? [I32, I32, I32, I32] : [I32, I32, I32]);
  const [X, G, OUT, N] = backward ? [0, 1, 2, 3] : [0, -1, 1, 2];
  const i = f.local(I32);
  const [xv, u, z, t, phi, s1, s2] = [V128, V128, V128, V128, V128, V128, V128].map((ty) => f.local(ty)) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  f.loop(i, op.i32(0), [...op.get(N), ...op.i32(4), ...op.i32Mul], 16, () => {
    f.emit(op.get(X), op.get(i), op.i32Add, op.v128Load(0), op.set(xv));
    f.emit(v.mul(v.get(xv), v.f(-Math.SQRT1_2)), op.set(u));
    f.emit(v.abs(v.get(u)), op.set(z));
    f.emit(v.div(v.f(1), v.add(v.f(1), v.mul(v.f(0.5), v.get(z)))), op.set(t));
    // erfc(|u|), then erfc(u) = u ≥ 0 ? erfc(|u|) : 2 − erfc(|u|); Φ(x) = erfc(u)/2
    f.emit(v.mul(v.get(t), exp(v.sub(horner(v.get(t), ERFC_P), v.mul(v.get(z), v.get(z))), s1, s2)), op.set(z));
    f.emit(v.mul(v.f(0.5), v.select(v.get(z), v.sub(v.f(2), v.get(z)), v.ge(v.get(u), v.zero()))), op.set(phi));
    f.emit(op.get(OUT), op.get(i), op.i32Add);
    if (!backward) f.emit(v.mul(v.get(xv), v.get(phi)));
    else {
      // Φ(x) + x·φ(x), φ(x) = exp(−x²/2)/√(2π)
      const density = v.mul(v.f(1 / Math.sqrt(2 * Math.PI)), exp(v.mul(v.f(-0.5), v.mul(v.get(xv), v.get(xv))), s1, s2));
      f.emit(v.mul([...op.get(G), ...op.get(i), ...op.i32Add, ...op.v128Load(0)], v.add(v.get(phi), v.mul(v.get(xv), density))));
    }
    f.emit(op.v128Store(0));
  });
  return f.def();
}
