/**
 * preprocess() against timm's eval transform as torchvision runs it on PIL images
 * (packages/vit/golden/generate_preprocess.py): several sizes and aspect ratios, gray and
 * RGBA images, bicubic and bilinear, centre and squash crops, within 1e-5 on the normalised
 * tensor; the resize alone bit for bit as Pillow's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { tensor } from '@ggem/tensor';
import { createVit, predict, preprocess, readSafetensors, type Pixels, type PreprocessConfig } from './index.js';

const file = new URL('../golden/preprocess-golden.safetensors', import.meta.url);
const golden = readSafetensors(new Uint8Array(readFileSync(file)), file.pathname);
const configs = JSON.parse(golden.metadata.configs!) as Record<
  string,
  {
    input_size: number;
    crop_pct: number;
    crop_mode: 'center' | 'squash';
    interpolation: 'bicubic' | 'bilinear';
    mean: number[];
    std: number[];
    images: string[];
  }
>;

function pixels(name: string): Pixels {
  const t = golden.tensors[`image.${name}`]!;
  const [height, width, channels] = t.shape as [number, number, 1 | 3 | 4];
  return { data: Uint8Array.from(t.data), width, height, channels };
}

describe('preprocess: timm eval transform', () => {
  for (const [name, c] of Object.entries(configs)) {
    it(`${name}: ${c.images.join(', ')}`, () => {
      const cfg: PreprocessConfig = {
        inputSize: c.input_size,
        cropPct: c.crop_pct,
        cropMode: c.crop_mode,
        interpolation: c.interpolation,
        mean: c.mean,
        std: c.std,
      };
      for (const image of c.images) {
        const want = golden.tensors[`${name}.${image}`]!;
        const got = preprocess(pixels(image), cfg);
        assert.deepEqual(got.shape, [1, ...want.shape]);
        let worst = 0;
        want.data.forEach((w, i) => {
          worst = Math.max(worst, Math.abs(got.data[i]! - w));
        });
        assert.ok(worst <= 1e-5, `${name}.${image}: largest difference ${worst}`);
      }
    });
  }

  it('batches, takes ImageData-like RGBA without channels, and names what is wrong', () => {
    const a = pixels('rgba');
    const cfg = { inputSize: 32 };
    const one = preprocess({ data: a.data, width: a.width, height: a.height }, cfg);
    const two = preprocess([a, a], cfg);
    assert.deepEqual(two.shape, [2, 3, 32, 32]);
    assert.deepEqual(Array.from(two.data.subarray(0, one.size)), Array.from(one.data));
    assert.throws(() => preprocess({ data: new Uint8Array(10), width: 3, height: 3 }, cfg), /10 bytes are not a 3×3 image/);
    assert.throws(() => preprocess(a, { inputSize: 32, mean: [0.5, 0.5] }), /1 \(grayscale\) or 3 \(RGB\) values/);
    assert.throws(() => preprocess(a, { inputSize: [32, 48] }), /non-square input 32×48 .* 'squash'/);
    // a grayscale model: one channel, as PIL's convert('L')
    assert.deepEqual(preprocess(a, { inputSize: 28, mean: [0.5], std: [0.5] }).shape, [1, 1, 28, 28]);
  });
});

describe('predict', () => {
  it('gives the top-k classes by softmax probability, with labels, in eval mode', () => {
    const model = createVit('vit_mnist_tiny', 'ggem', { seed: 3, dropRate: 0.5 });
    for (const p of model.parameters()) if (p.rank >= 2) p.data.forEach((_, i, d) => (d[i] = Math.sin(i * 0.37 + p.size)));
    const x = tensor(
      Float32Array.from({ length: 2 * 28 * 28 }, (_, i) => Math.cos(i * 0.1)),
      { shape: [2, 1, 28, 28] },
    );
    const labels = Array.from({ length: 10 }, (_, i) => `class ${i}`);
    const top = predict(model, x, { k: 3, labels });
    assert.ok(model.training, 'the mode is restored');
    const probs = model.eval().forward(x).softmax(-1).data;
    for (const b of [0, 1]) {
      const row = Array.from(probs.subarray(b * 10, b * 10 + 10));
      const order = row.map((p, i) => [p, i] as const).sort((u, v) => v[0] - u[0]);
      assert.deepEqual(
        top[b]!.map((p) => p.index),
        order.slice(0, 3).map(([, i]) => i),
      );
      top[b]!.forEach((p) => {
        assert.equal(p.label, `class ${p.index}`);
        assert.ok(Math.abs(p.probability - row[p.index]!) < 1e-7);
      });
    }
    assert.equal(predict(model, x, { k: 50 })[0]!.length, 10, 'k beyond the classes gives them all');
    assert.throws(() => predict(model, x, { labels: ['a'] }), /1 labels for a model of 10 classes/);
  });
});
