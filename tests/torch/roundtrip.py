#!/usr/bin/python3
"""The PyTorch side of torch.test.ts: a GGeM ViT trained in this project goes to timm, and back.

  roundtrip.py DIR GROUPS   reads DIR/ours.safetensors (weights saved here, the input x and
                            this project's logits), builds timm's VisionTransformer
                            (global_pool='avg') with python/ggem_pool.py's use_ggem, loads
                            the weights strictly, checks the logits (1e-5), trains 5 AdamW
                            steps in torch, and writes DIR/torch.safetensors (its state dict,
                            logits_after on x).
timm is not a Debian package: packages/vit/golden/timm_vit.py, a transcription of timm 1.0's
VisionTransformer, stands in for it (same names, pool() method and forward_head).
"""
import os
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "packages", "vit", "golden"))
from ggem_pool import use_ggem  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from timm_vit import VisionTransformer  # noqa: E402

out_dir, groups = sys.argv[1], int(sys.argv[2])
ours = {k: torch.from_numpy(v) for k, v in read_safetensors(os.path.join(out_dir, "ours.safetensors"))[0].items()}
inputs = {k: torch.from_numpy(v) for k, v in read_safetensors(os.path.join(out_dir, "inputs.safetensors"))[0].items()}
x, labels, logits_here = inputs["x"], inputs["labels"].long(), inputs["logits"]

model = VisionTransformer(img_size=28, patch_size=4, in_chans=1, num_classes=10, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0, global_pool="avg")
try:
    use_ggem(VisionTransformer(img_size=28, patch_size=4, in_chans=1, num_classes=10, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0), groups)
    raise SystemExit("use_ggem accepted a token-pooling model")
except ValueError as e:
    assert "global_pool='avg'" in str(e), e
use_ggem(model, groups=groups)
model.load_state_dict(ours, strict=True)  # every key, pool.p included, and none more
model.eval()
with torch.no_grad():
    logits = model(x)
err = ((logits - logits_here).abs().max() / logits_here.abs().max()).item()
assert err < 1e-5, f"logits in torch differ from this project's by {err} (relative to the largest)"
print(f"here -> torch: logits within {err:.2e}; pool.p {model.pool.p.tolist()}")

model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
for _ in range(5):
    opt.zero_grad()
    F.cross_entropy(model(x), labels).backward()
    opt.step()
model.eval()
with torch.no_grad():
    after = model(x)
write_safetensors(os.path.join(out_dir, "torch.safetensors"), {**model.state_dict(), "logits_after": after})
print(f"torch trained 5 steps: pool.p {model.pool.p.tolist()}")
