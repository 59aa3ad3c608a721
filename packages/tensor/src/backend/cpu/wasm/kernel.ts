import { Bytes, I32, op, V128, type FuncDef } from './emit.js';

export interface KernelShape {
  /** Rows of C per register tile. */
  mr: number;
  /** Columns of C per register tile (a multiple of 4: one f32x4 per 4 columns). */
  nr: number;
  /** Use relaxed-simd multiply-add (an FMA where the CPU has one) instead of mul + add. */
  fma: boolean;
}

type Emit = (...xs: ArrayLike<number>[]) => void;
function emitter(): [Bytes, Emit] {
  const body = new Bytes();
  return [body, (...xs) => body.write(...xs)];
}

/**
 * The functions of the gemm kernels for some tile shapes, first in their module (they call
 * each other by index), followed by `after` (the other kernels, whose `geluForward` the
 * parts call); each shape's functions are exported under the names of `kernelNames`, and
 * its `part` as part{i} (all sizes and pointers in bytes except counts):
 *
 *   packA(src, rs, cs, m, k, dst)  A `[m, k]` read through strides into row panels
 *                                  `[ceil(m/mr)][k][mr]`
 *   packBRows(src, rs, n, k, dst)  B `[k, n]` with contiguous rows into column panels
 *                                  `[ceil(n/nr)][k][nr]`
 *   packBCols(src, cs, n, k, dst)  the same for a B with contiguous columns (transposed)
 *   gemm(ap, ars, aks, aps, bp, cp, mPanels, nPanels, k, ldc, bias, acc)
 *       C = A·B + bias (+ C when acc is 1) on packed B (bias: a row of nPanels·nr floats
 *       added to every row; zeros for a plain product). A is read through strides: row r of a panel at r·ars, step p
 *       at p·aks, panel i at i·aps. A row-major A is read in place (ars = lda, aks = 4);
 *       a packed A has ars = 4, aks = mr·4.
 *
 * Rows (columns) past m (n) repeat the last one, so no read leaves the operand; they only
 * fill C's padding, which the caller drops. In `gemm` the mr×nr tile of C lives in
 * mr·nr/4 v128 locals (registers) for the whole k loop: each k step loads nr/4 vectors of
 * B, splats mr values of A and does mr·nr/4 multiply-adds.
 */
export function gemmFunctions(shapes: readonly KernelShape[], after: readonly FuncDef[]): FuncDef[] {
  const funcs = new Map<string, FuncDef>();
  const add = (f: FuncDef) => funcs.set(f.name, f);
  for (const s of shapes) {
    add(packAFn(s.mr));
    add(packRowsFn(s.nr));
    add(packColsFn(s.nr));
    add(gemmFn(s));
  }
  // the parts come last among the gemm's functions, then `after`
  const names = [...funcs.keys(), ...shapes.map((_, i) => `part${i}`), ...after.map((f) => f.name)];
  const index = (name: string) => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`gemmFunctions: no function ${name}`);
    return i;
  };
  shapes.forEach((s, i) => add(partFn(`part${i}`, s, index)));
  return [...funcs.values(), ...after];
}

/** The export names of one tile shape's functions in the module of `gemmFunctions`. */
export const kernelNames = (s: KernelShape) => ({
  packA: `packA${s.mr}`,
  packBRows: `packBRows${s.nr}`,
  packBCols: `packBCols${s.nr}`,
  gemm: `gemm${s.mr}x${s.nr}${s.fma ? 'fma' : ''}`,
});

/**
 * Int32 slots of a job in a control block (pointers, strides and ldc in bytes). Np units
 * are claimed Chunk at a time through the main thread's `Next`; a worker takes a job by
 * clearing `Claim` and runs the gemm's part{Shape} when `Task` is −1, else the task
 * (see engine.ts).
 */
const SLOTS = [
  'Seq',
  'Done',
  'Ready',
  'Claim',
  'Task',
  'Shape',
  /** 1: B's rows are contiguous; 0: its columns are (a transposed B). */
  'RowMajorB',
  'Rb',
  'BRow',
  'BCol',
  'J0',
  'J1',
  'N',
  'K',
  'Bp',
  'A',
  'Ars',
  'Aks',
  'Aps',
  'Cp',
  'Mp',
  /** Row panels of A per block (see partFn). */
  'Mb',
  'Ldc',
  'Bias',
  'Acc',
  /** 1: C = GELU(C) once a block's product is done. */
  'Gelu',
  'Np',
  'Chunk',
  'Next',
  'Count',
] as const;
/** The index of each slot (`Slot.Count`: how many there are). */
export const Slot = Object.fromEntries(SLOTS.map((name, i) => [name, i])) as { readonly [K in (typeof SLOTS)[number]]: number };
export type Slot = number;

