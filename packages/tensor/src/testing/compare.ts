/** The largest difference relative to 1 + |want| over several outputs (a value and its gradients): Infinity when two lengths differ. */
export function maxError(got: ArrayLike<number>[], want: ArrayLike<number>[]): number {
  let e = 0;
  for (const [k, a] of got.entries()) {
    if (a.length !== want[k]!.length) return Infinity;
    for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - want[k]![i]!) / (1 + Math.abs(want[k]![i]!)));
  }
  return e;
}
