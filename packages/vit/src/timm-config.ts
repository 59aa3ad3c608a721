import type { PoolingName } from '@ggem/pooling';
import type { PreprocessConfig } from './image/transform.js';
import type { VitConfig } from './vit.js';

/** A timm model's `config.json` (as the hub stores it) or the same fields from `pretrained_cfg`. */
export interface TimmConfigJson {
  architecture?: string;
  num_classes?: number;
  global_pool?: string;
  model_args?: Record<string, unknown>;
  pretrained_cfg?: {
    input_size?: number[];
    interpolation?: string;
    crop_pct?: number;
    crop_mode?: string;
    mean?: number[];
    std?: number[];
    num_classes?: number;
    [k: string]: unknown;
  };
  label_names?: string[];
  [k: string]: unknown;
}

/** What a timm config gives: the model's config, its eval transform, and its class names when the config has them. */
export interface FromTimm {
  config: VitConfig;
  preprocess: PreprocessConfig;
  labels?: string[];
}

const SIZES = {
  tiny: { embedDim: 192, depth: 12, numHeads: 3 },
  small: { embedDim: 384, depth: 12, numHeads: 6 },
  medium: { embedDim: 512, depth: 12, numHeads: 8 },
  base: { embedDim: 768, depth: 12, numHeads: 12 },
  large: { embedDim: 1024, depth: 24, numHeads: 16 },
  huge: { embedDim: 1280, depth: 32, numHeads: 16 },
  giant: { embedDim: 1408, depth: 40, numHeads: 16, mlpRatio: 48 / 11 },
} satisfies Record<string, Partial<VitConfig>>;

/**
 * The model arguments timm's registry gives a ViT architecture, from its name:
 * `vit_<size>_patch<P>_[<variant>_]<img>` and `deit3_…`, with the variants behind popular
 * checkpoints: `reg<N>` (register tokens, no_embed_class), `gap` (no class token, average
 * pooling, no fc_norm), `dinov2` (LayerScale 1e-5, 518²), `clip` (pre_norm, LayerNorm ε 1e-5),
 * `quickgelu`, and DeiT-III (no_embed_class, LayerScale 1e-6). Undefined for another name.
 */
export function timmArchitecture(name: string): Partial<VitConfig> | undefined {
  const m = /^(vit|deit3|deit)_(tiny|small|medium|base|large|huge|giant)_patch(\d+)((?:_[a-z0-9]+)*)$/.exec(name.split('.')[0]!);
  if (m === null) return undefined;
  const [, family, size, patch, rest] = m as unknown as [string, string, keyof typeof SIZES, string, string];
  const a: Partial<VitConfig> = { ...SIZES[size], patchSize: Number(patch), imgSize: 224, pooling: 'token' };
  if (family === 'deit3') Object.assign(a, { noEmbedClass: true, initValues: 1e-6 });
  for (const part of rest.split('_').filter(Boolean)) {
    const reg = /^reg(\d+)$/.exec(part);
    if (/^\d+$/.test(part)) a.imgSize = Number(part);
    else if (reg) Object.assign(a, { regTokens: Number(reg[1]), noEmbedClass: true });
    else if (part === 'gap') {
      Object.assign(a, { classToken: false, pooling: 'avg', fcNorm: false });
      if (size === 'medium') Object.assign(a, { qkvBias: false, initValues: 1e-6 });
    } else if (part === 'dinov2') Object.assign(a, { initValues: 1e-5, imgSize: 518 });
    else if (part === 'clip') Object.assign(a, { preNorm: true, normEps: 1e-5 });
    else if (part === 'quickgelu') a.act = 'quick_gelu';
    else if (part === 'distilled')
      return undefined; // a distillation token: not this model
    else if (!['in21k', 'in22k', 'miil', 'sam', 'augreg', 'orig'].includes(part)) return undefined;
  }
  return a;
}

const POOLS: Record<string, PoolingName> = { token: 'token', avg: 'avg', max: 'max' };
const IGNORED = new Set([
  'drop_rate',
  'pos_drop_rate',
  'proj_drop_rate',
  'patch_drop_rate',
  'attn_drop_rate',
  'drop_path_rate',
  'weight_init',
  'fix_init',
  'pretrained_cfg_overlay',
]);

