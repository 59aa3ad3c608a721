import type { Tensor } from '../tensor.js';

/**
 * The gradients a backward pass has computed and not yet propagated, one per tensor of the
 * graph (the sum over every path that reached it), and the reuse of their storage: the
 * storage of a gradient that is consumed (its node's rule has run, it was summed into
 * another, or it was unbroadcast) goes back to the backend (`Backend.release`), so the
 * next backward reuses it instead of allocating.
 *
 * A storage is released only when no pending gradient holds it (rules may pass a gradient
 * through, or reshape it, which shares storage) and it is none of: a tensor of the forward
 * graph, the seed, a leaf's gradient.
 */
export class PendingGradients {
  private readonly pending = new Map<Tensor, Tensor>();
  /** How many pending gradients hold each storage. */
  private readonly held = new Map<unknown, number>();
  /** Storage never to release. */
  private readonly kept = new Set<unknown>();
  /** This step's consumed gradients, released by `flush`. */
  private dead: Tensor[] = [];

  constructor(root: Tensor, forward: readonly Tensor[], seed: Tensor | undefined) {
    this.kept.add(root.storage);
    if (seed !== undefined) this.kept.add(seed.storage);
    for (const t of forward) {
      this.kept.add(t.storage);
      const node = t.node;
      if (node !== null && typeof node === 'object') for (const x of node.inputs) this.kept.add(x.storage);
    }
  }

  /** The gradient of `t` (undefined if no path reached it), handed over for its node's rule. */
  take(t: Tensor): Tensor | undefined {
    const g = this.pending.get(t);
    if (g === undefined) return undefined;
    this.pending.delete(t);
    this.drop(g);
    this.dead.push(g);
    return g;
  }

  /** Adds `g` to the pending gradient of the non-leaf `t`. */
  add(t: Tensor, g: Tensor): void {
    const prev = this.pending.get(t);
    let sum = g;
    if (prev !== undefined) {
      sum = prev.add(g);
      this.drop(prev);
      this.dead.push(prev, g);
    }
    this.pending.set(t, sum);
    this.hold(sum);
  }

  /** Accumulates `g` into the leaf's `.grad` (cast to the leaf's dtype). */
  addToLeaf(leaf: Tensor, g: Tensor): void {
    leaf.grad = leaf.grad === null ? (g.dtype === leaf.dtype ? g : g.cast(leaf.dtype)) : leaf.grad.add(g);
    this.kept.add(leaf.grad.storage); // a rule may have passed its own gradient through to the leaf
    if (leaf.grad !== g) this.dead.push(g);
  }

  /** A gradient a rule returned and nothing keeps (it was unbroadcast into another). */
  discard(g: Tensor): void {
    this.dead.push(g);
  }

  /** Hands the storage of this step's consumed gradients back to the backend. */
  flush(): void {
    for (const t of this.dead) {
      if (this.held.has(t.storage) || this.kept.has(t.storage)) continue;
      this.kept.add(t.storage); // released once
      t.backend.release?.(t.storage);
    }
    this.dead = [];
  }

  private hold(t: Tensor): void {
    this.held.set(t.storage, (this.held.get(t.storage) ?? 0) + 1);
  }

  private drop(t: Tensor): void {
    const n = (this.held.get(t.storage) ?? 0) - 1;
    if (n > 0) this.held.set(t.storage, n);
    else this.held.delete(t.storage);
  }
}
