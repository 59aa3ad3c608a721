/**
 * A minimal WebAssembly binary writer: enough to build the matmul kernels in this folder
 * from TypeScript (one imported memory, a few exported functions). Opcodes are named as in
 * the spec; kernels are written as arrays of bytes through the helpers below.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Instructions. `simd(op)` is the 0xfd prefix with a LEB opcode; memargs are (log2 align, offset). */
export const op = {
  block: [0x02, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  call: (f: number) => [0x10, ...uleb(f)],
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  i32LeS: [0x4c],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (l: number) => [0x0c, ...uleb(l)],
  brIf: (l: number) => [0x0d, ...uleb(l)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  f32: (v: number) => {
    const dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, v, true);
    return [0x43, ...new Uint8Array(dv.buffer)];
  },
  i32Eqz: [0x45],
  f32Load: (offset: number) => [0x2a, 2, ...uleb(offset)],
  f32Store: (offset: number) => [0x38, 2, ...uleb(offset)],
  i32LtS: [0x48],
  i32GeS: [0x4e],
  select: [0x1b],
  i32LtU: [0x49],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32And: [0x71],
  i32ShrU: [0x76],
  simd: (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm],
  v128Load: (offset: number) => op.simd(0x00, 4, ...uleb(offset)),
  v128Store: (offset: number) => op.simd(0x0b, 4, ...uleb(offset)),
  v128Load32Splat: (offset: number) => op.simd(0x09, 2, ...uleb(offset)),
  v128Zero: [0xfd, ...uleb(0x0c), ...new Array<number>(16).fill(0)],
  f32x4Add: [0xfd, ...uleb(0xe4)],
  f32x4Mul: [0xfd, ...uleb(0xe6)],
  /** relaxed-simd fused (or not) multiply-add: a·b + c. */
  f32x4RelaxedMadd: [0xfd, ...uleb(0x105)],
};

export interface FuncDef {
  name: string;
  params: number[];
  locals: number[];
  body: number[];
}

/**
 * A function under construction, for kernels written as structured code: locals are
 * allocated by type, and `loop` writes a counted loop (skipped when empty).
 */
export class Fn {
  readonly body: number[] = [];
  private readonly locals: number[] = [];

  constructor(
    readonly name: string,
    readonly params: number[],
  ) {}

  /** A new local of `type` (I32, F32 or V128); returns its index. */
  local(type: number): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  emit(...xs: number[][]): void {
    for (const x of xs) for (const b of x) this.body.push(b);
  }

  /** for (i = from; i < end; i += step) body(); `end` is evaluated before each test (i32, signed). */
  loop(i: number, from: number[], end: number[], step: number, body: () => void): void {
    this.emit(op.block, from, op.set(i), op.get(i), end, op.i32GeS, op.brIf(0), op.loop);
    body();
    this.emit(op.get(i), op.i32(step), op.i32Add, op.tee(i), end, op.i32LtS, op.brIf(0), op.end, op.end);
  }

  def(): FuncDef {
    return { name: this.name, params: this.params, locals: this.locals, body: this.body };
  }
}

/** A module importing `env.memory` (shared when asked) and exporting the given functions (no results). */
export function buildModule(funcs: FuncDef[], memory: { shared: boolean; min: number; max: number }): Uint8Array<ArrayBuffer> {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec([])]);
  const limits = memory.shared ? [0x03, ...uleb(memory.min), ...uleb(memory.max)] : [0x01, ...uleb(memory.min), ...uleb(memory.max)];
  const imports = [[...str('env'), ...str('memory'), 0x02, ...limits]];
  const exports = funcs.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]);
  const codes = funcs.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(7, vec(exports)),
    ...section(10, vec(codes)),
  ]);
}
