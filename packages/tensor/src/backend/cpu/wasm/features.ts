import { buildModule, I32, op, V128 } from './emit.js';

export interface WasmFeatures {
  simd: boolean;
  /** relaxed-simd (f32x4.relaxed_madd), an FMA on CPUs that have one. */
  relaxedSimd: boolean;
}

const probe = (body: number[]) => buildModule([{ name: 'f', params: [I32], locals: [V128], body: [...body, ...op.set(1)] }], { shared: false, min: 1, max: 1 });
const load = (o: number) => [...op.get(0), ...op.v128Load(o)];
const simdProbe = probe([...load(0), ...load(16), ...op.f32x4Mul]);
const relaxedProbe = probe([...load(0), ...load(16), ...load(32), ...op.f32x4RelaxedMadd]);

const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
// Node 20's V8 has relaxed-simd behind a flag that can be set before the first compile.
const v8 = isNode && !WebAssembly.validate(relaxedProbe) ? await import('node:v8').catch(() => null) : null;

function detect(): WasmFeatures {
  if (typeof WebAssembly === 'undefined') return { simd: false, relaxedSimd: false };
  const simd = WebAssembly.validate(simdProbe);
  let relaxedSimd = simd && WebAssembly.validate(relaxedProbe);
  if (simd && !relaxedSimd && v8 !== null) {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    relaxedSimd = WebAssembly.validate(relaxedProbe);
  }
  return { simd, relaxedSimd };
}

/** What this engine's WebAssembly can run, probed once at load. */
export const features: WasmFeatures = detect();
