export { Optimizer, type ParamGroup, type GroupHyper, type OptimizerState } from './optimizer.js';
export { SGD, type SGDHyper } from './sgd.js';
export { AdamW, type AdamWHyper } from './adamw.js';
export { warmupCosine, WarmupCosineSchedule, type WarmupCosineOptions } from './schedule.js';
export { clipGradNorm } from './clip.js';
export { splitWeightDecay } from './groups.js';
