import { concat, Dropout, Generator, Identity, LayerNorm, Linear, Module, nn, randn, scope, zeros, type Tensor } from '@ggem/tensor';
import { createPooling, GGeMPool, type Pool, type PoolingName } from '@ggem/pooling';
import type { AttentionCapture } from './attention.js';
import { Block } from './block.js';
import type { Activation } from './mlp.js';
import { PatchEmbed } from './patch-embed.js';
import { resamplePosEmbed } from './pos-embed.js';

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
  /** A class token before the patches (timm's class_token; default true). Token pooling needs it. */
  classToken?: boolean;
  /** Learned register tokens after the class token (timm's reg_tokens, `reg_token` `[1, R, D]`); never pooled. Default 0. */
  regTokens?: number;
  /** Position embeddings for the patches only, none for the class and register tokens (timm's no_embed_class: DeiT-III, register models). */
  noEmbedClass?: boolean;
  /** LayerScale on both branches of every block with this initial value (timm's init_values: DeiT-III 1e-6, DINOv2 1e-5); 0 or absent: none. */
  initValues?: number;
  /** LayerNorm of q and k per head in the attention (timm's qk_norm). */
  qkNorm?: boolean;
  /** A LayerNorm (`norm_pre`) after the position embeddings, and no patch-embedding bias (timm's pre_norm: CLIP). */
  preNorm?: boolean;
  /**
   * Where the final LayerNorm goes (timm's fc_norm): true, on the pooled vector (`fc_norm`);
   * false, on every token before pooling (`norm`). Default: false for token pooling, true for
   * the others, as timm's global_pool='avg' does.
   */
  fcNorm?: boolean;
  /** The final LayerNorm at all (timm's final_norm; default true). */
  finalNorm?: boolean;
  /** ε of every LayerNorm (default 1e-6, timm's ViT; CLIP's is 1e-5). */
  normEps?: number;
  /** The MLPs' activation (default exact GELU; 'quick_gelu' for OpenAI's CLIP). */
  act?: Activation;
  /** Accept images of any size (sides multiples of the patch), resampling the position embeddings to the grid (timm's dynamic_img_size). */
  dynamicImgSize?: boolean;
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
 * `patch_embed.proj.*`, `cls_token`, `reg_token`, `pos_embed`, `norm_pre.*`, `blocks.{i}.*`,
 * `norm.*` (token pooling) or `fc_norm.*` (the others), `head.*`, plus `pool.p` for gem and
 * ggem.
 *
 *   - token: the final `norm` on all tokens, the class token to the head;
 *   - avg / max / gem / ggem: the last block's patch tokens (no final norm) pooled, then
 *     `fc_norm` (a LayerNorm on the pooled vector) and the head; with `fcNorm: false` the
 *     final `norm` on all tokens instead, and the pooled vector to the head.
 *
 * The timm options behind popular checkpoints (class token or none, register tokens,
 * no_embed_class, LayerScale, qk_norm, pre_norm, fc_norm, LayerNorm ε, quick GELU, dynamic
 * image size) are config fields; `timmConfig` turns a timm `config.json` into this config.
 */
export class VisionTransformer extends Module {
  patch_embed: PatchEmbed;
  cls_token: Tensor | null;
  reg_token: Tensor | null;
  pos_embed: Tensor;
  pos_drop: Module;
  norm_pre: Module;
  blocks: Block[];
  norm: Module;
  pool: Pool;
  fc_norm: Module;
  head_drop: Module;
  head: Module;
  readonly config: Required<Omit<VitConfig, 'poolGroups'>> & { poolGroups: number };
  /** Class and register tokens before the patches. */
  readonly numPrefixTokens: number;
  /** The generator dropout and drop-path draw from (its state belongs in a checkpoint). */
  readonly _rng: Generator;

