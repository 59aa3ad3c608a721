import { extend } from '@ggem/tensor';

const { buildModule, Bytes, exp, F32, I32, log, op, V128, v } = extend;
type FuncDef = extend.FuncDef;

/**
 * The WebAssembly module of the fused GeM / GGeM kernels (f32x4 over 4 channels at a time,
 * so C must be a multiple of 4; pointers in bytes):
 *
 *   gemForward(x, n, c, start, p, eps, m, rp, s, t)   one image x `[n, c]`: per channel
 *       M = max(eps, max_t x), r^p = exp(p·ln r) with ln r = ln max(x, eps) − ln M (no division),
 *       stored at rp `[n − start, c]`,
 *       s = Σ_t r^p and T = Σ_t r^p·ln r accumulated in float64 (f64 `[c]` at s and t)
 *   gemBackward(x, rp, k, gx, n, c, start, eps)   gx[t, c] = k[c]·r^p / x  where x >= eps, else 0
 *
 * The per-channel finish (y, and the factors k and ∂y/∂p) is a few operations per column
 * and stays in TypeScript (./reference.ts), where the formulas are documented.
 */
export function gemModule(): Uint8Array<ArrayBuffer> {
  return buildModule([forward(), backward()], { shared: false, min: 1, max: 65536 });
}

function forward(): FuncDef {
  const [X, N, C, START, P, EPS, MP, RP, SP, TP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [CO, ROW, OUT, T, STRIDE] = [10, 11, 12, 13, 14]; // i32 locals
  const [M, PV, EV, XV, LR, E, SLO, SHI, TLO, THI, S1, S2, S3, EL, LM] = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]; // v128
  const body = new Bytes();
  const emit = (...xs: number[][]) => body.write(...xs);
  emit(op.get(C), op.i32(4), op.i32Mul, op.set(STRIDE));
  emit(op.get(EPS), [0xfd, 0x13], op.set(EV)); // f32x4.splat
  emit(op.i32(0), op.set(CO), op.loop);
  {
    // pass 1: the channel maximum
    emit(v.get(EV), op.set(M));
    emit(op.get(X), op.get(START), op.get(STRIDE), op.i32Mul, op.i32Add, op.get(CO), op.i32Add, op.set(ROW));
    emit(op.get(START), op.set(T), op.loop);
    emit(v.max(v.get(M), [...op.get(ROW), ...op.v128Load(0)]), op.set(M));
    emit(op.get(ROW), op.get(STRIDE), op.i32Add, op.set(ROW));
    emit(op.get(T), op.i32(1), op.i32Add, op.tee(T), op.get(N), op.i32LtS, op.brIf(0), op.end);
    emit(op.get(MP), op.get(CO), op.i32Add, v.get(M), op.v128Store(0));
    emit(log(v.get(M), S1, S2, S3), op.set(LM));
    // pass 2: r^p and the float64 sums
    emit(op.get(P), op.get(CO), op.i32Add, op.v128Load(0), op.set(PV));
    for (const acc of [SLO, SHI, TLO, THI]) emit(v.zero(), op.set(acc));
    emit(op.get(X), op.get(START), op.get(STRIDE), op.i32Mul, op.i32Add, op.get(CO), op.i32Add, op.set(ROW));
    emit(op.get(RP), op.get(CO), op.i32Add, op.set(OUT));
    emit(op.get(START), op.set(T), op.loop);
    {
      emit(v.max([...op.get(ROW), ...op.v128Load(0)], v.get(EV)), op.set(XV));
      emit(v.sub(log(v.get(XV), S1, S2, S3), v.get(LM)), op.set(LR)); // ln r
      emit(exp(v.mul(v.get(PV), v.get(LR)), S1, S2), op.set(E));
      emit(op.get(OUT), v.get(E), op.v128Store(0));
      emit(v.mul(v.get(E), v.get(LR)), op.set(EL));
      emit(v.add64(v.get(SLO), v.lo64(v.get(E))), op.set(SLO));
      emit(v.add64(v.get(SHI), v.hi64(v.get(E))), op.set(SHI));
      emit(v.add64(v.get(TLO), v.lo64(v.get(EL))), op.set(TLO));
      emit(v.add64(v.get(THI), v.hi64(v.get(EL))), op.set(THI));
      emit(op.get(ROW), op.get(STRIDE), op.i32Add, op.set(ROW));
      emit(op.get(OUT), op.get(STRIDE), op.i32Add, op.set(OUT));
      emit(op.get(T), op.i32(1), op.i32Add, op.tee(T), op.get(N), op.i32LtS, op.brIf(0));
    }
    emit(op.end);
    // f64 sums: channel co/4 .. +3 at byte offset 2·co
    emit(op.get(SP), op.get(CO), op.i32(2), op.i32Mul, op.i32Add, v.get(SLO), op.v128Store(0));
    emit(op.get(SP), op.get(CO), op.i32(2), op.i32Mul, op.i32Add, v.get(SHI), op.v128Store(16));
    emit(op.get(TP), op.get(CO), op.i32(2), op.i32Mul, op.i32Add, v.get(TLO), op.v128Store(0));
    emit(op.get(TP), op.get(CO), op.i32(2), op.i32Mul, op.i32Add, v.get(THI), op.v128Store(16));
    emit(op.get(CO), op.i32(16), op.i32Add, op.tee(CO), op.get(STRIDE), op.i32LtS, op.brIf(0));
  }
  emit(op.end);
  return {
    name: 'gemForward',
    params: [I32, I32, I32, I32, I32, F32, I32, I32, I32, I32],
    locals: [...Array(5).fill(I32), ...Array(15).fill(V128)],
    body: body.bytes,
  };
}

