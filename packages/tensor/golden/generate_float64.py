#!/usr/bin/python3
"""float64 golden values for @ggem/tensor's exact GELU and its derivative, over [-12, 8] and
in the far negative tail.

Run: /usr/bin/python3 packages/tensor/golden/generate_float64.py   (writes float64-golden.json beside it)

The reference is Φ(x) = erfc(-x/√2)/2 from CPython's math.erfc (accurate to about 1e-16):
gelu(x) = x·Φ(x), gelu'(x) = Φ(x) + x·φ(x). PyTorch's float64 GELU (Debian's python3-torch,
1.13) is its cross-check where it is accurate: it forms 0.5·(1 + erf(x/√2)), which cancels
in the negative tail (0 below x ≈ -8.3, derivatives 1 % off at -12), so the script asserts
agreement (1e-14 relative, 1e-15 absolute) only down to x = -2 and stores PyTorch's values there too.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
xs = [i / 16 for i in range(-12 * 16, 8 * 16 + 1)] + [-20.0, -30.0, -37.5, 1e-8, -1e-8, 1e-300]


def phi_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


y = [x * phi_cdf(x) for x in xs]
dydx = [phi_cdf(x) + x * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) for x in xs]

xt = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
yt = F.gelu(xt)
(gt,) = torch.autograd.grad(yt.sum(), xt)
checked = [i for i, x in enumerate(xs) if x >= -2]
for i in checked:
    for ref, got in ((y[i], yt[i].item()), (dydx[i], gt[i].item())):
        # 1e-15 absolute: gelu' crosses zero near x = -0.75, where Φ + xφ cancels in both
        assert abs(ref - got) <= 1e-14 * abs(ref) + 1e-15, (xs[i], ref, got)

out = {
    "torch": torch.__version__,
    "reference": "CPython math.erfc; PyTorch's float64 F.gelu agrees within 1e-14 for x >= -2",
    "gelu": {"x": xs, "y": y, "dydx": dydx},
    "torch_gelu": {"x": [xs[i] for i in checked], "y": [yt[i].item() for i in checked], "dydx": [gt[i].item() for i in checked]},
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "float64-golden.json"), "w") as f:
    json.dump(out, f)
