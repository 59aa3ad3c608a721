#!/usr/bin/python3
"""Golden values for @ggem/tensor from a real PyTorch (Debian's python3-torch).

Run: /usr/bin/python3 packages/tensor/golden/generate.py   (writes tensor-golden.json beside it)

Each case stores its float32 inputs, the forward output and the gradient of
sum(output * w) for fixed random weights w w.r.t. every float input. The tests run the
same computation in TypeScript in float32 and compare within 1e-5 relative.

The reference values are PyTorch's evaluated in float64 on the float32 inputs, then
rounded to float32: PyTorch's own float32 kernels are off by more than 1e-5 in a few
entries (softmax backward cancels in g - sum(g*y); the tanh-GELU derivative's far tail),
so they would measure PyTorch's rounding rather than ours.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)


def t(x):
    # 9 significant digits reproduce a float32 exactly
    return [float("%.9g" % v) for v in x.detach().to(torch.float32).reshape(-1).tolist()]


def case(name, fn, inputs, ints=None, params=None):
    ints = ints or {}
    inputs = {k: v.to(torch.float32) for k, v in inputs.items()}
    xs = {k: v.clone().double().requires_grad_(True) for k, v in inputs.items()}
    y = fn(**xs, **ints)
    w = torch.randn(y.shape).double()
    (y * w).sum().backward()
    return {
        "name": name,
        "params": params or {},
        "inputs": {k: {"shape": list(v.shape), "data": t(v)} for k, v in inputs.items()},
        "ints": {k: {"shape": list(v.shape), "data": v.reshape(-1).tolist()} for k, v in ints.items()},
        "w": {"shape": list(w.shape), "data": t(w)},
        "out": {"shape": list(y.shape), "data": t(y)},
        "grads": {k: t(v.grad) for k, v in xs.items()},
    }


cases = [
    case("matmul", lambda a, b: a @ b, {"a": torch.randn(7, 13), "b": torch.randn(13, 5)}),
    case("matmul_batched_broadcast", lambda a, b: a @ b, {"a": torch.randn(2, 3, 6, 9), "b": torch.randn(3, 9, 4)}),
    case("matmul_64", lambda a, b: a @ b, {"a": torch.randn(64, 64), "b": torch.randn(64, 64)}),
    case("softmax", lambda x: F.softmax(x, dim=-1), {"x": torch.randn(6, 10) * 3}, params={"axis": -1}),
    case("softmax_axis1", lambda x: F.softmax(x, dim=1), {"x": torch.randn(2, 5, 3) * 3}, params={"axis": 1}),
    case("log_softmax", lambda x: F.log_softmax(x, dim=-1), {"x": torch.randn(6, 10) * 3}, params={"axis": -1}),
    case("layer_norm", lambda x, w, b: F.layer_norm(x, (16,), w, b, eps=1e-6), {"x": torch.randn(4, 3, 16) * 2 + 1, "w": torch.randn(16), "b": torch.randn(16)}, params={"eps": 1e-6}),
    case("gelu", lambda x: F.gelu(x), {"x": torch.linspace(-6, 6, 97)}),
    case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), {"x": torch.linspace(-6, 6, 97)}),
    case("cross_entropy", lambda z, labels: F.cross_entropy(z, labels), {"z": torch.randn(8, 10) * 2}, ints={"labels": torch.randint(0, 10, (8,))}),
    case("cross_entropy_smoothing", lambda z, labels: F.cross_entropy(z, labels, label_smoothing=0.1), {"z": torch.randn(8, 10) * 2}, ints={"labels": torch.randint(0, 10, (8,))}, params={"labelSmoothing": 0.1}),
]


def optimizer_case(name, make, steps=5):
    """A linear least-squares model trained a few steps; params after every step."""
    torch.manual_seed(1)
    w0 = torch.randn(4, 3)
    b0 = torch.randn(4)
    x = torch.randn(6, 3)
    target = torch.randn(6, 4)
    w = w0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    opt = make([{"params": [w]}, {"params": [b], "weight_decay": 0.0}])
    history = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w.T + b - target) ** 2).mean()
        loss.backward()
        opt.step()
        history.append({"w": t(w), "b": t(b)})
    return {"name": name, "w0": t(w0), "b0": t(b0), "x": t(x), "target": t(target), "history": history}


optim_cases = [
    optimizer_case("sgd_nesterov", lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    optimizer_case("sgd_momentum", lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.8, weight_decay=0.0)),
    optimizer_case("adamw", lambda g: torch.optim.AdamW(g, lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05)),
]

out = {"torch": torch.__version__, "cases": cases, "optim": optim_cases}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tensor-golden.json")
with open(path, "w") as f:
    json.dump(out, f)
print(f"wrote {path}: {len(cases)} op cases, {len(optim_cases)} optimizer cases (torch {torch.__version__})")
