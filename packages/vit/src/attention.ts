import { attention, concat, Dropout, Identity, keep, LayerNorm, Linear, matmulT, Module, type Generator, type Tensor } from '@ggem/tensor';

/** What an attention layer keeps for analysis when asked (see `VisionTransformer.capture`). */
export interface AttentionCapture {
  /** Attention probabilities `[B, H, N, N]`. */
  attn?: Tensor;
  /** Each head's output before the projection, `[B, H, N, head_dim]`. */
  heads?: Tensor;
}

/**
 * Multi-head self-attention with a fused qkv projection (timm's `attn.qkv` `[3D, D]`):
 * softmax(q kᵀ / √d_head) v per head, then `attn.proj`. With `qkNorm`, q and k are
 * layer-normalised per head first (`attn.q_norm`, `attn.k_norm`, over head_dim).
 */
export class Attention extends Module {
  qkv: Linear;
  proj: Linear;
  attn_drop: Module;
  proj_drop: Module;
  q_norm: LayerNorm | null;
  k_norm: LayerNorm | null;
  readonly headDim: number;
  readonly scale: number;
  /** Set by `VisionTransformer.capture`: the next forward stores its attention here (detached). */
  _capture: AttentionCapture | null = null;

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    o: { qkvBias?: boolean; qkNorm?: boolean; normEps?: number; attnDrop?: number; projDrop?: number; generator?: Generator } = {},
  ) {
    super();
    if (dim % numHeads !== 0) throw new Error(`Attention: dim ${dim} is not divisible by ${numHeads} heads`);
    this.headDim = dim / numHeads;
    this.scale = this.headDim ** -0.5;
    this.qkv = new Linear(dim, 3 * dim, { bias: o.qkvBias ?? true, generator: o.generator, init: 'zeros' }); // the model initialises
    this.proj = new Linear(dim, dim, { generator: o.generator, init: 'zeros' });
    this.q_norm = o.qkNorm ? new LayerNorm(this.headDim, o.normEps ?? 1e-6) : null;
    this.k_norm = o.qkNorm ? new LayerNorm(this.headDim, o.normEps ?? 1e-6) : null;
    this.attn_drop = (o.attnDrop ?? 0) > 0 ? new Dropout(o.attnDrop, o.generator) : new Identity();
    this.proj_drop = (o.projDrop ?? 0) > 0 ? new Dropout(o.projDrop, o.generator) : new Identity();
  }

  /** `residual`, when given, is added to the projection inside its product (the block's skip connection). */
  forward(x: Tensor, residual: Tensor | null = null): Tensor {
    const [b, n, d] = x.shape as [number, number, number];
    const h = this.numHeads;
    let qkv = this.qkv.forward(x);
    if (this.q_norm !== null && this.k_norm !== null) {
      const [qn, kn] = [this.q_norm, this.k_norm];
      const normed = (i: number, norm: LayerNorm) => norm.forward(qkv.narrow(2, i * d, d).reshape([b, n, h, this.headDim])).reshape([b, n, d]);
      qkv = concat([normed(0, qn), normed(1, kn), qkv.narrow(2, 2 * d, d)], 2);
    }
    let out: Tensor;
    if (this.attn_drop instanceof Identity) {
      // the fused op: no permuted copies, the scores never materialised as tensors
      const r = attention(qkv, h, this.scale, { probs: this._capture !== null });
      out = r.y;
      if (this._capture !== null) {
        this._capture.attn = keep(r.probs!);
        this._capture.heads = keep(r.y.detach().reshape([b, n, h, this.headDim]).permute([0, 2, 1, 3]));
      }
    } else {
      // with attention dropout: the composed form. [B, N, 3D] → [3, B, H, N, hd]
      const parts = qkv.reshape([b, n, 3, h, this.headDim]).permute([2, 0, 3, 1, 4]);
      const [q, k, v] = [0, 1, 2].map((i) => parts.narrow(0, i, 1).squeeze(0)) as [Tensor, Tensor, Tensor];
      const attn = this.attn_drop.forward(matmulT(q.mul(this.scale), k, false, true).softmax(-1));
      const heads = attn.matmul(v); // [B, H, N, hd]
      if (this._capture !== null) {
        this._capture.attn = keep(attn.detach());
        this._capture.heads = keep(heads.detach());
      }
      out = heads.permute([0, 2, 1, 3]).reshape([b, n, d]);
    }
    if (residual !== null && this.proj_drop instanceof Identity) return this.proj.forward(out, residual);
    const y = this.proj_drop.forward(this.proj.forward(out));
    return residual === null ? y : residual.add(y);
  }
}
