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

/**
 * A growing buffer of bytes, which kernels and modules are written into: its bytes live in
 * one typed array, so writing a module leaves little for the garbage collector (arrays of
 * numbers, spread into one another, left megabytes of young objects, and V8 sizes its young
 * generation by what survives).
 */
export class Bytes {
  private buf = new Uint8Array(1024);
  length = 0;

  /** Appends each part's bytes. */
  write(...parts: ArrayLike<number>[]): void {
    for (const p of parts) {
      this.reserve(p.length);
      if (p instanceof Uint8Array) this.buf.set(p, this.length);
      else for (let i = 0; i < p.length; i++) this.buf[this.length + i] = p[i]!;
      this.length += p.length;
    }
  }

  /** Appends n as an unsigned LEB128. */
  uleb(n: number): void {
    this.write(uleb(n));
  }

  /** A view of the bytes written so far (valid until the next write). */
  get bytes(): Uint8Array<ArrayBuffer> {
    return this.buf.subarray(0, this.length);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(2 * this.buf.length, this.length + n));
    grown.set(this.bytes);
    this.buf = grown;
  }
}

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
  body: ArrayLike<number>;
}

/**
 * A function under construction, for kernels written as structured code: locals are
 * allocated by type, and `loop` writes a counted loop (skipped when empty).
 */
export class Fn {
  readonly body = new Bytes();
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
    this.body.write(...xs);
  }

  /** for (i = from; i < end; i += step) body(); `end` is evaluated before each test (i32, signed). */
  loop(i: number, from: number[], end: number[], step: number, body: () => void): void {
    this.emit(op.block, from, op.set(i), op.get(i), end, op.i32GeS, op.brIf(0), op.loop);
    body();
    this.emit(op.get(i), op.i32(step), op.i32Add, op.tee(i), end, op.i32LtS, op.brIf(0), op.end, op.end);
  }

  def(): FuncDef {
    return { name: this.name, params: this.params, locals: this.locals, body: this.body.bytes };
  }
}

/** A module importing `env.memory` (shared when asked) and exporting the given functions (no results). */
export function buildModule(funcs: FuncDef[], memory: { shared: boolean; min: number; max: number }): Uint8Array<ArrayBuffer> {
  const out = new Bytes();
  out.write([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const section = (id: number, items: number, write: (s: Bytes, i: number) => void) => {
    const s = new Bytes();
    s.uleb(items);
    for (let i = 0; i < items; i++) write(s, i);
    out.write([id]);
    out.uleb(s.length);
    out.write(s.bytes);
  };
  const name = (s: Bytes, text: string) => {
    s.uleb(text.length);
    s.write([...text].map((c) => c.charCodeAt(0)));
  };
  section(1, funcs.length, (s, i) => {
    const { params } = funcs[i]!;
    s.write([0x60]);
    s.uleb(params.length);
    s.write(params, [0]); // no results
  });
  section(2, 1, (s) => {
    name(s, 'env');
    name(s, 'memory');
    s.write([0x02, memory.shared ? 0x03 : 0x01]);
    s.uleb(memory.min);
    s.uleb(memory.max);
  });
  section(3, funcs.length, (s, i) => s.uleb(i));
  section(7, funcs.length, (s, i) => {
    name(s, funcs[i]!.name);
    s.write([0x00]);
    s.uleb(i);
  });
  const code = new Bytes();
  section(10, funcs.length, (s, i) => {
    const f = funcs[i]!;
    code.length = 0;
    code.uleb(f.locals.length);
    for (const t of f.locals) code.write([1, t]);
    code.write(f.body, op.end);
    s.uleb(code.length);
    s.write(code.bytes);
  });
  return out.bytes.slice();
}
