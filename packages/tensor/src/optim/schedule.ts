import type { Optimizer } from './optimizer.js';

export interface WarmupCosineOptions {
  warmupSteps: number;
  totalSteps: number;
  /** The floor the cosine decays to (absolute, applied to every group). */
  minLr?: number;
}

/**
 * The learning-rate factor of linear warmup then cosine decay:
 * lr(t) = base·(t+1)/warmup for t < warmup, then min + (base − min)·½(1 + cos(π·progress)).
 */
export function warmupCosine(step: number, base: number, o: WarmupCosineOptions): number {
  const min = o.minLr ?? 0;
  if (step < o.warmupSteps) return (base * (step + 1)) / o.warmupSteps;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (step - o.warmupSteps) / span);
  return min + (base - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** Sets each group's lr from its base lr before every optimizer step; `step()` after each update. */
export class WarmupCosineSchedule {
  private readonly base: number[];
  t = 0;

  constructor(
    private readonly optimizer: Optimizer,
    private readonly options: WarmupCosineOptions,
  ) {
    if (options.warmupSteps < 0 || options.totalSteps < options.warmupSteps) {
      throw new Error(`WarmupCosineSchedule: need 0 <= warmupSteps <= totalSteps, got ${options.warmupSteps} and ${options.totalSteps}`);
    }
    this.base = optimizer.groups.map((g) => g.lr);
    this.apply();
  }

  step(): void {
    this.t++;
    this.apply();
  }

  private apply(): void {
    this.optimizer.groups.forEach((g, i) => (g.lr = warmupCosine(this.t, this.base[i]!, this.options)));
  }

  stateDict(): { t: number; base: number[] } {
    return { t: this.t, base: [...this.base] };
  }

  loadStateDict(s: { t: number; base: number[] }): void {
    this.t = s.t;
    this.base.splice(0, this.base.length, ...s.base);
    this.apply();
  }
}
