/**
 * The benchmark ViT in @jax-js/jax (wasm device): a functional model, the whole training
 * step (valueAndGrad + AdamW) under one jit. jax-js moves arrays into every op, so any value
 * used twice is passed as `.ref`. Single-threaded under Node (no global Worker).
 */
import type { Impl } from '../harness.js';
import { loadJax, type Arr, type Jax } from './jax.js';
import type { VitSpec } from '../workloads/vit.js';
import { ADAMW, CHECKED } from '../workloads/vit-step.js';

type Params = Record<string, Arr>;

function forward(jax: Jax, s: VitSpec, P: Params, x: Arr): Arr {
  const { numpy: np, nn } = jax;
  const { batch: b, dim: d, heads: h, patch: p, inChans: c } = s;
  const g = s.img / p;
  const n = g * g + 1;
  const hd = d / h;
  const linear = (t: Arr, name: string) => np.matmul(t, P[`${name}.weight`]!.transpose()).add(P[`${name}.bias`]!);
  const norm = (t: Arr, name: string) => {
    const centred = t.ref.sub(t.mean(-1, { keepdims: true }));
    const rstd = np.sqrt(centred.ref.mul(centred.ref).mean(-1, { keepdims: true }).add(1e-6));
    return centred.div(rstd).mul(P[`${name}.weight`]!).add(P[`${name}.bias`]!);
  };
  const patches = x
    .reshape([b, c, g, p, g, p])
    .transpose([0, 2, 4, 1, 3, 5])
    .reshape([b * g * g, c * p * p]);
  const tokens = np
    .matmul(patches, P['patch_embed.proj.weight']!.reshape([d, c * p * p]).transpose())
    .add(P['patch_embed.proj.bias']!)
    .reshape([b, g * g, d]);
  let t = np.concatenate([np.broadcastTo(P.cls_token!, [b, 1, d]), tokens], 1).add(P.pos_embed!);
  for (let i = 0; i < s.depth; i++) {
    const k = `blocks.${i}`;
    const qkv = linear(norm(t.ref, `${k}.norm1`).reshape([b * n, d]), `${k}.attn.qkv`)
      .reshape([b, n, 3, h, hd])
      .transpose([2, 0, 3, 1, 4]);
    const [q, kk, v] = [qkv.ref.slice(0), qkv.ref.slice(1), qkv.slice(2)];
    const attn = nn.softmax(np.matmul(q.mul(hd ** -0.5), kk.transpose([0, 1, 3, 2])), -1);
    const heads = np
      .matmul(attn, v)
      .transpose([0, 2, 1, 3])
      .reshape([b * n, d]);
    t = t.add(linear(heads, `${k}.attn.proj`).reshape([b, n, d]));
    const hidden = nn.gelu(linear(norm(t.ref, `${k}.norm2`).reshape([b * n, d]), `${k}.mlp.fc1`), { approximate: false });
    t = t.add(linear(hidden, `${k}.mlp.fc2`).reshape([b, n, d]));
  }
  const pooled = s.pooling === 'token' ? norm(t, 'norm').slice([], 0, []) : norm(t.slice([], [1], []).mean(1), 'fc_norm');
  return linear(pooled, 'head');
}

export function jaxVit(s: VitSpec, mode: 'step' | 'forward'): Impl {
  return {
    engine: 'jax-js 0.1.25 (wasm, 1 thread)',
    async setup() {
      const jax = await loadJax();
      const { numpy: np, nn } = jax;
      // params that the forward uses (a token model has no fc_norm, an avg model no norm)
      let params: Params = Object.fromEntries([...s.weights].map(([name, { shape, data }]) => [name, np.array(data).reshape(shape)]));
      const x = np.array(s.x).reshape([s.batch, s.inChans, s.img, s.img]);
      if (mode === 'forward') {
        const f = jax.jit((P: Params, xs: Arr) => forward(jax, s, P, xs));
        return async () => {
          const y = f(jax.tree.map((a: Arr) => a.ref, params) as Params, x.ref);
          return Float64Array.from((await y.data()).slice(0, 256));
        };
      }
      const onehot = nn.oneHot(np.array(s.labels, { dtype: np.int32 }), s.classes);
      const loss = (P: Params, xs: Arr, oh: Arr) =>
        nn
          .logSoftmax(forward(jax, s, P, xs), -1)
          .mul(oh)
          .sum(-1)
          .mean()
          .neg();
      const { lr, weightDecay, beta1, beta2, eps } = ADAMW;
      const step = jax.jit((P: Params, M: Params, V: Params, xs: Arr, oh: Arr, c1: Arr, c2: Arr) => {
        const [value, grads] = jax.valueAndGrad(loss)(jax.tree.map((a: Arr) => a.ref, P) as Params, xs, oh) as unknown as [Arr, Params];
        const check = CHECKED.map((name) => grads[name]!.ref.reshape([-1]).slice([0, 16]));
        const out: { P: Params; M: Params; V: Params } = { P: {}, M: {}, V: {} };
        for (const name of Object.keys(P)) {
          const g = grads[name]!;
          const m = M[name]!.mul(beta1).add(g.ref.mul(1 - beta1));
          const v = V[name]!.mul(beta2).add(g.ref.mul(g).mul(1 - beta2));
          const upd = m.ref.mul(c1.ref).div(np.sqrt(v.ref.mul(c2.ref)).add(eps));
          out.P[name] = P[name]!.mul(1 - lr * weightDecay).sub(upd.mul(lr));
          out.M[name] = m;
          out.V[name] = v;
        }
        c1.dispose();
        c2.dispose();
        return { ...out, value, check };
      });
      let M: Params = jax.tree.map((a: Arr) => np.zerosLike(a.ref), params) as Params;
      let V: Params = jax.tree.map((a: Arr) => np.zerosLike(a.ref), params) as Params;
      let t = 0;
      return async () => {
        t++;
        const r = step(params, M, V, x.ref, onehot.ref, np.array(1 / (1 - beta1 ** t)), np.array(1 / (1 - beta2 ** t)));
        ({ P: params, M, V } = r);
        const checks: ArrayLike<number>[] = await Promise.all(r.check.map((a: Arr) => a.data()));
        return Float64Array.from([(await r.value.data())[0]!, ...checks.flatMap((c) => Array.from(c))]);
      };
    },
  };
}
