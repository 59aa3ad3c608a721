/** fast-check arbitraries shared by this package's tests (not part of the build). */
import fc from 'fast-check';
import { tensor, type Domain, type Tensor } from '../index.js';
import { sizeOf } from '../shape.js';

export const shape = (maxRank = 3, maxDim = 4, minRank = 0): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** Two shapes that broadcast together: drop some leading dims of each and set some dims to 1. */
export const broadcastPair = (maxRank = 3, maxDim = 4): fc.Arbitrary<[number[], number[]]> =>
  shape(maxRank, maxDim).chain((out) => {
    const derive = fc
      .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
      .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
    return fc.tuple(derive, derive);
  });

/** An op's domain (ops/tables/domain.ts): where values are drawn from. */
export type ValueOptions = Domain;

export const values = (n: number, o: ValueOptions = {}): fc.Arbitrary<number[]> =>
  fc.array(
    fc
      .double({ min: o.min ?? -3, max: o.max ?? 3, noNaN: true, noDefaultInfinity: true })
      .filter((v) => (o.awayFrom ?? []).every((p) => Math.abs(v - p) > (o.gap ?? 0.05))),
    { minLength: n, maxLength: n },
  );

/** A float64 tensor of the given shape with values drawn per `o`. */
export const tensorOf = (s: number[], o: ValueOptions = {}): fc.Arbitrary<Tensor> =>
  values(sizeOf(s), o).map((v) => tensor(Float64Array.from(v), { shape: s }));

export const anyTensor = (maxRank = 3, maxDim = 4, o: ValueOptions = {}): fc.Arbitrary<Tensor> => shape(maxRank, maxDim).chain((s) => tensorOf(s, o));

/** Property runs per test: enough to find shape bugs, few enough for a 2-core CI. */
export const RUNS = { numRuns: 25 };
