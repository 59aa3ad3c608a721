/** The benchmark ViT in @tensorflow/tfjs ops (wasm backend), trained with tf.variableGrads and a hand-written AdamW. */
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { Impl } from '../harness.js';
import type { VitSpec } from '../workloads/vit.js';
import { ADAMW, checkVector } from '../workloads/vit-step.js';
import { tfjsWasm, type Tf } from './tfjs.js';

/** `keepBlocks`: when false (inference), each block's intermediates are freed as soon as the block ends. */
function forward(tf: Tf, s: VitSpec, w: (name: string) => Tensor, x: Tensor, keepBlocks = true): Tensor {
  const { batch: b, dim: d, heads: h, patch: p, inChans: c } = s;
  const g = s.img / p;
  const n = g * g + 1;
  const hd = d / h;
  const linear = (t: Tensor, name: string) => tf.add(tf.matMul(t, w(`${name}.weight`), false, true), w(`${name}.bias`));
  const norm = (t: Tensor, name: string) => {
    const mean = tf.mean(t, -1, true);
    const centred = tf.sub(t, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), 1e-6));
    return tf.add(tf.mul(tf.mul(centred, rstd), w(`${name}.weight`)), w(`${name}.bias`));
  };
  const gelu = (t: Tensor) => tf.mul(tf.mul(t, 0.5), tf.add(tf.erf(tf.mul(t, Math.SQRT1_2)), 1));
  // patches [B, C, g, P, g, P] → [B·N', C·P·P]
  const patches = tf.reshape(tf.transpose(tf.reshape(x, [b, c, g, p, g, p]), [0, 2, 4, 1, 3, 5]), [b * g * g, c * p * p]);
  const pw = tf.reshape(w('patch_embed.proj.weight'), [d, c * p * p]);
  const tokens = tf.reshape(tf.add(tf.matMul(patches, pw, false, true), w('patch_embed.proj.bias')), [b, g * g, d]);
  let t = tf.add(tf.concat([tf.tile(w('cls_token'), [b, 1, 1]), tokens], 1), w('pos_embed'));
  const block = (t: Tensor, i: number): Tensor => {
    const k = `blocks.${i}`;
    const qkv = tf.transpose(tf.reshape(linear(tf.reshape(norm(t, `${k}.norm1`), [b * n, d]), `${k}.attn.qkv`), [b, n, 3, h, hd]), [2, 0, 3, 1, 4]);
    const [q, kk, v] = tf.unstack(qkv, 0) as [Tensor, Tensor, Tensor];
    const attn = tf.softmax(tf.mul(tf.matMul(q, kk, false, true), hd ** -0.5));
    const heads = tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [b * n, d]);
    t = tf.add(t, tf.reshape(linear(heads, `${k}.attn.proj`), [b, n, d]));
    const hidden = gelu(linear(tf.reshape(norm(t, `${k}.norm2`), [b * n, d]), `${k}.mlp.fc1`));
    return tf.add(t, tf.reshape(linear(hidden, `${k}.mlp.fc2`), [b, n, d]));
  };
  for (let i = 0; i < s.depth; i++) t = keepBlocks ? block(t, i) : tf.tidy(() => block(t, i));
  const pooled =
    s.pooling === 'token'
      ? tf.reshape(tf.slice(norm(t, 'norm'), [0, 0, 0], [b, 1, d]), [b, d])
      : norm(tf.mean(tf.slice(t, [0, 1, 0], [b, n - 1, d]), 1), 'fc_norm');
  return linear(pooled, 'head');
}

export function tfjsVit(s: VitSpec, mode: 'step' | 'forward'): Impl {
  let tf: Tf;
  let vars: Map<string, Variable>;
  return {
    engine: 'tfjs-wasm 4.22 (1 core)',
    async setup() {
      tf = await tfjsWasm();
      vars = new Map([...s.weights].map(([name, { shape, data }]) => [name, tf.variable(tf.tensor(data, shape), true, `${name}-${Math.random()}`)]));
      const x = tf.tensor(s.x, [s.batch, s.inChans, s.img, s.img]);
      const w = (name: string) => vars.get(name)!;
      if (mode === 'forward') {
        return async () => {
          const y = tf.tidy(() => forward(tf, s, w, x, false));
          const out = Float64Array.from(((await y.data()) as Float32Array).slice(0, 256));
          y.dispose();
          return out;
        };
      }
      const onehot = tf.oneHot(tf.tensor1d(s.labels, 'int32'), s.classes);
      const list = [...vars.values()];
      const m = list.map((v) => tf.variable(tf.zerosLike(v)));
      const sq = list.map((v) => tf.variable(tf.zerosLike(v)));
      let t = 0;
      return async () => {
        t++;
        const { value, grads } = tf.variableGrads(
          () => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(forward(tf, s, w, x)), onehot), -1))) as import('@tensorflow/tfjs-core').Scalar,
          list,
        );
        const check = checkVector((await value.data())[0]!, (name) => grads[vars.get(name)!.name]!.dataSync());
        tf.tidy(() => {
          const { lr, weightDecay, beta1, beta2, eps } = ADAMW;
          list.forEach((v, i) => {
            const g = grads[v.name]!;
            m[i]!.assign(tf.add(tf.mul(m[i]!, beta1), tf.mul(g, 1 - beta1)));
            sq[i]!.assign(tf.add(tf.mul(sq[i]!, beta2), tf.mul(tf.square(g), 1 - beta2)));
            const step = tf.div(tf.div(m[i]!, 1 - beta1 ** t), tf.add(tf.sqrt(tf.div(sq[i]!, 1 - beta2 ** t)), eps));
            v.assign(tf.sub(tf.mul(v, 1 - lr * weightDecay), tf.mul(step, lr)));
          });
        });
        tf.dispose([value, ...Object.values(grads)]);
        return check;
      };
    },
    teardown() {
      for (const v of vars?.values() ?? []) v.dispose();
    },
  };
}
