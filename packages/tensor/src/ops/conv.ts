/**
 * 2-d convolution and pooling over `[B, C, H, W]`, composed from primitives: the input is
 * padded, each kernel offset is a strided view of it (`slice` with a step), the views are
 * stacked into patches (im2col), and a convolution is one product with the weight. The
 * gradients come for free (a view's adjoint writes back into the positions it took).
 */
import { fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { pad, slice, stack } from './movement.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  /** Channel groups (conv2d only): input and output channels in `groups` blocks, each block of outputs seeing its block of inputs. Default 1. */
  groups?: number;
}

const pair = (v: number | [number, number] | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);

/** The patches of x `[B, C, H, W]` for a kh×kw window: `[B, C, kh·kw, OH, OW]`. */
export function unfold(x: Tensor, [kh, kw]: [number, number], options: Conv2dOptions = {}, padValue = 0): Tensor {
  if (x.rank !== 4) throw new Error(`unfold: expected an input of shape [B, C, H, W], got ${fmt(x.shape)}`);
  const [sh, sw] = pair(options.stride, 1);
  const [ph, pw] = pair(options.padding, 0);
  const [dh, dw] = pair(options.dilation, 1);
  for (const [name, v, min] of [
    ['stride', sh, 1],
    ['stride', sw, 1],
    ['padding', ph, 0],
    ['padding', pw, 0],
    ['dilation', dh, 1],
    ['dilation', dw, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`unfold: ${name} must be an integer >= ${min}, got ${v}`);
  }
  const xp =
    ph > 0 || pw > 0
      ? pad(
          x,
          [
            [pw, pw],
            [ph, ph],
          ],
          padValue,
        )
      : x;
  const [hp, wp] = [xp.shape[2]!, xp.shape[3]!];
  const oh = Math.floor((hp - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((wp - dw * (kw - 1) - 1) / sw) + 1;
  if (oh < 1 || ow < 1) throw new Error(`unfold: a ${kh}×${kw} window (dilation ${dh}×${dw}) does not fit the padded input ${fmt(xp.shape)}`);
  const views: Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      views.push(slice(xp, [null, null, [i * dh, i * dh + (oh - 1) * sh + 1, sh], [j * dw, j * dw + (ow - 1) * sw + 1, sw]]));
    }
  }
  return stack(views, 2);
}

/**
 * y = W ⋆ x + b: x `[B, C, H, W]`, weight `[O, C/G, KH, KW]` (PyTorch's layout) for G =
 * `groups` (1 by default; G = C with O = C is a depthwise convolution), bias `[O]`, with
 * stride, zero padding and dilation; y `[B, O, OH, OW]`. Output channels [g·O/G, (g+1)·O/G)
 * see input channels [g·C/G, (g+1)·C/G): one batched product over the groups.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const g = options.groups ?? 1;
  if (weight.rank !== 4 || x.rank !== 4 || weight.shape[1]! * g !== x.shape[1])
    throw new Error(`conv2d: input ${fmt(x.shape)} and weight ${fmt(weight.shape)} do not fit (expected [B, C, H, W] and [O, C/groups, KH, KW], groups ${g})`);
  const [o, cg, kh, kw] = weight.shape as [number, number, number, number];
  if (!Number.isInteger(g) || g < 1 || o % g !== 0) throw new Error(`conv2d: groups must be a positive integer dividing the ${o} output channels, got ${g}`);
  if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== o)) throw new Error(`conv2d: bias ${fmt(bias.shape)} does not fit ${o} output channels`);
  const patches = unfold(x, [kh, kw], options); // [B, C, KH·KW, OH, OW]
  const [b, , , oh, ow] = patches.shape as [number, number, number, number, number];
  const cols = patches.reshape([b, g, cg * kh * kw, oh * ow]);
  const y = weight.reshape([g, o / g, cg * kh * kw]).matmul(cols); // [B, G, O/G, OH·OW]
  const out = y.reshape([b, o, oh * ow]);
  return (bias === null ? out : out.add(bias.reshape([o, 1]))).reshape([b, o, oh, ow]);
}

export interface Pool2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
}

/** The max over each kh×kw window (stride = the window by default, padding with −∞); ties split the gradient. */
export function maxPool2d(x: Tensor, kernel: number | [number, number], options: Pool2dOptions = {}): Tensor {
  const k = pair(kernel, 1);
  return unfold(x, k, { stride: options.stride ?? k, padding: options.padding ?? 0 }, -Infinity).max(2);
}

/** The mean over each kh×kw window (stride = the window by default; zero padding counts, as PyTorch's default). */
export function avgPool2d(x: Tensor, kernel: number | [number, number], options: Pool2dOptions = {}): Tensor {
  const k = pair(kernel, 1);
  return unfold(x, k, { stride: options.stride ?? k, padding: options.padding ?? 0 }).mean(2);
}
