/**
 * timm's ViT options against PyTorch (packages/vit/golden/generate_timm.py, a transcription
 * of timm 1.0's VisionTransformer in torch, float64): each variant built from its
 * architecture name and model arguments by `timmConfig`, loaded strictly, logits within
 * 1e-5; position embeddings resampled as timm's `resample_abs_pos_embed` (ViT-S/16's shape,
 * 224² → 384² and → 112²) within 1e-5.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { noGrad, type Tensor } from '@ggem/tensor';
import { createVit, loadWeights, readSafetensors, resamplePosEmbed, timmArchitecture, timmConfig, VisionTransformer, weightsToBytes } from './index.js';

const file = new URL('../golden/timm-golden.safetensors', import.meta.url);
const golden = readSafetensors(new Uint8Array(readFileSync(file)), file.pathname);
const g = golden.tensors;
const variants = JSON.parse(golden.metadata.variants!) as Record<
  string,
  { architecture: string | null; model_args: Record<string, unknown>; input: [number, number]; ggem: boolean }
>;

/**
 * Every value within rtol of PyTorch's, relative to the largest magnitude (a value near zero
 * has no relative error of its own; PyTorch's resampling runs in float32 even for a float64
 * model, so the rounding of the position embeddings is not PyTorch's to the last bit).
 */
function close(got: Tensor, want: Tensor, rtol: number, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const scale = Array.from(want.data).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  want.data.forEach((w, i) => {
    const tol = rtol * scale;
    assert.ok(Math.abs(got.data[i]! - w) <= tol, `${what}[${i}]: got ${got.data[i]}, PyTorch ${w}`);
  });
}

function state(name: string): Record<string, Tensor> {
  const prefix = `${name}.weights.`;
  return Object.fromEntries(Object.entries(g).flatMap(([k, v]) => (k.startsWith(prefix) ? [[k.slice(prefix.length), v]] : [])));
}

function build(name: string): VisionTransformer {
  const v = variants[name]!;
  const { config } = timmConfig(
    { ...(v.architecture ? { architecture: v.architecture } : {}), model_args: v.model_args },
    v.ggem ? { pooling: 'ggem', poolGroups: 4 } : {},
  );
  return new VisionTransformer(config);
}

