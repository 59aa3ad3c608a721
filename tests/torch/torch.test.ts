/**
 * Checkpoints both ways between this project and PyTorch through python/ggem_pool.py, with
 * Debian's python3-torch (.ci/run installs it): a GeM and a GGeM ViT trained here load into
 * timm's VisionTransformer (global_pool='avg' with use_ggem) strictly and give the same
 * logits; trained further in torch, their weights (pool.p included) load back here strictly
 * and give torch's logits. The torch side is roundtrip.py.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crossEntropy, Generator, noGrad, optim, randn, tensor } from '@ggem/tensor';
import { createVit, loadWeights, readSafetensors, writeSafetensors, type VisionTransformer } from '@ggem/vit';

const PYTHON = '/usr/bin/python3';
const script = new URL('./roundtrip.py', import.meta.url).pathname;

function logitsOf(model: VisionTransformer, x: Parameters<VisionTransformer['forward']>[0]) {
  return noGrad(() => model.eval().forward(x));
}

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return e / s;
}

describe('GeM and GGeM checkpoints between this project and PyTorch (python/ggem_pool.py)', () => {
  for (const [pooling, groups] of [
    ['ggem', 4],
    ['gem', 1],
  ] as const) {
    it(`${pooling}: trained here, loaded in torch with the same logits; trained there, loaded back`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ggem-torch-'));
      try {
        const model = createVit('vit_mnist_tiny', pooling, { seed: 5, poolP: 3 });
        const x = randn([8, 1, 28, 28], { generator: new Generator(1) });
        const labels = [0, 1, 2, 3, 4, 5, 6, 7];
        const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
        for (let s = 0; s < 5; s++) {
          opt.zeroGrad();
          crossEntropy(model.train().forward(x), labels).backward();
          opt.step();
        }
        const pHere = model.currentP();
        assert.ok(
          pHere.every((p) => Math.abs(p - 3) > 1e-3),
          `p trained here: ${pHere}`,
        );
        writeFileSync(join(dir, 'ours.safetensors'), writeSafetensors(model.stateDict()));
        writeFileSync(
          join(dir, 'inputs.safetensors'),
          writeSafetensors({ x, labels: tensor(Float32Array.from(labels), { shape: [8] }), logits: logitsOf(model, x) }),
        );
        const r = spawnSync(PYTHON, [script, dir, String(groups)], { encoding: 'utf8' });
        if (r.error) throw new Error(`${PYTHON} did not run (${r.error.message}); install Debian's python3-torch`);
        assert.equal(r.status, 0, `roundtrip.py failed:\n${r.stdout}\n${r.stderr}`);
        const back = readSafetensors(new Uint8Array(readFileSync(join(dir, 'torch.safetensors'))), 'torch.safetensors');
        const { logits_after: want, ...state } = back.tensors;
        const again = createVit('vit_mnist_tiny', pooling, { seed: 9 });
        await loadWeights(again, writeSafetensors(state)); // strict: pool.p and timm's names, nothing else
        const err = relError(logitsOf(again, x).data, want!.data);
        assert.ok(err < 1e-5, `torch's logits differ here by ${err}`);
        assert.ok(
          again.currentP().some((p, i) => Math.abs(p - pHere[i]!) > 1e-4),
          `p trained in torch came back: ${again.currentP()} (was ${pHere})`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
