import { allocate, type TypedArray } from '../dtype.js';
import type { Tensor } from '../tensor.js';

export interface ParamGroup {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
}

/** The hyper-parameters every group carries once defaults are filled in. */
export interface GroupHyper {
  lr: number;
  weightDecay: number;
}

export interface OptimizerState {
  /** Per-group hyper-parameters (lr as last set by a schedule). */
  groups: GroupHyper[];
  step: number;
  /** Per-parameter buffers, keyed `group.index.buffer` (e.g. `0.3.expAvg`). */
  buffers: Record<string, TypedArray>;
}

/**
 * Shared machinery: parameter groups with their own lr and weight decay, per-parameter
 * buffers in the parameter's dtype, and state that saves and restores exactly.
 * Updates run on the parameters' host arrays and are written back through the backend.
 */
export abstract class Optimizer<H extends GroupHyper = GroupHyper> {
  readonly groups: (H & { params: Tensor[] })[];
  stepCount = 0;
  protected buffers = new Map<string, TypedArray>();

  constructor(params: Tensor[] | ParamGroup[], defaults: H) {
    const groups: ParamGroup[] = params.length > 0 && !('params' in params[0]!) ? [{ params: params as Tensor[] }] : (params as ParamGroup[]);
    this.groups = groups.map((g) => {
      const h = { ...defaults, ...Object.fromEntries(Object.entries(g).filter(([, v]) => v !== undefined)) } as H & { params: Tensor[] };
      if (!(h.lr >= 0)) throw new Error(`${this.constructor.name}: lr must be >= 0, got ${h.lr}`);
      if (!(h.weightDecay >= 0)) throw new Error(`${this.constructor.name}: weightDecay must be >= 0, got ${h.weightDecay}`);
      return h;
    });
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    this.stepCount++;
    this.groups.forEach((g, gi) =>
      g.params.forEach((p, pi) => {
        if (p.grad === null || !p.requiresGrad) return;
        const data = p.data;
        this.update(g, data, p.grad.data, `${gi}.${pi}`);
        p.storage = p.backend.fromArray(data);
      }),
    );
  }

  /**
   * `step` on a backend whose values arrive asynchronously (gpu.js in webgpu mode): reads
   * every parameter and gradient with dataAsync first, then updates as `step` does.
   */
  async stepAsync(): Promise<void> {
    const params = this.groups.flatMap((g) => g.params).filter((p) => p.grad !== null && p.requiresGrad);
    await Promise.all(params.flatMap((p) => [p.dataAsync(), p.grad!.dataAsync()]));
    this.step();
  }

  protected abstract update(h: H, p: TypedArray, g: TypedArray, key: string): void;

  protected buffer(key: string, like: TypedArray): TypedArray {
    let b = this.buffers.get(key);
    if (b === undefined) {
      b = allocate(like instanceof Float64Array ? 'float64' : 'float32', like.length);
      this.buffers.set(key, b);
    }
    return b;
  }

  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.grad = null;
  }

  stateDict(): OptimizerState {
    const groups = this.groups.map(({ params: _p, ...h }) => ({ ...h }) as GroupHyper);
    return { groups, step: this.stepCount, buffers: Object.fromEntries([...this.buffers].map(([k, v]) => [k, v.slice()])) };
  }

  loadStateDict(state: OptimizerState): void {
    if (state.groups.length !== this.groups.length) {
      throw new Error(`${this.constructor.name}.loadStateDict: the state has ${state.groups.length} parameter groups, this optimizer ${this.groups.length}`);
    }
    state.groups.forEach((h, i) => Object.assign(this.groups[i]!, h));
    this.stepCount = state.step;
    this.buffers = new Map(Object.entries(state.buffers).map(([k, v]) => [k, v.slice()]));
  }
}