/** timm's model arguments as this project's config fields (those it implements; anything else is an error naming it). */
function modelArgs(args: Record<string, unknown>, where: string): Partial<VitConfig> {
  const out: Record<string, unknown> = {};
  const fields: Record<string, keyof VitConfig> = {
    patch_size: 'patchSize',
    in_chans: 'inChans',
    num_classes: 'numClasses',
    embed_dim: 'embedDim',
    depth: 'depth',
    num_heads: 'numHeads',
    mlp_ratio: 'mlpRatio',
    qkv_bias: 'qkvBias',
    qk_norm: 'qkNorm',
    class_token: 'classToken',
    no_embed_class: 'noEmbedClass',
    reg_tokens: 'regTokens',
    pre_norm: 'preNorm',
    final_norm: 'finalNorm',
    dynamic_img_size: 'dynamicImgSize',
  };
  for (const [k, v] of Object.entries(args)) {
    if (IGNORED.has(k) || v === null) continue;
    const field = fields[k];
    if (field !== undefined) out[field] = v;
    else if (k === 'img_size') {
      const s = Array.isArray(v) ? v : [v, v];
      if (s[0] !== s[1]) throw new Error(`${where}: img_size ${JSON.stringify(v)} is not square; only square models are supported`);
      out.imgSize = s[0];
    } else if (k === 'init_values') out.initValues = v ?? 0;
    else if (k === 'fc_norm') out.fcNorm = v;
    else if (k === 'act_layer') {
      if (v !== 'gelu' && v !== 'quick_gelu') throw new Error(`${where}: act_layer '${String(v)}' is not supported (gelu, quick_gelu)`);
      out.act = v;
    } else if (k === 'global_pool') out.pooling = pool(v, where);
    else if (k === 'pos_embed') {
      if (v !== 'learn') throw new Error(`${where}: pos_embed '${String(v)}' is not supported (learned absolute embeddings only)`);
    } else throw new Error(`${where}: timm model argument '${k}' (${JSON.stringify(v)}) is not supported by @ggem/vit's VisionTransformer`);
  }
  return out as Partial<VitConfig>;
}

function pool(v: unknown, where: string): PoolingName {
  const p = POOLS[String(v)];
  if (p === undefined) throw new Error(`${where}: global_pool '${String(v)}' is not supported (token, avg, max; this project adds gem and ggem)`);
  return p;
}

/**
 * A model config and an eval transform from a timm `config.json` (`architecture`,
 * `num_classes`, `global_pool`, `model_args`, `pretrained_cfg`, `label_names`): the
 * architecture's registry arguments (`timmArchitecture`), then the file's. `overrides` go
 * last, e.g. `{ pooling: 'ggem', poolGroups: 6 }` for GGeM weights trained with timm and
 * python/ggem_pool.py (timm's config says 'avg' there). An architecture or argument this
 * project does not implement is an error naming it.
 */
export function timmConfig(json: TimmConfigJson | string, overrides: Partial<VitConfig> = {}): FromTimm {
  let cfg: TimmConfigJson;
  try {
    cfg = typeof json === 'string' ? JSON.parse(json) : json;
  } catch (e) {
    throw new Error(`timmConfig: the config is not JSON (${(e as Error).message}); expected a timm config.json`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg))
    throw new Error(`timmConfig: expected a config object, got ${JSON.stringify(cfg)?.slice(0, 80)}`);
  const where = `timm config${cfg.architecture ? ` of ${cfg.architecture}` : ''}`;
  const args = cfg.model_args ?? {};
  let base: Partial<VitConfig> = {};
  if (cfg.architecture !== undefined) {
    const a = timmArchitecture(cfg.architecture);
    const explicit = ['embed_dim', 'depth', 'num_heads', 'patch_size'].every((k) => k in args);
    if (a === undefined && !explicit) {
      throw new Error(
        `${where}: an architecture this project does not know; known: vit_/deit3_<tiny|small|medium|base|large|huge|giant>_patch<P>[_reg<N>|_gap|_dinov2|_clip|_quickgelu]_<img>, or give embed_dim, depth, num_heads and patch_size in model_args`,
      );
    }
    base = a ?? {};
  }
  const pre = cfg.pretrained_cfg ?? {};
  const inputSize = pre.input_size;
  const config: Record<string, unknown> = { inChans: 3, numClasses: 1000, mlpRatio: 4, pooling: 'token', ...base };
  if (inputSize !== undefined) {
    if (inputSize.length !== 3 || inputSize[1] !== inputSize[2]) throw new Error(`${where}: input_size ${JSON.stringify(inputSize)} is not [C, S, S]`);
    Object.assign(config, { inChans: inputSize[0], imgSize: inputSize[1] });
  }
  const numClasses = cfg.num_classes ?? pre.num_classes;
  if (numClasses !== undefined) config.numClasses = numClasses;
  if (cfg.global_pool !== undefined && cfg.global_pool !== '') config.pooling = pool(cfg.global_pool, where);
  Object.assign(config, modelArgs(args, where), overrides);
  for (const k of ['imgSize', 'patchSize', 'embedDim', 'depth', 'numHeads'] as const) {
    if (config[k] === undefined) throw new Error(`${where}: no ${k}`);
  }
  const interpolation = pre.interpolation ?? 'bicubic';
  if (interpolation !== 'bicubic' && interpolation !== 'bilinear')
    throw new Error(`${where}: interpolation '${interpolation}' is not supported (bicubic, bilinear)`);
  const cropMode = pre.crop_mode ?? 'center';
  if (cropMode !== 'center' && cropMode !== 'squash') throw new Error(`${where}: crop_mode '${cropMode}' is not supported (center, squash)`);
  const preprocess: PreprocessConfig = {
    inputSize: config.imgSize as number,
    cropPct: pre.crop_pct ?? 0.875,
    cropMode,
    interpolation,
    ...(pre.mean ? { mean: pre.mean } : {}),
    ...(pre.std ? { std: pre.std } : {}),
  };
  return { config: config as unknown as VitConfig, preprocess, ...(cfg.label_names ? { labels: cfg.label_names } : {}) };
}