describe('timm ViT options against PyTorch', () => {
  for (const name of Object.keys(variants)) {
    it(`${name}: ${variants[name]!.architecture ?? JSON.stringify(variants[name]!.model_args).slice(0, 90)}`, () => {
      const model = build(name);
      model.loadStateDict(state(name)); // strict: every key of the file, and none more
      const logits = noGrad(() => model.eval().forward(g[`${name}.input`]!));
      close(logits, g[`${name}.logits`]!, 1e-5, `${name} logits`);
    });
  }

  it('each option changes the logits (a model without it does not match)', () => {
    // the same weights, one option flipped: the golden logits must then be missed
    const flips: [string, Partial<VisionTransformer['config']>][] = [
      ['clip', { act: 'gelu' }],
      ['clip', { normEps: 1e-6 }],
      ['max_no_fc_norm', { fcNorm: true }],
    ];
    for (const [name, flip] of flips) {
      const model = new VisionTransformer({ ...build(name).config, ...flip });
      model.loadStateDict(state(name), { strict: false });
      const logits = noGrad(() => model.eval().forward(g[`${name}.input`]!));
      assert.throws(() => close(logits, g[`${name}.logits`]!, 1e-5, name), /PyTorch/, `${name} with ${JSON.stringify(flip)}`);
    }
  });

  it('a strict load names a key the model does not know, and one it misses', () => {
    const model = build('deit3');
    const extra = { ...state('deit3'), 'blocks.0.attn.q_norm.weight': g['qk_norm.weights.blocks.0.attn.q_norm.weight']! };
    assert.throws(() => model.loadStateDict(extra), /unexpected keys: blocks\.0\.attn\.q_norm\.weight/);
    const { 'blocks.1.ls2.gamma': _, ...missing } = state('deit3');
    assert.throws(() => model.loadStateDict(missing), /missing keys: blocks\.1\.ls2\.gamma/);
    assert.throws(() => build('reg4_gap').loadStateDict(state('dinov2_reg')), /unexpected keys: cls_token/);
  });

  it('position embeddings resampled as resample_abs_pos_embed: a ViT-S/16 saved at 224² runs at 384² and 112²', async () => {
    const at224 = createVit('vit_small_patch16_224', 'token');
    at224.pos_embed.data.set(g['posembed.input']!.data);
    const bytes = weightsToBytes(at224);
    for (const size of [384, 112]) {
      const model = createVit('vit_small_patch16_224', 'token', { imgSize: size });
      const report = await loadWeights(model, bytes);
      const side = size / 16;
      assert.deepEqual(report.resampled, [`pos_embed: 14×14 → ${side}×${side} patches`]);
      close(model.pos_embed, g[`posembed.${size}`]!, 1e-5, `pos_embed at ${size}²`);
    }
    // the function itself, and its gradient reaching the original embeddings
    const pos = g['posembed.input']!.detach().setRequiresGrad(true);
    const r = resamplePosEmbed(pos, [24, 24], { prefixTokens: 1 });
    close(r, g['posembed.384']!, 1e-5, 'resamplePosEmbed');
    r.sum().backward();
    const grad = pos.grad!.data;
    assert.equal(grad[0], 1, 'the class token passes through');
    // each of the 576 new positions is a weighted mean of the old ones (weights summing to 1)
    let total = 0;
    for (let t = 1; t < 197; t++) total += grad[t * 384]!;
    assert.ok(Math.abs(total - 576) < 1e-3, `channel 0's gradient over the grid sums to ${total}, not 576`);
  });

  it('reads architectures from their names, and refuses what it does not implement', () => {
    assert.deepEqual(timmArchitecture('vit_small_patch14_reg4_dinov2.lvd142m'), {
      embedDim: 384,
      depth: 12,
      numHeads: 6,
      patchSize: 14,
      imgSize: 518,
      pooling: 'token',
      regTokens: 4,
      noEmbedClass: true,
      initValues: 1e-5,
    });
    const { config, preprocess, labels } = timmConfig({
      architecture: 'vit_base_patch16_224',
      num_classes: 3,
      pretrained_cfg: { input_size: [3, 384, 384], crop_pct: 1, interpolation: 'bicubic', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      label_names: ['a', 'b', 'c'],
    });
    assert.equal(config.imgSize, 384);
    assert.equal(config.numClasses, 3);
    assert.deepEqual(preprocess, { inputSize: 384, cropPct: 1, cropMode: 'center', interpolation: 'bicubic', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    assert.deepEqual(labels, ['a', 'b', 'c']);
    assert.throws(() => timmConfig({ architecture: 'deit_base_distilled_patch16_224' }), /architecture this project does not know/);
    assert.throws(() => timmConfig('{ "architecture": '), /timmConfig: the config is not JSON/);
    assert.throws(() => timmConfig('[1]'), /timmConfig: expected a config object/);
    assert.throws(() => timmConfig({ architecture: 'vit_base_patch16_224', model_args: { global_pool: 'map' } }), /global_pool 'map' is not supported/);
    assert.throws(() => timmConfig({ architecture: 'vit_base_patch16_224', model_args: { mlp_layer: 'SwiGLU' } }), /'mlp_layer' .* not supported/);
    assert.throws(() => new VisionTransformer({ ...config, classToken: false }), /token pooling needs the class token/);
  });

  it('an input of another size is an error naming the size, unless the model is dynamic', () => {
    const model = build('deit3');
    assert.throws(() => model.forward(g['dynamic_24x20.input']!), /expected 16×16 images, got \[2, 3, 24, 20\].*dynamicImgSize/);
  });
});
