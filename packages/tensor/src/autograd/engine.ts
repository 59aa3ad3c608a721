import type { Tensor } from '../tensor.js';
import { fmt, sameShape } from '../shape.js';
import { PendingGradients } from './gradients.js';

/**
 * Define-by-run reverse mode. Each op that sees an input requiring grad records a Node on
 * its output: the inputs and a rule mapping the output's gradient to the inputs' gradients
 * (in the output's broadcast shape). `backward` walks the nodes in reverse topological
 * order, sums broadcast gradients back to each input's shape and accumulates them, here and
 * only here, then releases the graph so that its memory can be reclaimed.
 */
export interface Node {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** `needs[i]` says whether input i wants a gradient; the rule may return null for the others. */
  readonly backward: (g: Tensor, needs: readonly boolean[]) => readonly (Tensor | null)[];
  /**
   * Storage that only this node's rule references (state an op keeps for its backward and
   * never hands out, such as attention's probabilities when nobody asked for them), listed
   * when the node is released: the engine hands it back to the backend for reuse.
   */
  readonly scratch?: () => readonly unknown[];
}

/** Marks a tensor whose graph was freed by an earlier backward. */
export const RELEASED: unique symbol = Symbol('released');
export type NodeSlot = Node | null | typeof RELEASED;

let gradEnabled = true;
let anomaly = false;
/** True while rules run: their inner ops are checked as one, under the rule's op name. */
let inBackward = false;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` with the engine's modes set, and restores the modes it found whatever `fn` does. */
function withModes<T>(grad: boolean, rules: boolean, fn: () => T): T {
  const prev = [gradEnabled, inBackward] as const;
  gradEnabled = grad;
  inBackward = rules;
  try {
    return fn();
  } finally {
    [gradEnabled, inBackward] = prev;
  }
}

/** Runs `fn` without recording any graph (evaluation, optimizer updates); anomaly detection still checks its ops. */
export function noGrad<T>(fn: () => T): T {
  return withModes(false, inBackward, fn);
}

/** Anomaly detection: every op's output and every gradient is checked for NaN, and the error names the op. */
export function setDetectAnomaly(on: boolean): void {
  anomaly = on;
}

export function detectAnomaly<T>(fn: () => T): T {
  const prev = anomaly;
  anomaly = true;
  try {
    return fn();
  } finally {
    anomaly = prev;
  }
}

function checkNaN(t: Tensor, what: string): void {
  if (t.dtype === 'int32') return;
  const d = t.data;
  for (let i = 0; i < d.length; i++) {
    if (Number.isNaN(d[i])) throw new Error(`${what} produced NaN at flat index ${i} of a tensor of shape ${fmt(t.shape)} (anomaly detection)`);
  }
}

/** Attaches a node to `out` when grad mode is on and some input requires grad. */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: Node['backward'], scratch?: Node['scratch']): Tensor {
  if (anomaly && !inBackward) checkNaN(out, `${op}: the forward pass`);
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs, backward, scratch };
  return out;
}

export interface BackwardOptions {
  /** Keep the graph so that backward can run through it again. */
  retainGraph?: boolean;
}

export function backward(root: Tensor, seed?: Tensor, options: BackwardOptions = {}): void {
  if (root.node === RELEASED) {
    throw new Error(
      'backward: the graph of this tensor was already released by an earlier backward(); pass { retainGraph: true } to the first call to run backward twice',
    );
  }
  if (!root.requiresGrad) throw new Error(`backward: the tensor of shape ${fmt(root.shape)} does not require grad (no input of its graph has requiresGrad)`);
  if (seed === undefined) {
    if (root.size !== 1) throw new Error(`backward: the output has shape ${fmt(root.shape)}; a non-scalar output needs a seed gradient of the same shape`);
  } else if (!sameShape(seed.shape, root.shape)) {
    throw new Error(`backward: the seed gradient has shape ${fmt(seed.shape)} but the output has shape ${fmt(root.shape)}`);
  }
  const order = topoOrder(root);
  const pending = new PendingGradients(root, order, seed);
  withModes(false, true, () => {
    pending.add(root, seed ?? root.onesLike());
    // 1. order: each node runs after every node that uses its output, so its gradient is complete
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const node = t.node as Node;
      const g = pending.take(t);
      if (g === undefined) continue;
      // 2. the rule: the op's gradients of its inputs, in the broadcast output shape
      const needs = node.inputs.map((x) => x.requiresGrad);
      const inGrads = node.backward(g, needs);
      node.inputs.forEach((x, k) => {
        const gk = inGrads[k];
        if (!needs[k] || gk == null) return;
        if (anomaly) checkNaN(gk, `${node.op}: the backward pass (gradient of input ${k})`);
        // 3. unbroadcast: sum over the dims the forward pass broadcast x along
        const dx = sameShape(gk.shape, x.shape) ? gk : gk.sumToSize(x.shape);
        if (dx !== gk) pending.discard(gk);
        // 4. accumulate: into a leaf's .grad, or into the pending gradient of an intermediate
        if (x.node === null) pending.addToLeaf(x, dx);
        else if (x.node === RELEASED) throw new Error(`backward: ${node.op} reaches a tensor whose graph was already released`);
        else pending.add(x, dx);
      });
      pending.flush();
      if (!options.retainGraph) {
        t.node = RELEASED;
        for (const x of node.scratch?.() ?? []) t.backend.release?.(x);
      }
    }
  });
}

/** Nodes reachable from root, inputs before outputs (iterative DFS: deep graphs do not overflow the stack). */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const node = t.node;
    if (node === null || node === RELEASED || i >= node.inputs.length) {
      stack.pop();
      if (node !== null && node !== RELEASED) order.push(t);
      continue;
    }
    top[1] = i + 1;
    const x = node.inputs[i]!;
    if (!seen.has(x) && x.requiresGrad) {
      seen.add(x);
      stack.push([x, 0]);
    }
  }
  return order;
}
