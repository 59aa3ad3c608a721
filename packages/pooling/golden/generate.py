#!/usr/bin/python3
"""Golden values for @ggem/pooling from a real PyTorch (Debian's python3-torch).

Run: /usr/bin/python3 packages/pooling/golden/generate.py   (writes pooling-golden.json)

GeM / GGeM written the usual way, x.clamp(min=eps).pow(p).mean(1).pow(1/p) with p
repeated over each group's contiguous channels, evaluated in float64 on float32 inputs
(about half of them negative, so the clamp matters), with the gradients of sum(y * w)
w.r.t. x and every p. The tests run the fused float32 kernels and compare within 1e-5
(outputs) and 1e-4 (gradients) relative. float64 is the oracle because float32 PyTorch
underflows eps^p for p > 6.3 (FACTS.md).
"""
import json
import math
import os

import torch

torch.manual_seed(0)
EPS = 1e-6


def f32(t):
    return [float("%.9g" % v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def ggem(x, p, eps=EPS):
    c = x.shape[2]
    k = math.ceil(c / p.shape[0])
    pc = p.repeat_interleave(k)[:c]
    return x.clamp(min=eps).pow(pc).mean(1).pow(1.0 / pc)


cases = []
for c in (16, 18):
    for g in ((1, 2, 4, 16) if c == 16 else (1, 2, 4)):
        for p0 in (1.0, 3.0, 7.5):
            x = (torch.randn(3, 10, c) * 1.5).to(torch.float32)
            p = torch.full((g,), p0, dtype=torch.float32)
            if g > 1 and p0 == 3.0:
                p = p + torch.linspace(-0.5, 0.5, g)  # groups with their own p
            xd = x.double().requires_grad_(True)
            pd = p.double().requires_grad_(True)
            y = ggem(xd, pd)
            w = torch.randn(y.shape).double()
            (y * w).sum().backward()
            cases.append({
                "name": f"C{c}_G{g}_p{p0}",
                "x": {"shape": list(x.shape), "data": f32(x)},
                "p": f32(p),
                "w": f32(w),
                "y": f32(y),
                "dx": f32(xd.grad),
                "dp": f32(pd.grad),
            })

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pooling-golden.json")
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, "eps": EPS, "cases": cases}, f)
print(f"wrote {path}: {len(cases)} cases (torch {torch.__version__})")