function backward(): FuncDef {
  const [X, RP, K, GX, N, C, START, EPS] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [CO, ROW, OUT, SRC, T, STRIDE] = [8, 9, 10, 11, 12, 13];
  const [EV, XV] = [14, 15];
  const body = new Bytes();
  const emit = (...xs: number[][]) => body.write(...xs);
  emit(op.get(C), op.i32(4), op.i32Mul, op.set(STRIDE));
  emit(op.get(EPS), [0xfd, 0x13], op.set(EV));
  emit(op.get(START), op.set(T), op.loop);
  {
    emit(op.get(X), op.get(T), op.get(STRIDE), op.i32Mul, op.i32Add, op.set(ROW));
    emit(op.get(GX), op.get(T), op.get(STRIDE), op.i32Mul, op.i32Add, op.set(OUT));
    emit(op.get(RP), op.get(T), op.get(START), op.i32Sub, op.get(STRIDE), op.i32Mul, op.i32Add, op.set(SRC));
    emit(op.i32(0), op.set(CO), op.loop);
    {
      emit(op.get(ROW), op.get(CO), op.i32Add, op.v128Load(0), op.set(XV));
      emit(op.get(OUT), op.get(CO), op.i32Add);
      emit(
        v.and(
          v.div(
            v.mul([...op.get(K), ...op.get(CO), ...op.i32Add, ...op.v128Load(0)], [...op.get(SRC), ...op.get(CO), ...op.i32Add, ...op.v128Load(0)]),
            v.get(XV),
          ),
          v.ge(v.get(XV), v.get(EV)),
        ),
      );
      emit(op.v128Store(0));
      emit(op.get(CO), op.i32(16), op.i32Add, op.tee(CO), op.get(STRIDE), op.i32LtS, op.brIf(0));
    }
    emit(op.end);
    emit(op.get(T), op.i32(1), op.i32Add, op.tee(T), op.get(N), op.i32LtS, op.brIf(0));
  }
  emit(op.end);
  return { name: 'gemBackward', params: [I32, I32, I32, I32, I32, I32, I32, F32], locals: [...Array(6).fill(I32), V128, V128], body: body.bytes };
}
