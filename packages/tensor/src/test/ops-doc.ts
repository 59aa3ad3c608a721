/**
 * The op list (packages/tensor/OPS.md), generated from the unary and binary tables:
 * `npm run docs` writes it, and ops-doc.test.ts checks that the committed file is current.
 */
import { binaryOps, binaryTable, unaryOps, unaryTable, type Domain } from '../index.js';

const range = (d: Domain): string => {
  const parts = [`[${d.min ?? -3}, ${d.max ?? 3}]`];
  if (d.awayFrom?.length) parts.push(`away from ${d.awayFrom.length > 4 ? `${d.awayFrom.slice(0, 4).join(', ')}, …` : d.awayFrom.join(', ')}`);
  return parts.join(', ');
};

/** A table cell: pipes escaped. */
const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The ops written as compositions, by family (kept by hand: each family's file is its own list). */
const composed: [string, string[], string][] = [
  ['elementwise', ['leakyRelu', 'elu', 'clamp', 'where', 'maskedFill'], 'src/ops/elementwise.ts'],
  ['reductions', ['sum', 'mean', 'max', 'min', 'argmax', 'argmin', 'variance (x.var)', 'std', 'logsumexp', 'prod', 'cumsum', 'norm'], 'src/ops/reduce.ts'],
  [
    'movement',
    [
      'reshape',
      'permute',
      'expand',
      'slice (with a step)',
      'narrow',
      'concat',
      'stack',
      'split',
      'chunk',
      'unbind',
      'flip',
      'roll',
      'pad',
      'tile',
      'tril',
      'triu',
      'indexSelect',
    ],
    'src/ops/movement.ts',
  ],
  ['indexing', ['gather', 'scatter', 'scatterAdd', 'sort', 'argsort', 'topk'], 'src/ops/indexing.ts'],
  ['products', ['matmul', 'outer', 'einsum'], 'src/ops/matmul.ts, src/ops/einsum.ts'],
  [
    'network',
    ['softmax', 'logSoftmax', 'layerNorm', 'attention', 'linear', 'crossEntropy', 'dropout'],
    'src/ops/nn.ts (fused where the backend has the kernel)',
  ],
  ['losses', ['mseLoss', 'l1Loss', 'smoothL1Loss', 'binaryCrossEntropyWithLogits', 'nllLoss'], 'src/ops/loss.ts'],
  ['convolution', ['conv2d', 'unfold', 'maxPool2d', 'avgPool2d'], 'src/ops/conv.ts'],
  ['layers', ['Linear', 'LayerNorm', 'Dropout', 'Embedding', 'Conv2d', 'MaxPool2d', 'AvgPool2d', 'BatchNorm', 'GroupNorm'], 'src/nn/'],
];

export function opsMarkdown(): string {
  const lines = [
    '# The elementwise ops',
    '',
    'Generated from `src/ops/tables/` by `npm run docs`; do not edit. Each op is a Tensor method and a',
    'function of `@ggem/tensor`, with its gradient, its gpu.js kernel and its tests derived from its',
    'row (CONTRIBUTING.md has the recipe). The test domain is where the op suite and the gradient',
    'checker draw inputs.',
    '',
    '## Unary: `x.op()`, `op(x)`',
    '',
    '| op | computes | gradient | test domain |',
    '|---|---|---|---|',
  ];
  for (const op of unaryOps) {
    const d = unaryTable[op];
    const name = op === 'gelu' ? '`gelu(x)`' : op === 'geluTanh' ? "`gelu(x, 'tanh')`" : `\`${op}\``;
    const grad = d.grad === 'zero' ? 'zero (piecewise constant)' : d.grad === 'pointwise' ? 'g·f′(x), one fused kernel' : 'a rule of Tensor ops';
    lines.push(`| ${name} | ${cell(d.doc)} | ${grad} | ${range(d.domain)} |`);
  }
  lines.push('', '## Binary, broadcasting: `a.op(b)`, `op(a, b)`', '', '| op | computes | gradient | test domains |', '|---|---|---|---|');
  for (const op of binaryOps) {
    const d = binaryTable[op];
    lines.push(
      `| \`${op}\` | ${cell(d.doc)} | ${d.grad === null ? 'none (0/1 output)' : 'a rule of Tensor ops'} | a ${range(d.domain[0])}; b ${range(d.domain[1])} |`,
    );
  }
  lines.push(
    '',
    '## The other ops, by family (most composed from the primitives, their gradients from their parts)',
    '',
    '| family | ops | file |',
    '|---|---|---|',
    ...composed.map(([family, ops, file]) => `| ${family} | ${ops.map((o) => `\`${o}\``).join(', ')} | \`${file}\` |`),
    '',
  );
  return lines.join('\n');
}
