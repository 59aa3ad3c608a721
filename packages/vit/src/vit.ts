import { concat, Dropout, Generator, Identity, LayerNorm, Linear, Module, nn, randn, zeros, type Tensor } from '@ggem/tensor';
import { createPooling, GGeMPool, type Pool, type PoolingName } from '@ggem/pooling';
import type { AttentionCapture } from './attention.js';
import { Block } from './block.js';
import { PatchEmbed } from './patch-embed.js';

export interface VitConfig {
  imgSize: number;
  patchSize: number;
  inChans: number;
  /** 0 for a features-only model (the head is an Identity). */
  numClasses: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias?: boolean;
  pooling: PoolingName;
  /** GGeM groups (default: the number of heads, as the paper suggests). */
  poolGroups?: number;
  /** Initial p of gem / ggem (default 3). */
  poolP?: number;
  trainP?: boolean;
  dropRate?: number;
  attnDropRate?: number;
  /** Stochastic depth, rising linearly over the blocks to this rate (timm). */
  dropPathRate?: number;
  /** Seed of the initialisation (and of dropout, drop-path). */
  seed?: number;
}

/**
 * A Vision Transformer after timm's `VisionTransformer`, with the pooling picked by name
 * (SPEC §2). Parameter names are timm's state-dict names (hence the snake_case properties):
 * `patch_embed.proj.*`, `cls_token`, `pos_embed`, `blocks.{i}.*`, `norm.*` (token pooling)
 * or `fc_norm.*` (the others), `head.*`, plus `pool.p` for gem and ggem.
 *
 *   - token: the final `norm` on all tokens, the class token to the head;
 *   - avg / max / gem / ggem: the last block's patch tokens (no final norm) pooled, then
 *     `fc_norm` (a LayerNorm on the pooled vector) and the head.
 */
export class VisionTransformer extends Module {
  patch_embed: PatchEmbed;
  cls_token: Tensor;
  pos_embed: Tensor;
  pos_drop: Module;
  blocks: Block[];
  norm: Module;
  pool: Pool;
  fc_norm: Module;
  head_drop: Module;
  head: Module;
  readonly config: Required<Omit<VitConfig, 'poolGroups'>> & { poolGroups: number };
  /** The generator dropout and drop-path draw from (its state belongs in a checkpoint). */
  readonly _rng: Generator;

  constructor(config: VitConfig) {
    super();
    const c = { qkvBias: true, poolGroups: config.numHeads, poolP: 3, trainP: true, dropRate: 0, attnDropRate: 0, dropPathRate: 0, seed: 0, ...config };
    validate(c);
    this.config = c;
    const g = new Generator(c.seed);
    this._rng = g;
    const d = c.embedDim;
    this.patch_embed = new PatchEmbed(c.imgSize, c.patchSize, c.inChans, d, g);
    const n = this.patch_embed.numPatches;
    this.cls_token = randn([1, 1, d], { std: 1e-6, generator: g, requiresGrad: true });
    this.pos_embed = nn.init.truncNormal(zeros([1, 1 + n, d], { requiresGrad: true }), { std: 0.02, generator: g });
    this.pos_drop = c.dropRate > 0 ? new Dropout(c.dropRate, g) : new Identity();
    this.blocks = Array.from(
      { length: c.depth },
      (_, i) =>
        new Block(d, c.numHeads, {
          mlpRatio: c.mlpRatio,
          qkvBias: c.qkvBias,
          drop: c.dropRate,
          attnDrop: c.attnDropRate,
          dropPath: c.depth > 1 ? (c.dropPathRate * i) / (c.depth - 1) : c.dropPathRate,
          generator: g,
        }),
    );
    const token = c.pooling === 'token';
    this.norm = token ? new LayerNorm(d, 1e-6) : new Identity();
    this.pool = createPooling(c.pooling, { channels: d, groups: c.pooling === 'gem' ? 1 : c.poolGroups, p: c.poolP, trainP: c.trainP });
    this.fc_norm = token ? new Identity() : new LayerNorm(d, 1e-6);
    this.head_drop = c.dropRate > 0 ? new Dropout(c.dropRate, g) : new Identity();
    this.head = c.numClasses > 0 ? new Linear(d, c.numClasses, { generator: g, init: 'zeros' }) : new Identity();
    // timm's init: every Linear weight truncated normal (std 0.02), its bias 0
    for (const [name, p] of this.namedParameters()) {
      if (!/(^|\.)(qkv|proj|fc1|fc2|head)\.(weight|bias)$/.test(name) || name.startsWith('patch_embed')) continue;
      if (name.endsWith('weight')) nn.init.truncNormal(p, { std: 0.02, generator: g });
      else nn.init.zeros(p);
    }
  }

  /** images `[B, Cin, H, W]` → tokens `[B, 1 + N, D]` after the blocks (and the final norm for token pooling). */
  forwardFeatures(x: Tensor): Tensor {
    const t = this.patch_embed.forward(x);
    const b = t.shape[0]!;
    let h = this.pos_drop.forward(concat([this.cls_token.expand([b, 1, this.config.embedDim]), t], 1).add(this.pos_embed));
    for (const blk of this.blocks) h = blk.forward(h);
    return this.norm.forward(h);
  }

  /** tokens → logits `[B, classes]`, or the pooled, normalised features `[B, D]` with preLogits. */
  forwardHead(tokens: Tensor, preLogits = false): Tensor {
    const f = this.head_drop.forward(this.fc_norm.forward(this.pool.forward(tokens)));
    return preLogits ? f : this.head.forward(f);
  }

  forward(x: Tensor): Tensor {
    return this.forwardHead(this.forwardFeatures(x));
  }

  /**
   * Runs `fn` with block `i`'s attention probabilities and per-head outputs recorded, and
   * returns them with fn's result. Other forwards record nothing.
   */
  capture<T>(block: number, fn: () => T): { result: T } & AttentionCapture {
    const attn = this.blocks[block]?.attn;
    if (attn === undefined) throw new Error(`capture: block ${block} does not exist (depth ${this.blocks.length})`);
    const store: AttentionCapture = {};
    attn._capture = store;
    try {
      return { result: fn(), ...store };
    } finally {
      attn._capture = null;
    }
  }

  /** Names to keep out of weight decay (timm's no_weight_decay plus the pooling's p). */
  noWeightDecay(): string[] {
    return ['pos_embed', 'cls_token', ...this.pool.noWeightDecay().map((n) => `pool.${n}`)];
  }

  /** The current p of every group (gem, ggem), else []. */
  currentP(): number[] {
    return this.pool instanceof GGeMPool ? this.pool.currentP() : [];
  }
}

function validate(c: VitConfig & { poolGroups: number }): void {
  const bad = (what: string) => {
    throw new Error(`VisionTransformer: ${what}`);
  };
  for (const k of ['imgSize', 'patchSize', 'inChans', 'embedDim', 'depth', 'numHeads'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) bad(`${k} must be a positive integer, got ${c[k]}`);
  }
  if (!Number.isInteger(c.numClasses) || c.numClasses < 0) bad(`numClasses must be an integer >= 0, got ${c.numClasses}`);
  if (c.imgSize % c.patchSize !== 0) bad(`imgSize ${c.imgSize} is not a multiple of patchSize ${c.patchSize}`);
  if (c.embedDim % c.numHeads !== 0) bad(`embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
  if (!(c.mlpRatio > 0)) bad(`mlpRatio must be > 0, got ${c.mlpRatio}`);
}
