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

out = {"torch": torch.__version__, "cases": cases}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops-golden.json")
with open(path, "w") as f:
    json.dump(out, f)
print(f"wrote {path}: {len(cases)} cases (torch {torch.__version__})")
