/** Outer products and Einstein summation, composed from broadcasting products and sums. */
import { fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';

/** out[i, j] = a[i]·b[j] for 1-d a and b. */
export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 1 || b.rank !== 1) throw new Error(`outer: expected two 1-d tensors, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  return a.unsqueeze(1).mul(b.unsqueeze(0));
}

/**
 * Einstein summation over one-letter indices: `einsum('ij,jk->ik', a, b)` is a product,
 * `'bhqd,bhkd->bhqk'` attention scores, `'ii->i'` a diagonal, `'ij->'` a sum,
 * `'...ij,...jk->...ik'` a product over any (broadcast) batch dims. Without `->` the output
 * has the `...` dims, then the letters that appear once in alphabetical order (NumPy's rule).
 * Each operand is lined up on every letter (diagonals taken, missing letters broadcast),
 * the operands multiplied, and the letters not in the output summed.
 */
export function einsum(spec: string, ...operands: Tensor[]): Tensor {
  const s = withoutEllipsis(spec, operands);
  const [lhs, rhs] = s.includes('->') ? (s.split('->') as [string, string]) : [s, undefined];
  const inputs = lhs.split(',');
  const bad = s.replace(/->|,/g, '').match(/[^a-zA-Z]/);
  if (bad) throw new Error(`einsum: '${spec}' has '${bad[0]}'; indices are single letters, or '...'`);
  const counts = new Map<string, number>();
  for (const t of inputs) for (const c of t) counts.set(c, (counts.get(c) ?? 0) + 1);
  const out =
    rhs ??
    [...counts.keys()]
      .filter((c) => counts.get(c) === 1)
      .sort()
      .join('');
  for (const c of out) if (!counts.has(c)) throw new Error(`einsum: output index '${c}' of '${spec}' is in no operand`);
  if (new Set(out).size !== out.length) throw new Error(`einsum: output indices of '${spec}' repeat`);
  const letters = [...out, ...[...counts.keys()].filter((c) => !out.includes(c))];
  const size = new Map<string, number>();
  let product: Tensor | null = null;
  inputs.forEach((term, k) => {
    const x = operands[k]!;
    if (term.length !== x.rank) throw new Error(`einsum: operand ${k} has shape ${fmt(x.shape)} but '${term}' names ${term.length} dims`);
    let t = x;
    let names = [...term];
    // a repeated letter is a diagonal: take it, one repeat at a time
    for (let i = 0; i < names.length; i++) {
      const j = names.indexOf(names[i]!, i + 1);
      if (j < 0) continue;
      t = diagonal(t, i, j);
      names = [...names.slice(0, j), ...names.slice(j + 1)];
      i--;
    }
    names.forEach((c, i) => {
      const d = t.shape[i]!;
      if (size.has(c) && size.get(c) !== d && d !== 1 && size.get(c) !== 1)
        throw new Error(`einsum: index '${c}' has sizes ${size.get(c)} and ${d} in '${spec}'`);
      if (!size.has(c) || size.get(c) === 1) size.set(c, d);
    });
    // permute to the order of `letters`, then unsqueeze the letters it lacks
    const present = letters.filter((c) => names.includes(c));
    t = t.permute(present.map((c) => names.indexOf(c)));
    t = t.reshape(letters.map((c) => (names.includes(c) ? t.shape[present.indexOf(c)]! : 1)));
    product = product === null ? t : product.mul(t);
  });
  const summed = letters.length > out.length ? product!.sum(letters.map((_, i) => i).slice(out.length)) : product!;
  return summed.expand(out.split('').map((c) => size.get(c)!));
}

/**
 * The spec with each `...` spelled out as letters it does not use: an operand's `...` covers
 * the dims its letters leave, the operands' right-aligned (broadcast) as NumPy's; without
 * `->` they lead the output, before the letters that appear once.
 */
function withoutEllipsis(spec: string, operands: Tensor[]): string {
  const s = spec.replace(/\s+/g, '');
  const [lhs, rhs] = s.includes('->') ? (s.split('->') as [string, string]) : [s, undefined];
  const inputs = lhs.split(',');
  if (inputs.length !== operands.length) throw new Error(`einsum: '${spec}' names ${inputs.length} operands, got ${operands.length}`);
  if (!s.includes('...')) return s;
  const widths = inputs.map((t, k) => {
    if (!t.includes('...')) return 0;
    if (t.indexOf('...') !== t.lastIndexOf('...')) throw new Error(`einsum: operand ${k} of '${spec}' has more than one '...'`);
    const w = operands[k]!.rank - (t.length - 3);
    if (w < 0) throw new Error(`einsum: operand ${k} has shape ${fmt(operands[k]!.shape)}, fewer dims than '${t}' names`);
    return w;
  });
  const most = Math.max(...widths);
  const free = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'].filter((c) => !s.includes(c));
  if (free.length < most) throw new Error(`einsum: '${spec}' leaves too few letters for its '...'`);
  const ell = free.slice(0, most);
  const spelled = inputs.map((t, k) => t.replace('...', ell.slice(most - widths[k]!).join('')));
  if (rhs !== undefined) {
    if (rhs.indexOf('...') !== rhs.lastIndexOf('...')) throw new Error(`einsum: the output of '${spec}' has more than one '...'`);
    return `${spelled.join(',')}->${rhs.replace('...', ell.join(''))}`;
  }
  const counts = new Map<string, number>();
  for (const t of inputs) for (const c of t.replace('...', '')) counts.set(c, (counts.get(c) ?? 0) + 1);
  const once = [...counts.keys()].filter((c) => counts.get(c) === 1).sort();
  return `${spelled.join(',')}->${ell.join('')}${once.join('')}`;
}

/** The diagonal of dims i < j of x, as dim i (dim j removed). */
function diagonal(x: Tensor, i: number, j: number): Tensor {
  const n = x.shape[i]!;
  if (x.shape[j] !== n) throw new Error(`einsum: a repeated index spans dims of sizes ${n} and ${x.shape[j]}`);
  // move i and j last, flatten them, and take every (n + 1)-th entry
  const rest = x.shape.map((_, k) => k).filter((k) => k !== i && k !== j);
  const moved = x.permute([...rest, i, j]).reshape([...rest.map((k) => x.shape[k]!), n * n]);
  const diag = moved.indexSelect(
    rest.length,
    Array.from({ length: n }, (_, k) => k * (n + 1)),
  );
  // put the diagonal back at position i
  const perm = [...rest.keys()];
  perm.splice(i, 0, rest.length);
  return diag.permute(perm);
}
