/** The Node consumer: the shared program, then the Node-only entries (weights as files, DataParallel's entry). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataParallel, enableRelaxedSimd } from '@ggem/tensor/node';
import { createVit, weightsToBytes, readWeights } from '@ggem/vit';
import { loadWeightsFile, saveWeightsFile } from '@ggem/vit/node';
import { run } from './app.js';

const result = await run();
const model = createVit('vit_mnist_tiny', 'ggem', { seed: 7 });
const path = join(mkdtempSync(join(tmpdir(), 'ggem-consumer-')), 'model.safetensors');
await saveWeightsFile(model, path);
const fresh = createVit('vit_mnist_tiny', 'ggem', { seed: 8 });
await loadWeightsFile(fresh, path);
const saved = model.stateDict();
const loaded = (await readWeights(weightsToBytes(fresh))).tensors;
console.log(
  JSON.stringify({
    ...result,
    fileRoundTrip: Object.entries(saved).every(([k, t]) => loaded[k]!.data.every((v, i) => v === t.data[i])),
    nodeEntries: typeof DataParallel.create === 'function' && typeof enableRelaxedSimd === 'function',
  }),
);
