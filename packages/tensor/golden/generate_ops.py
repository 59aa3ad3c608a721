#!/usr/bin/python3
"""float64 golden values for every op of @ggem/tensor's unary and binary tables
(src/ops/tables/), from a real PyTorch (Debian's python3-torch).

Run: /usr/bin/python3 packages/tensor/golden/generate_ops.py   (writes ops-golden.json beside it)

Each case stores float64 inputs drawn from the op's domain (the same ranges as the table's
`domain`), PyTorch's float64 output and the gradient of sum(output * w) for fixed random
weights w. The test (src/test/ops-golden.test.ts) checks that every op of the tables has a
case here, and compares in float64.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
D = torch.float64


def draw(shape, lo=-3.0, hi=3.0, away=(), gap=0.05, extra=()):
    x = lo + (hi - lo) * torch.rand(shape, dtype=D)
    for p in away:
        near = (x - p).abs() <= gap
        x = torch.where(near, p + torch.where(x < p, -2.0, 2.0) * gap, x)
    flat = x.reshape(-1)
    for i, v in enumerate(extra):
        flat[i] = v
    return flat.reshape(shape)


ints = [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
halves = ints + [i + 0.5 for i in ints]
unary = {
    "neg": (torch.neg, {}),
    "exp": (torch.exp, {}),
    "log": (torch.log, {"lo": 0.1, "hi": 5}),
    "sqrt": (torch.sqrt, {"lo": 0.1, "hi": 5}),
    "abs": (torch.abs, {"away": [0.0]}),
    "sign": (torch.sign, {"away": [0.0], "extra": [0.0]}),
    "tanh": (torch.tanh, {}),
    "sigmoid": (torch.sigmoid, {}),
    "relu": (torch.relu, {"away": [0.0]}),
    "gelu": (F.gelu, {}),
    "geluTanh": (lambda x: F.gelu(x, approximate="tanh"), {}),
    "sin": (torch.sin, {}),
    "cos": (torch.cos, {}),
    "tan": (torch.tan, {"lo": -1.2, "hi": 1.2}),
    "asin": (torch.asin, {"lo": -0.9, "hi": 0.9}),
    "acos": (torch.acos, {"lo": -0.9, "hi": 0.9}),
    "atan": (torch.atan, {}),
    "log1p": (torch.log1p, {"lo": -0.9, "hi": 5, "extra": [1e-10, -1e-12]}),
    "expm1": (torch.expm1, {"extra": [1e-10, -1e-12]}),
    "reciprocal": (torch.reciprocal, {"away": [0.0], "gap": 0.3}),
    "rsqrt": (torch.rsqrt, {"lo": 0.1, "hi": 5}),
    "square": (torch.square, {}),
    "erf": (torch.erf, {"extra": [1e-9, -2e-8, 0.0]}),
    "floor": (torch.floor, {"away": ints}),
    "ceil": (torch.ceil, {"away": ints}),
    "round": (torch.round, {"away": halves, "extra": [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]}),
    "softplus": (F.softplus, {}),
    "silu": (F.silu, {}),
    "sinh": (torch.sinh, {"extra": [1e-9, -0.01]}),
    "cosh": (torch.cosh, {}),
    # composites of the tables
    "leakyRelu": (lambda x: F.leaky_relu(x, 0.1), {"away": [0.0]}),
    "elu": (lambda x: F.elu(x, 0.7), {"away": [0.0]}),
}
binary = {
    "add": (torch.add, {}, {}),
    "sub": (torch.sub, {}, {}),
    "mul": (torch.mul, {}, {}),
    "div": (torch.div, {}, {"lo": 0.5, "hi": 3}),
    "pow": (torch.pow, {"lo": 0.2, "hi": 3}, {"lo": -2, "hi": 2}),
    "maximum": (torch.maximum, {}, {}),
    "minimum": (torch.minimum, {}, {}),
    "atan2": (torch.atan2, {"lo": 0.3, "hi": 3}, {"lo": 0.3, "hi": 3}),
    "remainder": (torch.remainder, {"lo": 4.2, "hi": 4.8}, {"lo": 2.5, "hi": 3.5}),
    "eq": (torch.eq, {}, {}),
    "ne": (torch.ne, {}, {}),
    "gt": (torch.gt, {}, {}),
    "ge": (torch.ge, {}, {}),
    "lt": (torch.lt, {}, {}),
    "le": (torch.le, {}, {}),
}


def record(name, fn, inputs):
    xs = [x.clone().requires_grad_(True) for x in inputs]
    y = fn(*xs)
    differentiable = y.dtype == D
    y = y.to(D)
    w = torch.randn(y.shape, dtype=D)
    grads = [None] * len(xs)
    if differentiable:
        grads = [g.reshape(-1).tolist() for g in torch.autograd.grad((y * w).sum(), xs)]
    return {
        "name": name,
        "inputs": [{"shape": list(x.shape), "data": x.reshape(-1).tolist()} for x in inputs],
        "w": w.reshape(-1).tolist(),
        "out": y.detach().reshape(-1).tolist(),
        "grads": grads,
    }


cases = [record(name, fn, [draw((6, 7), **d)]) for name, (fn, d) in unary.items()]
for name, (fn, da, db) in binary.items():
    a = draw((3, 4, 5), **da)
    b = draw((4, 1), **db)
    if name in ("eq", "ne", "ge", "le"):
        a[0, 1, :] = b[1, 0]  # ties, where these differ from gt/lt
    cases.append(record(name, fn, [a, b]))



def record_ints(name, fn, inputs, ints):
    """A case with integer inputs (indices, labels) beside the float ones."""
    c = record(name, lambda *xs: fn(*xs, *ints), inputs)
    c["ints"] = [{"shape": list(t.shape), "data": t.reshape(-1).tolist()} for t in ints]
    return c


x4 = lambda *s: draw(s)
composite = [
    record("variance", lambda x: torch.var(x, dim=1), [x4(3, 5, 2)]),
    record("variance_biased_all", lambda x: torch.var(x, unbiased=False), [x4(4, 3)]),
    record("std", lambda x: torch.std(x, dim=(0, 2), keepdim=True), [x4(3, 4, 2)]),
    record("logsumexp", lambda x: torch.logsumexp(x * 30, dim=1), [x4(3, 6)]),
    record("prod", lambda x: torch.prod(x, dim=1), [x4(3, 4)]),
    record("prod_with_zero", lambda x: torch.prod(x, dim=0), [torch.tensor([[0.0, 2.0], [3.0, 0.0], [1.5, 0.0]], dtype=D)]),
    record("cumsum", lambda x: torch.cumsum(x, dim=1), [x4(2, 5, 3)]),
    record("norm2", lambda x: torch.linalg.vector_norm(x, 2, dim=1), [x4(3, 4)]),
    record("norm1", lambda x: torch.linalg.vector_norm(x, 1, dim=0), [draw((3, 4), away=[0.0])]),
    record("norm3", lambda x: torch.linalg.vector_norm(x, 3), [x4(3, 4)]),
    record("flip", lambda x: torch.flip(x, dims=(0, 2)), [x4(2, 3, 4)]),
    record("roll", lambda x: torch.roll(x, shifts=2, dims=1), [x4(2, 5)]),
    record("pad", lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), [x4(2, 3, 4)]),
    record("tile", lambda x: x.repeat(2, 1, 3), [x4(2, 3)]),
    record("tril", lambda x: torch.tril(x, diagonal=-1), [x4(2, 4, 5)]),
    record("triu", lambda x: torch.triu(x, diagonal=1), [x4(4, 3)]),
    record("slice_step", lambda x: x[:, 1:6:2], [x4(3, 7)]),
    record("outer", torch.outer, [x4(4), x4(3)]),
    record("einsum_matmul", lambda a, b: torch.einsum("ij,jk->ik", a, b), [x4(3, 4), x4(4, 2)]),
    record("einsum_attention", lambda a, b: torch.einsum("bhqd,bhkd->bhqk", a, b), [x4(2, 2, 3, 4), x4(2, 2, 5, 4)]),
    record("einsum_diagonal_sum", lambda a: torch.einsum("ii->", a), [x4(4, 4)]),
    record("einsum_implicit", lambda a, b: torch.einsum("ij,jk", a, b), [x4(2, 3), x4(3, 2)]),
    record("einsum_ellipsis", lambda a, b: torch.einsum("...ij,...jk->...ik", a, b), [x4(2, 1, 3, 4), x4(3, 4, 2)]),
    record("einsum_ellipsis_implicit", lambda a, b: torch.einsum("b...i,bi", a, b), [x4(2, 3, 4), x4(2, 4)]),
    record("mse", lambda a, b: F.mse_loss(a, b), [x4(3, 4), x4(3, 4)]),
    record("l1", lambda a, b: F.l1_loss(a, b, reduction="sum"), [x4(3, 4), x4(3, 4)]),
    record("smooth_l1", lambda a, b: F.smooth_l1_loss(a, b, beta=0.7), [x4(3, 4), x4(3, 4)]),
    record("bce_logits", lambda z, y: F.binary_cross_entropy_with_logits(z * 10, y), [x4(3, 4), draw((3, 4), lo=0, hi=1)]),
    record("conv2d", lambda x, w, b: F.conv2d(x, w, b), [x4(2, 3, 6, 5), x4(4, 3, 3, 2), x4(4)]),
    record("conv2d_groups", lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2), [x4(2, 4, 5, 5), x4(6, 2, 3, 3), x4(6)]),
    record("conv2d_depthwise", lambda x, w: F.conv2d(x, w, stride=2, groups=3), [x4(1, 3, 6, 6), x4(3, 1, 3, 3)]),
    record("conv2d_stride_padding_dilation", lambda x, w: F.conv2d(x, w, stride=2, padding=1, dilation=(1, 2)), [x4(1, 2, 7, 8), x4(3, 2, 3, 3)]),
    record("max_pool2d", lambda x: F.max_pool2d(x, 2), [x4(2, 3, 6, 4)]),
    record("max_pool2d_padding", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [x4(1, 2, 5, 5)]),
    record("avg_pool2d", lambda x: F.avg_pool2d(x, (2, 3), stride=1), [x4(2, 2, 4, 5)]),
    record("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b, eps=1e-5), [x4(2, 4, 3, 3), x4(4), x4(4)]),
    record("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=1e-5), [x4(4, 3, 2, 2), x4(3), x4(3)]),
]
gidx = torch.tensor([[0, 2, 1, 2], [1, 0, 0, 3], [3, 3, 2, 1]])
composite += [
    record_ints("gather", lambda x, i: torch.gather(x, 1, i), [x4(3, 5)], [gidx]),
    record_ints("scatter_add", lambda x, s, i: x.scatter_add(1, i, s), [x4(3, 5), x4(3, 4)], [gidx]),
    # scatter writes each position once (a repeat is undefined in PyTorch, an error here)
    record_ints("scatter", lambda x, s, i: x.scatter(1, i, s), [x4(3, 5), x4(3, 3)], [torch.tensor([[0, 2, 4], [3, 1, 0], [2, 4, 3]])]),
    record_ints("nll", lambda x, l: F.nll_loss(F.log_softmax(x, 1), l), [x4(4, 5)], [torch.tensor([0, 4, 2, 2])]),
    record_ints("embedding", lambda w, i: F.embedding(i, w), [x4(6, 3)], [torch.tensor([[1, 5], [0, 1]])]),
]
sx = x4(3, 6)
sv, si = torch.sort(sx, dim=1, descending=True, stable=True)
c = record("sort_descending", lambda x: torch.sort(x, dim=1, descending=True, stable=True).values, [sx])
c["indices"] = si.reshape(-1).tolist()
composite.append(c)
tx = x4(4, 5)
c = record("topk", lambda x: torch.topk(x, 2, dim=0).values, [tx])
c["indices"] = torch.topk(tx, 2, dim=0).indices.reshape(-1).tolist()
composite.append(c)
cases += composite

out = {"torch": torch.__version__, "cases": cases}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops-golden.json")
with open(path, "w") as f:
    json.dump(out, f)
print(f"wrote {path}: {len(cases)} cases (torch {torch.__version__})")
