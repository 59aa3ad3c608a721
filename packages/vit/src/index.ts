/**
 * @ggem/vit: a Vision Transformer after timm's, with pooling picked by name from
 * @ggem/pooling, timm-compatible safetensors weights and the GGeM paper's analysis tools.
 * Weights load from bytes, Blobs, Responses and URLs in any runtime; files are in
 * `@ggem/vit/node`.
 */
export { VisionTransformer, VIT_DEFAULTS, type VitConfig } from './vit.js';
export { presets, createVit, type PresetName } from './presets.js';
export { Block, LayerScale, type BlockOptions } from './block.js';
export { Attention, type AttentionCapture } from './attention.js';
export { Mlp, type Activation } from './mlp.js';
export { resamplePosEmbed } from './pos-embed.js';
export { timmConfig, timmArchitecture, type TimmConfigJson, type FromTimm } from './timm-config.js';
export { preprocess, IMAGENET_MEAN, IMAGENET_STD, type PreprocessConfig, type Pixels } from './image/transform.js';
export { resizeU8, resampleMatrix, bicubic, bilinear, type Filter, type FilterName, type U8Image } from './image/resample.js';
export { predict, type Prediction } from './predict.js';
export { PatchEmbed, PatchProj } from './patch-embed.js';
export { DropPath } from './drop-path.js';
export {
  readSafetensors,
  writeSafetensors,
  halfToFloat,
  floatToHalf,
  floatToBf16,
  e4m3ToFloat,
  MAX_HEADER_BYTES,
  type SafetensorsFile,
  type FloatStorage,
} from './safetensors.js';
export {
  readWeights,
  loadWeights,
  vitFromWeights,
  weightsToBytes,
  weightsToBlob,
  modelMetadata,
  CONFIG_KEY,
  type WeightsSource,
  type WeightsReport,
} from './weights.js';
export { linearCka, headSimilarity, attentionDistance, headMeanDistance } from './analysis.js';
