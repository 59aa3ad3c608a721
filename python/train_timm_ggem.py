#!/usr/bin/env python3
"""timm's training script with GeM and GGeM ViTs registered as timm models.

    torchrun --nproc_per_node=8 python/train_timm_ggem.py path/to/timm/train.py \\
        --model ggem_vit_base_patch16_224 --data-dir /data/imagenet ...   (timm's own arguments)

Registers ``ggem_<arch>`` and ``gem_<arch>`` for the plain ViT architectures below: timm's
model with ``global_pool='avg'`` (fc_norm after the pool, no final norm) and its average
replaced by GGeM (groups = heads, p = 3) or GeM, through ggem_pool.use_ggem, so that the
checkpoint's keys are this project's (``pool.p`` included). Then it runs timm's ``train.py``
(from a timm checkout: the pip package does not ship it) as ``__main__`` with the remaining
arguments; DistributedDataParallel, AMP, EMA and the rest are timm's. python/README.md is the
guide. Needs timm; not tested in this project (timm is not a Debian package): the pooling
and the key layout are, in tests/torch.
"""
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from timm.models import create_model, register_model  # noqa: E402

from ggem_pool import use_ggem  # noqa: E402

HEADS = {
    "vit_tiny_patch16_224": 3,
    "vit_small_patch16_224": 6,
    "vit_base_patch16_224": 12,
    "vit_large_patch16_224": 16,
}


def _entry(arch, groups):
    def entry(pretrained=False, **kwargs):
        kwargs["global_pool"] = "avg"
        return use_ggem(create_model(arch, pretrained=pretrained, **kwargs), groups=groups, p=3.0)

    entry.__name__ = f"{'ggem' if groups > 1 else 'gem'}_{arch}"
    return register_model(entry)


for _arch, _heads in HEADS.items():
    _entry(_arch, _heads)
    _entry(_arch, 1)

if __name__ == "__main__":
    if len(sys.argv) < 2 or not sys.argv[1].endswith(".py"):
        raise SystemExit("usage: train_timm_ggem.py path/to/timm/train.py [timm's train.py arguments]")
    script = sys.argv[1]
    sys.argv = [script] + sys.argv[2:]
    runpy.run_path(script, run_name="__main__")
