/**
 * @ggem/pooling: the pooling family of "Group Generalized Mean Pooling for Vision
 * Transformer": class token, average, max, GeM and GGeM, as functions and modules.
 */
export { ggem, gem, ggem2d, DEFAULT_EPS, DEFAULT_P_MIN, DEFAULT_P_MAX, type GemOptions } from './gem.js';
export { ggemComposed } from './composed.js';
export { ggemKernel, type GemKernel, type GemResult } from './kernels/index.js';
export { allowedGroups, checkGroups, channelGroups, groupSize } from './groups.js';
export {
  Pool,
  TokenPool,
  AvgPool,
  MaxPool,
  GeMPool,
  GGeMPool,
  createPooling,
  poolingNames,
  type PoolingName,
  type PoolingOptions,
  type GemPoolOptions,
} from './pooling.js';
