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

/**
 * Probed, never switched on: the engine is left as the host configured it. Chrome ≥ 114,
 * Firefox ≥ 120 and Node ≥ 22 have relaxed-simd; Node 20 has it behind a V8 flag its user
 * may pass (`node --experimental-wasm-relaxed-simd`), otherwise the kernels use a multiply
 * and an add (plain SIMD).
 */
function detect(): WasmFeatures {
  if (typeof WebAssembly === 'undefined') return { simd: false, relaxedSimd: false };
  const simd = WebAssembly.validate(simdProbe);
  return { simd, relaxedSimd: simd && WebAssembly.validate(relaxedProbe) };
}

/** What this engine's WebAssembly can run, probed at load (and again by `enableRelaxedSimd`). */
export const features: WasmFeatures = detect();

/** Probes again, after the host's engine flags changed. */
export function reprobe(): void {
  Object.assign(features, detect());
}
