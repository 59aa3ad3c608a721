export { Module, assign, type AnyModule, type StateDict, type LoadOptions, type LoadReport } from './module.js';
export { Linear, LayerNorm, Dropout, Identity, Sequential, type LinearOptions } from './layers.js';
export * as init from './init.js';
export { Conv2d, MaxPool2d, AvgPool2d } from './conv.js';
export { Embedding } from './embedding.js';
export { BatchNorm, GroupNorm } from './norm.js';
