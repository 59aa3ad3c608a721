/** splitmix32's output function. */
function splitmix32(x: number): number {
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Seeded random numbers: xoshiro128** seeded through splitmix32. The state is four uint32
 * words that can be saved and restored, so a resumed training run draws the same numbers.
 */
export class Generator {
  private s = new Uint32Array(4);
  /**
   * Box-Muller's second value, valid while `hasSpare`: a field that is only ever a number
   * keeps V8 from boxing a new heap number at every pair (two randn [3200, 64] took 9
   * scavenges of the young generation with `number | null`, 5 with this).
   */
  private spare = 0;
  private hasSpare = false;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /**
   * Any safe integer seeds its own stream: the low 32 bits through splitmix32, and the high
   * bits (negative seeds, 2³² and above) mixed in, so 2³² is not 0 again. A fraction or NaN
   * is an error (it would truncate silently).
   */
  seed(seed: number): this {
    if (!Number.isSafeInteger(seed)) throw new Error(`Generator: a seed must be a safe integer, got ${seed}`);
    const hi = Math.floor(seed / 2 ** 32) >>> 0; // 0 for seeds in [0, 2³²): their streams are unchanged
    let x = seed >>> 0;
    let y = hi;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      this.s[i] = splitmix32(x);
      if (hi !== 0) {
        y = (y + 0x7f4a7c15) >>> 0;
        this.s[i] = (this.s[i]! ^ splitmix32(y ^ 0x5bd1e995)) >>> 0;
      }
    }
    if (this.s.every((w) => w === 0)) this.s[0] = 1; // xoshiro's one forbidden state
    this.hasSpare = false;
    return this;
  }

  /** A uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  getState(): GeneratorState {
    return { s: Array.from(this.s), spare: this.hasSpare ? this.spare : null };
  }

  setState(state: GeneratorState): void {
    if (state.s.length !== 4) throw new Error(`Generator.setState: expected 4 state words, got ${state.s.length}`);
    this.s.set(state.s);
    this.hasSpare = state.spare !== null;
    this.spare = state.spare ?? 0;
  }
}

export interface GeneratorState {
  s: number[];
  spare: number | null;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The generator used when none is passed. Seed it with `manualSeed` for reproducible runs. */
export const defaultGenerator = new Generator(0);

export function manualSeed(seed: number): void {
  defaultGenerator.seed(seed);
}