  constructor(config: VitConfig) {
    super();
    const c = {
      ...VIT_DEFAULTS,
      poolGroups: config.numHeads,
      fcNorm: config.pooling !== 'token',
      ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)),
    } as VisionTransformer['config'];
    validate(c);
    this.config = c;
    const g = new Generator(c.seed);
    this._rng = g;
    const d = c.embedDim;
    this.patch_embed = new PatchEmbed(c.imgSize, c.patchSize, c.inChans, d, g, { bias: !c.preNorm, dynamic: c.dynamicImgSize });
    const n = this.patch_embed.numPatches;
    this.numPrefixTokens = (c.classToken ? 1 : 0) + c.regTokens;
    this.cls_token = c.classToken ? randn([1, 1, d], { std: 1e-6, generator: g, requiresGrad: true }) : null;
    this.reg_token = c.regTokens > 0 ? randn([1, c.regTokens, d], { std: 1e-6, generator: g, requiresGrad: true }) : null;
    const embedded = c.noEmbedClass ? n : n + this.numPrefixTokens;
    this.pos_embed = nn.init.truncNormal(zeros([1, embedded, d], { requiresGrad: true }), { std: 0.02, generator: g });
    this.pos_drop = c.dropRate > 0 ? new Dropout(c.dropRate, g) : new Identity();
    this.norm_pre = c.preNorm ? new LayerNorm(d, c.normEps) : new Identity();
    this.blocks = Array.from(
      { length: c.depth },
      (_, i) =>
        new Block(d, c.numHeads, {
          mlpRatio: c.mlpRatio,
          qkvBias: c.qkvBias,
          qkNorm: c.qkNorm,
          initValues: c.initValues,
          normEps: c.normEps,
          act: c.act,
          drop: c.dropRate,
          attnDrop: c.attnDropRate,
          dropPath: c.depth > 1 ? (c.dropPathRate * i) / (c.depth - 1) : c.dropPathRate,
          generator: g,
        }),
    );
    this.norm = c.finalNorm && !c.fcNorm ? new LayerNorm(d, c.normEps) : new Identity();
    this.pool = createPooling(c.pooling, {
      channels: d,
      groups: c.pooling === 'gem' ? 1 : c.poolGroups,
      p: c.poolP,
      trainP: c.trainP,
      prefixTokens: this.numPrefixTokens,
    });
    this.fc_norm = c.finalNorm && c.fcNorm ? new LayerNorm(d, c.normEps) : new Identity();
    this.head_drop = c.dropRate > 0 ? new Dropout(c.dropRate, g) : new Identity();
    this.head = c.numClasses > 0 ? new Linear(d, c.numClasses, { generator: g, init: 'zeros' }) : new Identity();
    // timm's init: every Linear weight truncated normal (std 0.02), its bias 0
    for (const [name, p] of this.namedParameters()) {
      if (!/(^|\.)(qkv|proj|fc1|fc2|head)\.(weight|bias)$/.test(name) || name.startsWith('patch_embed')) continue;
      if (name.endsWith('weight')) nn.init.truncNormal(p, { std: 0.02, generator: g });
      else nn.init.zeros(p);
    }
  }

  /** images `[B, Cin, H, W]` → tokens `[B, prefix + N, D]` after the blocks (and the final `norm`, when the model has one). */
  forwardFeatures(x: Tensor): Tensor {
    const t = this.patch_embed.forward(x);
    const [b, , d] = t.shape as [number, number, number];
    const p = this.config.patchSize;
    const grid: [number, number] = [x.shape[2]! / p, x.shape[3]! / p];
    const g0 = this.patch_embed.gridSize;
    const pos = resamplePosEmbed(this.pos_embed, grid, { oldGrid: [g0, g0], prefixTokens: this.config.noEmbedClass ? 0 : this.numPrefixTokens });
    const prefix = [this.cls_token, this.reg_token].filter((v) => v !== null).map((v) => v.expand([b, v.shape[1]!, d]));
    const join = (ts: Tensor[]) => (prefix.length === 0 ? ts[0]! : concat([...prefix, ...ts], 1));
    let h = this.config.noEmbedClass ? join([t.add(pos)]) : join([t]).add(pos);
    h = this.norm_pre.forward(this.pos_drop.forward(h));
    // each block's temporaries go back to the pool when it ends (without a graph to keep them for)
    for (const blk of this.blocks) h = scope(() => blk.forward(h), { heap: false });
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
    const tokens = [this.cls_token && 'cls_token', this.reg_token && 'reg_token'].filter((n) => typeof n === 'string');
    return ['pos_embed', ...tokens, ...this.pool.noWeightDecay().map((n) => `pool.${n}`)];
  }

  /** The current p of every group (gem, ggem), else []. */
  currentP(): number[] {
    return this.pool instanceof GGeMPool ? this.pool.currentP() : [];
  }
}

/** The defaults of the optional fields (poolGroups: the heads; fcNorm: every pooling but token). */
export const VIT_DEFAULTS = {
  qkvBias: true,
  poolP: 3,
  trainP: true,
  classToken: true,
  regTokens: 0,
  noEmbedClass: false,
  initValues: 0,
  qkNorm: false,
  preNorm: false,
  finalNorm: true,
  normEps: 1e-6,
  act: 'gelu',
  dynamicImgSize: false,
  dropRate: 0,
  attnDropRate: 0,
  dropPathRate: 0,
  seed: 0,
} as const satisfies Partial<VitConfig>;

function validate(c: VisionTransformer['config']): void {
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
  if (!Number.isInteger(c.regTokens) || c.regTokens < 0) bad(`regTokens must be an integer >= 0, got ${c.regTokens}`);
  if (c.pooling === 'token' && !c.classToken) bad("token pooling needs the class token (classToken: false leaves none); pool with 'avg', 'gem' or 'ggem'");
  if (!(c.initValues >= 0)) bad(`initValues must be >= 0 (0: no LayerScale), got ${c.initValues}`);
  if (!(c.normEps > 0)) bad(`normEps must be > 0, got ${c.normEps}`);
  if (c.act !== 'gelu' && c.act !== 'quick_gelu') bad(`act must be 'gelu' or 'quick_gelu', got ${JSON.stringify(c.act)}`);
}