/**
 * part{i}(ctrl): one thread's share of a product with tile shape i. Reads its job from
 * the control block at `ctrl`, packs B's column panels [J0, J1) and multiplies them by
 * A into C, a block of Mb row panels of A at a time (so a tall A is read from memory once
 * per share, not once per panel). Threads run it on disjoint panels, so they never write
 * the same bytes.
 */
function partFn(name: string, s: KernelShape, index: (name: string) => number): FuncDef {
  const n = kernelNames(s);
  const CTRL = 0;
  const [J0, J1, COL0, COLS, BP, I0, ROWS, PTR] = [1, 2, 3, 4, 5, 6, 7, 8];
  const L = (slot: Slot) => [...op.get(CTRL), ...op.i32Load(slot * 4)];
  const [body, emit] = emitter();
  emit(op.block);
  emit(L(Slot.J0), op.set(J0), L(Slot.J1), op.tee(J1), op.get(J0), op.i32LeS, op.brIf(0));
  emit(op.get(J0), op.i32(s.nr), op.i32Mul, op.set(COL0));
  // cols = min(n, j1·nr) − col0
  emit(L(Slot.N), op.get(J1), op.i32(s.nr), op.i32Mul, L(Slot.N), op.get(J1), op.i32(s.nr), op.i32Mul, op.i32LtS, op.select);
  emit(op.get(COL0), op.i32Sub, op.set(COLS));
  // this share's packed panels start at bp + j0·k·nr·4
  emit(L(Slot.Bp), op.get(J0), L(Slot.K), op.i32Mul, op.i32(s.nr * 4), op.i32Mul, op.i32Add, op.set(BP));
  emit(L(Slot.RowMajorB), op.if);
  emit(L(Slot.Rb), op.get(COL0), op.i32(4), op.i32Mul, op.i32Add, L(Slot.BRow), op.get(COLS), L(Slot.K), op.get(BP), op.call(index(n.packBRows)));
  emit(op.else);
  emit(L(Slot.Rb), op.get(COL0), L(Slot.BCol), op.i32Mul, op.i32Add, L(Slot.BCol), op.get(COLS), L(Slot.K), op.get(BP), op.call(index(n.packBCols)));
  emit(op.end);
  // A in blocks of Mb row panels (I0 the first): each block is read from memory once per
  // share, and stays in cache while it meets every packed panel of the share
  emit(op.i32(0), op.set(I0), op.loop);
  {
    // rows = min(Mb, Mp − I0) panels
    emit(L(Slot.Mb), L(Slot.Mp), op.get(I0), op.i32Sub, op.tee(ROWS), L(Slot.Mb), op.get(ROWS), op.i32LtS, op.select, op.set(ROWS));
    emit(L(Slot.A), L(Slot.Aps), op.get(I0), op.i32Mul, op.i32Add, L(Slot.Ars), L(Slot.Aks), L(Slot.Aps), op.get(BP));
    emit(L(Slot.Cp), op.get(COL0), op.i32(4), op.i32Mul, op.i32Add, L(Slot.Ldc), op.get(I0), op.i32(s.mr), op.i32Mul, op.i32Mul, op.i32Add);
    emit(op.get(ROWS), op.get(J1), op.get(J0), op.i32Sub, L(Slot.K), L(Slot.Ldc));
    emit(L(Slot.Bias), op.get(COL0), op.i32(4), op.i32Mul, op.i32Add, L(Slot.Acc), op.call(index(n.gemm)));
    // with Gelu: the GELU of the block's rows of the share's columns, in place, while in cache
    emit(L(Slot.Gelu), op.if);
    {
      emit(L(Slot.Cp), op.get(COL0), op.i32(4), op.i32Mul, op.i32Add, L(Slot.Ldc), op.get(I0), op.i32(s.mr), op.i32Mul, op.i32Mul, op.i32Add, op.set(PTR));
      emit(op.get(ROWS), op.i32(s.mr), op.i32Mul, op.set(ROWS), op.loop);
      {
        emit(op.get(PTR), op.get(PTR), op.get(J1), op.get(J0), op.i32Sub, op.i32(s.nr), op.i32Mul, op.call(index('geluForward')));
        emit(op.get(PTR), L(Slot.Ldc), op.i32Add, op.set(PTR));
        emit(op.get(ROWS), op.i32(1), op.i32Sub, op.tee(ROWS), op.brIf(0));
      }
      emit(op.end);
    }
    emit(op.end);
    emit(op.get(I0), L(Slot.Mb), op.i32Add, op.tee(I0), L(Slot.Mp), op.i32LtS, op.brIf(0));
  }
  emit(op.end);
  emit(op.end);
  return { name, params: [I32], locals: Array(8).fill(I32), body: body.bytes };
}

