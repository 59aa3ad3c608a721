/** @tensorflow/tfjs 4.22 with its WebAssembly backend (single-threaded under Node), loaded from node_modules. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Tf = typeof import('@tensorflow/tfjs-core');

let loaded: Promise<Tf> | null = null;

export function tfjsWasm(): Promise<Tf> {
  loaded ??= (async () => {
    // the umbrella package registers the gradients (tfjs-core alone registers none)
    await import('@tensorflow/tfjs');
    const tf = await import('@tensorflow/tfjs-core');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
    wasm.setWasmPaths(dist.endsWith('/') ? dist : `${dist}/`);
    await tf.setBackend('wasm');
    await tf.ready();
    return tf;
  })();
  return loaded;
}
