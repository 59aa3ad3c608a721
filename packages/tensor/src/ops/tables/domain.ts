/** Where an op's inputs are drawn from in the op suite and the gradient checker (default: [−3, 3]). */
export interface Domain {
  min?: number;
  max?: number;
  /** Keep values at least `gap` (default 0.05) from these points (kinks, ties, poles, jumps). */
  awayFrom?: number[];
  gap?: number;
}
