/**
 * The kernels that run split over threads besides the gemm: each task does units
 * [j0, j1) of a job by calling the module's exports, with the job's arguments in `a`
 * (pointers in bytes) and the index `t` of the thread running it, for scratch space of its
 * own. The main thread runs them as they are and every worker runs them from their source
 * (engine.ts serialises them), so they use nothing but their arguments and globals.
 */
// biome-ignore lint/suspicious/noExplicitAny: the module's exports, called with numbers
export type Exports = Record<string, (...args: number[]) => any>;
export type Task = (x: Exports, a: Float64Array, j0: number, j1: number, t: number) => void;

export type TaskName = (typeof TASKS)[number]['name'];

export const TASKS = [
  {
    /**
     * Elementwise kernel a[0] (0 add, 1 geluForward, 2 geluBackward) on pointers a[1..3]
     * over a[4] floats, a unit being a[5] floats.
     */
    name: 'elementwise',
    run: (x: Exports, a: Float64Array, j0: number, j1: number) => {
      const from = j0 * a[5]!;
      const n = Math.min(a[4]!, j1 * a[5]!) - from;
      const o = from * 4;
      if (a[0] === 0) x.add!(a[1]! + o, a[2]! + o, a[3]! + o, n);
      else if (a[0] === 1) x.geluForward!(a[1]! + o, a[2]! + o, n);
      else x.geluBackward!(a[1]! + o, a[2]! + o, a[3]! + o, n);
    },
  },
  {
    /**
     * Attention heads (a unit is one (image, head)): qkv a[0], y a[1], probabilities a[2]
     * (a[10] bytes apart; with a[10] = 0 each head's go to the thread's scratch, after the
     * scores), scratch a[3] + t·a[4], n a[5], h a[6], d a[7], np a[8], scale a[9].
     * Per head: kᵀ, S = q kᵀ, P = softmax(scale·S), y = P v.
     */
    name: 'attention',
    run: (x: Exports, a: Float64Array, j0: number, j1: number, t: number) => {
      const [qkv, y, probs, scratch, stride, n, h, d, np, scale, headBytes] = a as unknown as number[];
      const dm = h! * d!;
      const rs = 3 * dm * 4;
      const kt = scratch! + t * stride!;
      const s = kt + d! * np! * 4;
      for (let u = j0; u < j1; u++) {
        const bi = Math.floor(u / h!);
        const hi = u - bi * h!;
        const q = qkv! + (bi * n! * 3 * dm + hi * d!) * 4;
        const p = headBytes! > 0 ? probs! + u * headBytes! : s + n! * np! * 4;
        x.transpose!(q + dm * 4, rs, n!, d!, kt, np!);
        x.combine!(q, rs, 4, kt, np! * 4, n!, d!, np!, s, np! * 4);
        x.softmaxRows!(s, np!, n!, n!, scale!, p);
        x.combine!(p, n! * 4, 4, q + 2 * dm * 4, rs, n!, n!, d!, y! + (bi * n! * dm + hi * d!) * 4, dm * 4);
      }
    },
  },
  {
    /**
     * The gradient of attention heads: qkv a[0], probabilities a[1] (a[11] bytes apart), the
     * output's gradient a[2], qkv's gradient a[3], scratch a[4] + t·a[5], n a[6], h a[7],
     * d a[8], np a[9], scale a[10].
     */
    name: 'attentionBackward',
    run: (x: Exports, a: Float64Array, j0: number, j1: number, t: number) => {
      const [qkv, probs, gy, g, scratch, stride, n, h, d, np, scale, headBytes] = a as unknown as number[];
      const dm = h! * d!;
      const rs = 3 * dm * 4;
      const vt = scratch! + t * stride!;
      const ds = vt + d! * np! * 4;
      for (let u = j0; u < j1; u++) {
        const bi = Math.floor(u / h!);
        const hi = u - bi * h!;
        const head = (bi * n! * 3 * dm + hi * d!) * 4;
        const [q, k, v] = [qkv! + head, qkv! + head + dm * 4, qkv! + head + 2 * dm * 4];
        const [gq, gk, gv] = [g! + head, g! + head + dm * 4, g! + head + 2 * dm * 4];
        const p = probs! + u * headBytes!;
        const go = gy! + (bi * n! * dm + hi * d!) * 4;
        x.combine!(p, 4, n! * 4, go, dm * 4, n!, n!, d!, gv, rs); // dv[j] = Σ_i P[i][j] dO[i]
        x.transpose!(v, rs, n!, d!, vt, np!);
        x.combine!(go, dm * 4, 4, vt, np! * 4, n!, d!, np!, ds, np! * 4); // dP = dO vᵀ
        x.softmaxGradRows!(p, ds, np!, n!, n!, scale!); // dS
        x.combine!(ds, np! * 4, 4, k, rs, n!, n!, d!, gq, rs); // dq = dS k
        x.combine!(ds, 4, np! * 4, q, rs, n!, n!, d!, gk, rs); // dk = dSᵀ q
      }
    },
  },
  {
    /** Layer norm of rows (a unit is a[9] rows): x a[0], w a[1], b a[2], y a[3], mean a[4], rstd a[5], rows a[6], d a[7], eps a[8]. */
    name: 'layerNorm',
    run: (x: Exports, a: Float64Array, j0: number, j1: number) => {
      const r0 = j0 * a[9]!;
      const rows = Math.min(a[6]!, j1 * a[9]!) - r0;
      const row = r0 * a[7]! * 4;
      x.layerNormForward!(a[0]! + row, a[1]!, a[2]!, a[3]! + row, a[4]! + r0 * 4, a[5]! + r0 * 4, rows, a[7]!, a[8]!);
    },
  },
] as const satisfies readonly { name: string; run: Task }[];