/**
 * packBRows(src, rs, n, k, dst): packB for a B whose rows are contiguous, nr/4 vectors per
 * (panel, row). The last panel reads past column n (into the next row, the padding the
 * caller leaves after a copied B, or past a pinned B into what follows it in the memory,
 * at worst the call's own operands): those values only reach C's padding columns.
 */
function packRowsFn(nr: number): FuncDef {
  const [SRC, RS, N, K, DST] = [0, 1, 2, 3, 4];
  const [COL, P, PTR] = [5, 6, 7];
  const [body, emit] = emitter();
  emit(op.i32(0), op.set(COL), op.loop);
  {
    emit(op.get(SRC), op.get(COL), op.i32(4), op.i32Mul, op.i32Add, op.set(PTR));
    emit(op.get(K), op.set(P), op.loop);
    {
      for (let c = 0; c < nr / 4; c++) emit(op.get(DST), op.get(PTR), op.v128Load(c * 16), op.v128Store(c * 16));
      emit(op.get(DST), op.i32(nr * 4), op.i32Add, op.set(DST));
      emit(op.get(PTR), op.get(RS), op.i32Add, op.set(PTR));
      emit(op.get(P), op.i32(1), op.i32Sub, op.tee(P), op.brIf(0));
    }
    emit(op.end);
    emit(op.get(COL), op.i32(nr), op.i32Add, op.tee(COL), op.get(N), op.i32LtS, op.brIf(0));
  }
  emit(op.end);
  return { name: `packBRows${nr}`, params: Array(5).fill(I32), locals: Array(3).fill(I32), body: body.bytes };
}

/**
 * Sets locals ptr..ptr + w − 1 to the panel's w line pointers, src + min(first + l,
 * lines − 1)·stride: lines past the last repeat it (the packs' padding rows and columns).
 */
function linePointers(w: number, first: number, lines: number, stride: number, src: number, ptr: number): ArrayLike<number> {
  const [body, emit] = emitter();
  for (let l = 0; l < w; l++) {
    emit(op.get(first), op.i32(l), op.i32Add, op.get(lines), op.i32(1), op.i32Sub);
    emit(op.get(first), op.i32(l), op.i32Add, op.get(lines), op.i32LtS, op.select); // min
    emit(op.get(stride), op.i32Mul, op.get(src), op.i32Add, op.set(ptr + l));
  }
  return body.bytes;
}

/**
 * packBCols(src, cs, n, k, dst): packB for a B whose columns are contiguous (a transposed
 * weight `[n, k]`, as `linear` multiplies it): four steps of four columns at a time are
 * read as four vectors and transposed with shuffles, instead of 16 scalar moves; the
 * last k mod 4 steps move one value at a time. Columns past n repeat the last one.
 */
