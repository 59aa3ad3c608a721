/**
 * Losses, each composed from the table ops (their gradients come for free). `reduction` is
 * 'mean' (the default, as PyTorch), 'sum' or 'none' (the per-element loss).
 */
import { fmt, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { gather } from './indexing.js';
import { constant } from './primitive.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(op: string, loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return loss.sum();
  if (reduction === 'mean') return loss.mean();
  throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${String(reduction)}`);
}

function sameShapes(op: string, input: Tensor, target: Tensor): void {
  if (!sameShape(input.shape, target.shape)) throw new Error(`${op}: input ${fmt(input.shape)} and target ${fmt(target.shape)} differ in shape`);
}

/** Mean squared error: (input − target)². */
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  sameShapes('mseLoss', input, target);
  return reduce('mseLoss', input.sub(target).square(), reduction);
}

/** Mean absolute error: |input − target| (gradient 0 where they are equal, as PyTorch). */
export function l1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  sameShapes('l1Loss', input, target);
  return reduce('l1Loss', input.sub(target).abs(), reduction);
}

/** Huber-like smooth L1: 0.5·d²/β where |d| < β, else |d| − 0.5·β (d = input − target; β = 1 as PyTorch). */
export function smoothL1Loss(input: Tensor, target: Tensor, { beta = 1, reduction = 'mean' }: { beta?: number; reduction?: Reduction } = {}): Tensor {
  sameShapes('smoothL1Loss', input, target);
  if (!(beta > 0)) throw new Error(`smoothL1Loss: beta must be > 0, got ${beta}`);
  const d = input.sub(target).abs();
  return reduce(
    'smoothL1Loss',
    d
      .square()
      .mul(0.5 / beta)
      .where(d.lt(beta), d.sub(0.5 * beta)),
    reduction,
  );
}

/**
 * Binary cross-entropy of logits z against targets y in [0, 1]: softplus(z) − z·y, whose
 * softplus is the stable max(z, 0) + ln(1 + e^(−|z|)) (no overflow for |z| of 1e4) with
 * the gradient σ(z) − y everywhere (the relu and abs of that form, differentiated apart,
 * would give −y at z = 0).
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  sameShapes('binaryCrossEntropyWithLogits', logits, target);
  const loss = logits.softplus().sub(logits.mul(target));
  return reduce('binaryCrossEntropyWithLogits', loss, reduction);
}

/** Negative log-likelihood of log-probabilities `[B, C]` at integer labels: −logp[b, label_b]. */
export function nllLoss(logProbs: Tensor, labels: Tensor | readonly number[], reduction: Reduction = 'mean'): Tensor {
  if (logProbs.rank !== 2) throw new Error(`nllLoss: expected log-probabilities of shape [B, C], got ${fmt(logProbs.shape)}`);
  const b = logProbs.shape[0]!;
  const lab = Array.isArray(labels) ? (labels as readonly number[]) : Array.from((labels as Tensor).data);
  if (lab.length !== b) throw new Error(`nllLoss: ${lab.length} labels for a batch of ${b} (log-probabilities ${fmt(logProbs.shape)})`);
  const picked = gather(logProbs, 1, constant(logProbs, lab, [b, 1], 'int32')).reshape([b]);
  return reduce('nllLoss', picked.neg(), reduction);
}
