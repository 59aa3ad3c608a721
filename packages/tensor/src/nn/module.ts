import { fmt, sameShape } from '../shape.js';
import { Tensor } from '../tensor.js';

export type StateDict = Record<string, Tensor>;

/** A module of any inputs and outputs (what the state-dict, parameter and weights functions take). */
// biome-ignore lint/suspicious/noExplicitAny: a module's forward may take and return anything
export type AnyModule = Module<any, any>;

export interface LoadOptions {
  /** Strict (the default): any missing, unexpected or mis-shaped key is an error naming each. */
  strict?: boolean;
}

export interface LoadReport {
  missing: string[];
  unexpected: string[];
  /** Keys whose shapes differ, as `name: expected [..], got [..]`. */
  mismatched: string[];
}

/**
 * A layer or model. Parameters and sub-modules are found on the object's own properties,
 * so their dot-path names follow the code: a `Tensor` property `weight` of the child
 * `qkv` of `attn` of the third entry of an array `blocks` is `blocks.2.attn.qkv.weight`
 * (timm's state-dict names). Properties whose name starts with `_` are private state.
 */
export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  training = true;

  abstract forward(...args: In): Out;

  /** Direct children with their names; arrays of modules give `name.i`. */
  namedChildren(): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (k.startsWith('_')) continue;
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v)) v.forEach((m, i) => m instanceof Module && out.push([`${k}.${i}`, m]));
    }
    return out;
  }

  /** Every parameter (trainable or frozen) with its dot-path name, own first, then each child's. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (!k.startsWith('_') && v instanceof Tensor) out.push([prefix + k, v]);
    }
    for (const [name, child] of this.namedChildren()) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** The modules of the tree with their names ('' for this one). */
  namedModules(prefix = ''): [string, AnyModule][] {
    const out: [string, AnyModule][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [name, child] of this.namedChildren()) out.push(...child.namedModules(`${prefix}${name}.`));
    return out;
  }

  /** Sets training mode on this module and every descendant (dropout, drop-path read it). */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  stateDict(): StateDict {
    return Object.fromEntries(this.namedParameters().map(([k, p]) => [k, p.detach()]));
  }

  /**
   * Copies values into this module's parameters (same objects, so optimizers keep working).
   * Strict by default; with `{ strict: false }` the matching keys load and the rest are reported.
   */
  loadStateDict(state: StateDict, options: LoadOptions = {}): LoadReport {
    const own = new Map(this.namedParameters());
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [] };
    for (const k of own.keys()) if (!(k in state)) report.missing.push(k);
    for (const [k, v] of Object.entries(state)) {
      const p = own.get(k);
      if (p === undefined) report.unexpected.push(k);
      else if (!sameShape(p.shape, v.shape)) report.mismatched.push(`${k}: expected ${fmt(p.shape)}, got ${fmt(v.shape)}`);
    }
    const bad = report.missing.length + report.unexpected.length + report.mismatched.length;
    if ((options.strict ?? true) && bad > 0) {
      const parts = [
        report.missing.length ? `missing keys: ${report.missing.join(', ')}` : '',
        report.unexpected.length ? `unexpected keys: ${report.unexpected.join(', ')}` : '',
        report.mismatched.length ? `mis-shaped: ${report.mismatched.join('; ')}` : '',
      ].filter(Boolean);
      throw new Error(`loadStateDict (${this.constructor.name}): ${parts.join('. ')}`);
    }
    for (const [k, v] of Object.entries(state)) {
      const p = own.get(k);
      if (p !== undefined && sameShape(p.shape, v.shape)) assign(p, v);
    }
    return report;
  }
}

/**
 * Replaces a parameter's values with a copy of `value`'s (cast to its dtype), keeping the
 * object. The copy goes where the backend's kernels read it in place when it has such a
 * place (`pin`: the CPU backend's WebAssembly memory), so no second copy is made there.
 */
export function assign(p: Tensor, value: Tensor): void {
  const src = value.dtype === p.dtype ? value.data : value.cast(p.dtype).data;
  const pinned = p.backend.pin?.(src, p.dtype);
  if (pinned !== undefined && pinned !== src) {
    p.storage = pinned;
    return;
  }
  // pin declined, or src is already in that place (another parameter's values): copy it
  const copy = p.backend.fromArray(src.slice());
  p.storage = p.backend.pin?.(copy, p.dtype) ?? copy;
}