function packColsFn(nr: number): FuncDef {
  const [SRC, CS, N, K, DST] = [0, 1, 2, 3, 4];
  const [COL, P, OFF] = [5, 6, 7];
  const PTR = 8; // nr column pointers
  const R = PTR + nr; // 4 loaded rows of a 4×4 block
  const T = R + 4; // 4 half-transposed vectors
  const [body, emit] = emitter();
  // i8x16.shuffle of two f32x4 by lanes (0-3 of the first, 4-7 of the second)
  const shuffle = (a: number, b: number, lanes: number[]) => [
    ...op.get(a),
    ...op.get(b),
    ...op.simd(0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])),
  ];
  emit(op.i32(0), op.set(COL), op.loop);
  {
    emit(linePointers(nr, COL, N, CS, SRC, PTR));
    emit(op.i32(0), op.set(OFF));
    emit(op.block, op.get(K), op.i32(2), op.i32ShrU, op.tee(P), op.i32Eqz, op.brIf(0), op.loop);
    {
      for (let g = 0; g < nr / 4; g++) {
        for (let l = 0; l < 4; l++) emit(op.get(PTR + 4 * g + l), op.get(OFF), op.i32Add, op.v128Load(0), op.set(R + l));
        emit(shuffle(R, R + 1, [0, 4, 1, 5]), op.set(T), shuffle(R, R + 1, [2, 6, 3, 7]), op.set(T + 1));
        emit(shuffle(R + 2, R + 3, [0, 4, 1, 5]), op.set(T + 2), shuffle(R + 2, R + 3, [2, 6, 3, 7]), op.set(T + 3));
        const out: [number, number, number[]][] = [
          [T, T + 2, [0, 1, 4, 5]],
          [T, T + 2, [2, 3, 6, 7]],
          [T + 1, T + 3, [0, 1, 4, 5]],
          [T + 1, T + 3, [2, 3, 6, 7]],
        ];
        out.forEach(([a, b, lanes], step) => emit(op.get(DST), shuffle(a, b, lanes), op.v128Store(step * nr * 4 + g * 16)));
      }
      emit(op.get(DST), op.i32(4 * nr * 4), op.i32Add, op.set(DST));
      emit(op.get(OFF), op.i32(16), op.i32Add, op.set(OFF));
      emit(op.get(P), op.i32(1), op.i32Sub, op.tee(P), op.brIf(0));
    }
    emit(op.end, op.end);
    emit(op.block, op.get(K), op.i32(3), op.i32And, op.tee(P), op.i32Eqz, op.brIf(0), op.loop);
    {
      for (let l = 0; l < nr; l++) emit(op.get(DST), op.get(PTR + l), op.get(OFF), op.i32Add, op.f32Load(0), op.f32Store(l * 4));
      emit(op.get(DST), op.i32(nr * 4), op.i32Add, op.set(DST));
      emit(op.get(OFF), op.i32(4), op.i32Add, op.set(OFF));
      emit(op.get(P), op.i32(1), op.i32Sub, op.tee(P), op.brIf(0));
    }
    emit(op.end, op.end);
    emit(op.get(COL), op.i32(nr), op.i32Add, op.tee(COL), op.get(N), op.i32LtS, op.brIf(0));
  }
  emit(op.end);
  return { name: `packBCols${nr}`, params: Array(5).fill(I32), locals: [...Array(3 + nr).fill(I32), ...Array(8).fill(V128)], body: body.bytes };
}

/**
 * packA(src, rs, cs, m, k, dst): for each panel of mr rows, for p in 0..k, store the mr
 * values at (row, p). Row l of the panel starts at src + min(l, m − 1)·rs, and step p
 * adds p·cs.
 */
function packAFn(mr: number): FuncDef {
  const [SRC, RS, CS, M, K, DST] = [0, 1, 2, 3, 4, 5];
  const [P, OFF, ROW0] = [6, 7, 8];
  const PTR = 9; // mr row pointers
  const [body, emit] = emitter();
  emit(op.i32(0), op.set(ROW0));
  emit(op.loop);
  {
    emit(linePointers(mr, ROW0, M, RS, SRC, PTR));
    emit(op.i32(0), op.set(OFF), op.get(K), op.set(P), op.loop);
    {
      for (let l = 0; l < mr; l++) emit(op.get(DST), op.get(PTR + l), op.get(OFF), op.i32Add, op.f32Load(0), op.f32Store(l * 4));
      emit(op.get(DST), op.i32(mr * 4), op.i32Add, op.set(DST));
      emit(op.get(OFF), op.get(CS), op.i32Add, op.set(OFF));
      emit(op.get(P), op.i32(1), op.i32Sub, op.tee(P), op.brIf(0));
    }
    emit(op.end);
    emit(op.get(ROW0), op.i32(mr), op.i32Add, op.tee(ROW0), op.get(M), op.i32LtS, op.brIf(0));
  }
  emit(op.end);
  return { name: `packA${mr}`, params: Array(6).fill(I32), locals: Array(3 + mr).fill(I32), body: body.bytes };
}

