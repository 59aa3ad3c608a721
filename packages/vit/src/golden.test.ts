/**
 * The ViT against a timm-compatible PyTorch ViT (packages/vit/golden/generate.py): for each
 * pooling, logits and pooled features within 1e-4, the loss, and the gradient of every
 * parameter and of the input within 1e-3 (relative; PyTorch in float64, ours in float32).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { crossEntropy, type Tensor } from '@ggem/tensor';
import { poolingNames } from '@ggem/pooling';
import { createVit, readSafetensors } from './index.js';

const file = new URL('../golden/vit-golden.safetensors', import.meta.url);
const { tensors: g } = readSafetensors(new Uint8Array(readFileSync(file)), file.pathname);

function close(got: Tensor, want: Tensor, rtol: number, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const w = want.data;
  const a = got.data;
  const scale = Array.from(w).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  for (let i = 0; i < w.length; i++) {
    const tol = rtol * Math.max(Math.abs(w[i]!), 1e-2 * scale);
    assert.ok(Math.abs(a[i]! - w[i]!) <= tol, `${what}[${i}]: got ${a[i]}, PyTorch ${w[i]}`);
  }
}

describe('ViT golden values from PyTorch', () => {
  for (const pooling of poolingNames) {
    it(`${pooling}: logits, features, loss and every gradient`, () => {
      const model = createVit('vit_mnist_tiny', pooling);
      const state = Object.fromEntries(
        model.namedParameters().map(([name]) => [name, g[name === 'pool.p' ? `weights.pool.p.${pooling}` : `weights.${name}`]!]),
      );
      model.loadStateDict(state);
      const x = g.input!.detach().setRequiresGrad(true);
      const labels = Array.from(g.labels!.data);
      const features = model.forwardHead(model.forwardFeatures(x), true);
      const logits = model.head.forward(features);
      const loss = crossEntropy(logits, labels);
      close(features, g[`${pooling}.features`]!, 1e-4, 'features');
      close(logits, g[`${pooling}.logits`]!, 1e-4, 'logits');
      close(loss.reshape([1]), g[`${pooling}.loss`]!, 1e-4, 'loss');
      loss.backward();
      close(x.grad!, g[`${pooling}.input_grad`]!, 1e-3, 'input gradient');
      for (const [name, p] of model.namedParameters()) {
        const want = g[`${pooling}.grad.${name}`];
        assert.ok(want, `PyTorch has no gradient for ${name}`);
        close(p.grad!, want, 1e-3, `d/d ${name}`);
      }
    });
  }
});
