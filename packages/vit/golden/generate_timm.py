#!/usr/bin/python3
"""Golden values for @ggem/vit's timm options, from a real PyTorch (Debian's python3-torch).

Run: /usr/bin/python3 packages/vit/golden/generate_timm.py   (writes timm-golden.safetensors)

Each variant is timm's VisionTransformer (the transcription in timm_vit.py) built from an
architecture name (its registry arguments) and model arguments, as a config.json gives them, the ones behind popular checkpoints (no class token, register tokens,
no_embed_class, LayerScale, qk_norm, pre_norm / CLIP, fc_norm off, other patch and image
sizes, dynamic image size), at a small size (D 32, 4 heads, 2 blocks, 16² images, patch 4,
5 classes), every weight random (norms and LayerScale too, so that each one matters),
evaluated in float64 on 2 images:
  <variant>.weights.<name>   the state dict (float32 values)
  <variant>.input            [2, 3, H, W]
  <variant>.logits           [2, 5]
The metadata key "variants" holds each variant's model arguments and input size (JSON).
"ggem_reg" is global_pool='avg' with python/ggem_pool.py's GGeM in place of the average.
Position embeddings (ViT-S/16's shape, the input rounded to F16 values):
  posembed.input [1, 197, 384]; posembed.384 [1, 577, 384] (224² → 384²);
  posembed.112 [1, 50, 384] (→ 112², antialiased downsampling), both with the class token kept,
as timm's resample_abs_pos_embed gives them.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))
from ggem_pool import use_ggem  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
from timm_vit import VisionTransformer, resample_abs_pos_embed  # noqa: E402

torch.manual_seed(0)
BASE = dict(img_size=16, patch_size=4, in_chans=3, num_classes=5, embed_dim=32, depth=2, num_heads=4, mlp_ratio=2.0)
# name: (architecture, model arguments in config.json, the arguments timm's registry adds for
# that architecture, input size). The registry's arguments are written out here as timm has
# them, so the TypeScript side reads them from the architecture's name.
VARIANTS = {
    "no_class_token_avg": (None, dict(class_token=False, global_pool="avg"), {}, 16),
    "reg4_gap": (
        "vit_base_patch16_reg4_gap_256",
        {},
        dict(class_token=False, reg_tokens=4, no_embed_class=True, global_pool="avg", fc_norm=False),
        16,
    ),
    "deit3": ("deit3_small_patch16_224", {}, dict(no_embed_class=True, init_values=1e-6), 16),
    "dinov2_reg": ("vit_small_patch14_reg4_dinov2", {}, dict(reg_tokens=4, no_embed_class=True, init_values=1e-5), 16),
    "qk_norm": (None, dict(qk_norm=True, qkv_bias=False), {}, 16),
    "clip": ("vit_base_patch16_clip_quickgelu_224", {}, dict(pre_norm=True, norm_eps=1e-5, act_layer="quick_gelu"), 16),
    "patch8_img32": (None, dict(patch_size=8, img_size=32, global_pool="avg"), {}, 32),
    "max_no_fc_norm": (None, dict(global_pool="max", fc_norm=False), {}, 16),
    "dynamic_24x20": (None, dict(dynamic_img_size=True), {}, (24, 20)),
    "dynamic_reg_12": (None, dict(dynamic_img_size=True, reg_tokens=2, no_embed_class=True, global_pool="avg"), {}, 12),
    "ggem_reg": (None, dict(reg_tokens=4, global_pool="avg"), {}, 16),
}


def randomise(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.5 + 0.2 * torch.randn_like(p))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias") or name in ("cls_token", "reg_token"):
                p.copy_(0.1 * torch.randn_like(p))
            elif name == "pool.p":
                p.copy_(torch.linspace(2.5, 4.0, p.numel()))
            else:
                p.copy_(0.2 * torch.randn_like(p))
            p.copy_(p.float())  # float32 values


out, meta = {}, {}
for name, (architecture, args, registry, size) in VARIANTS.items():
    model_args = {**BASE, **args}
    model = VisionTransformer(**{**registry, **model_args})
    if name == "ggem_reg":
        use_ggem(model, groups=4)
    randomise(model)
    model = model.double().eval()
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.randn(2, 3, h, w).float()
    with torch.no_grad():
        logits = model(x.double())
    for k, v in model.state_dict().items():
        out[f"{name}.weights.{k}"] = v
    out[f"{name}.input"] = x
    out[f"{name}.logits"] = logits
    meta[name] = {"architecture": architecture, "model_args": model_args, "input": [h, w], "ggem": name == "ggem_reg"}

pos = (0.02 * torch.randn(1, 197, 384)).half().float()
out["posembed.input"] = pos.half()  # stored as F16: the values are F16 values
out["posembed.384"] = resample_abs_pos_embed(pos, (24, 24), num_prefix_tokens=1)
out["posembed.112"] = resample_abs_pos_embed(pos, (7, 7), num_prefix_tokens=1)


path = os.path.join(HERE, "timm-golden.safetensors")
write_safetensors(path, out, {"variants": json.dumps(meta)})
print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes (torch {torch.__version__})")