function gemmFn(s: KernelShape): FuncDef {
  const { mr, nr } = s;
  const nv = nr / 4;
  // params: 0 ap, 1 ars, 2 aks, 3 aps, 4 bp, 5 cp, 6 mPanels, 7 nPanels, 8 k, 9 ldc, 10 bias, 11 acc
  const [AP, ARS, AKS, APS, BP, CP, MP, NP, K, LDC, BIAS, ACCUMULATE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [JP, IP, A, B, KK, CROW, APCUR, CTILE] = [12, 13, 14, 15, 16, 17, 18, 19];
  const ROW = 20; // mr − 1 row offsets r·ars (row 0 has none)
  const ACC = ROW + mr - 1; // mr·nv accumulators
  const BV = ACC + mr * nv; // nv vectors of B
  const SA = BV + nv; // the splat of A
  const acc = (r: number, c: number) => ACC + r * nv + c;
  const [body, emit] = emitter();

  for (let r = 1; r < mr; r++) emit(op.get(ARS), op.i32(r), op.i32Mul, op.set(ROW + r - 1));
  emit(op.i32(0), op.set(JP), op.loop);
  {
    // A restarts at its first panel; the C tile starts at column jp·nr
    emit(op.get(AP), op.set(APCUR));
    emit(op.get(CP), op.get(JP), op.i32(nr * 4), op.i32Mul, op.i32Add, op.set(CTILE));
    emit(op.i32(0), op.set(IP), op.loop);
    {
      // the tile starts from the bias of its columns
      for (let r = 0; r < mr; r++)
        for (let c = 0; c < nv; c++) emit(op.get(BIAS), op.get(JP), op.i32(nr * 4), op.i32Mul, op.i32Add, op.v128Load(c * 16), op.set(acc(r, c)));
      // accumulating: plus the tile of C already there
      emit(op.get(ACCUMULATE), op.if);
      for (let r = 0; r < mr; r++) {
        for (let c = 0; c < nv; c++)
          emit(op.get(CTILE), op.get(LDC), op.i32(r), op.i32Mul, op.i32Add, op.v128Load(c * 16), op.get(acc(r, c)), op.f32x4Add, op.set(acc(r, c)));
      }
      emit(op.end);
      // B panel jp starts at bp + jp·k·nr·4
      emit(op.get(BP), op.get(JP), op.get(K), op.i32Mul, op.i32(nr * 4), op.i32Mul, op.i32Add, op.set(B));
      // k steps (k >= 1; the caller handles k = 0). Unrolling this loop measured slower under TurboFan.
      emit(op.get(APCUR), op.set(A), op.get(K), op.set(KK));
      emit(op.loop);
      {
        for (let c = 0; c < nv; c++) emit(op.get(B), op.v128Load(c * 16), op.set(BV + c));
        for (let r = 0; r < mr; r++) {
          emit(op.get(A), ...(r > 0 ? [op.get(ROW + r - 1), op.i32Add] : []), op.v128Load32Splat(0), op.set(SA));
          for (let c = 0; c < nv; c++) {
            if (s.fma) emit(op.get(SA), op.get(BV + c), op.get(acc(r, c)), op.f32x4RelaxedMadd, op.set(acc(r, c)));
            else emit(op.get(SA), op.get(BV + c), op.f32x4Mul, op.get(acc(r, c)), op.f32x4Add, op.set(acc(r, c)));
          }
        }
        emit(op.get(A), op.get(AKS), op.i32Add, op.set(A));
        emit(op.get(B), op.i32(nr * 4), op.i32Add, op.set(B));
        emit(op.get(KK), op.i32(1), op.i32Sub, op.tee(KK), op.brIf(0));
      }
      emit(op.end);
      // store the tile
      emit(op.get(CTILE), op.set(CROW));
      for (let r = 0; r < mr; r++) {
        for (let c = 0; c < nv; c++) emit(op.get(CROW), op.get(acc(r, c)), op.v128Store(c * 16));
        if (r < mr - 1) emit(op.get(CROW), op.get(LDC), op.i32Add, op.set(CROW));
      }
      // next row panel of A and of C
      emit(op.get(APCUR), op.get(APS), op.i32Add, op.set(APCUR));
      emit(op.get(CTILE), op.get(LDC), op.i32(mr), op.i32Mul, op.i32Add, op.set(CTILE));
      emit(op.get(IP), op.i32(1), op.i32Add, op.tee(IP), op.get(MP), op.i32LtU, op.brIf(0));
    }
    emit(op.end);
    emit(op.get(JP), op.i32(1), op.i32Add, op.tee(JP), op.get(NP), op.i32LtU, op.brIf(0));
  }
  emit(op.end);
  const locals = [...Array(8 + mr - 1).fill(I32), ...Array(mr * nv + nv + 1).fill(V128)];
  return { name: kernelNames(s).gemm, params: Array(12).fill(I32), locals, body: body.bytes };
}
