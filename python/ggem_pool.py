"""GeM and GGeM pooling for PyTorch and timm's VisionTransformer: the maths of @ggem/pooling.

Checkpoints move both ways between this project and timm: the pooling's parameter is
``pool.p`` (shape ``[G]``; ``[1]`` for GeM) and everything else keeps timm's names. A model
trained here with ``pooling: 'gem' | 'ggem'`` pools the last block's patch tokens (no final
``norm``), then ``fc_norm`` and ``head``: in timm that is ``global_pool='avg'`` (which gives
``fc_norm`` and no ``norm``) with the average replaced by GGeM::

    import timm
    from ggem_pool import use_ggem

    model = timm.create_model("vit_small_patch16_224", global_pool="avg", num_classes=10)
    use_ggem(model, groups=6, p=3.0)      # groups = heads, as the paper suggests; 1 = GeM
    model.load_state_dict(state)          # a state dict with pool.p, e.g. from this project

The pooling (SPEC §1): with x the patch tokens ``[B, N, C]`` and channel c in group
g(c) = floor(c / ceil(C / G)),

    y[b, c] = ( mean_t max(x[b, t, c], eps) ** p[g(c)] ) ** (1 / p[g(c)])

p is clipped to [p_min, p_max] in the forward (gradient 0 outside, as for clamp). The
forward scales by the per-channel max before the power (y does not depend on it), so
x ** p cannot overflow for a large p. Needs only torch; timm is needed only to build the
model it plugs into.
"""
import math
import types

import torch
import torch.nn as nn

__all__ = ["GGeM", "GeM", "ggem", "use_ggem"]

DEFAULT_EPS = 1e-6
DEFAULT_P_MIN = 1e-3
DEFAULT_P_MAX = 1e3


def channel_groups(channels: int, groups: int, device=None) -> torch.Tensor:
    """The group of each channel, floor(c / ceil(C / G)), as @ggem/pooling assigns them."""
    if groups < 1 or groups > channels:
        raise ValueError(f"ggem: {groups} groups do not fit {channels} channels (1 <= G <= C)")
    size = math.ceil(channels / groups)
    if math.ceil(channels / size) != groups:
        raise ValueError(f"ggem: {channels} channels cannot be split into {groups} groups of ceil(C/G) = {size} channels")
    return torch.arange(channels, device=device) // size


def ggem(x: torch.Tensor, p: torch.Tensor, eps=DEFAULT_EPS, p_min=DEFAULT_P_MIN, p_max=DEFAULT_P_MAX, start=0) -> torch.Tensor:
    """GGeM of tokens ``x`` ``[B, N, C]`` over the tokens from ``start`` on, one p per group (``p`` ``[G]``)."""
    if x.dim() != 3:
        raise ValueError(f"ggem: expected tokens of shape [B, N, C], got {list(x.shape)}")
    if p.dim() != 1:
        raise ValueError(f"ggem: expected p of shape [G], got {list(p.shape)}")
    if not 0 <= start < x.shape[1]:
        raise ValueError(f"ggem: start {start} leaves no token to pool in {list(x.shape)}")
    xc = x[:, start:].clamp(min=eps)
    pc = p.clamp(p_min, p_max).to(x.dtype)[channel_groups(x.shape[2], p.shape[0], x.device)]  # [C]
    m = xc.amax(dim=1, keepdim=True).detach()
    return (xc / m).pow(pc).mean(dim=1).pow(1.0 / pc) * m.squeeze(1)


class GGeM(nn.Module):
    """GGeM pooling of a ViT's token sequence ``[B, prefix + N, C]``: the prefix tokens (class, registers) are skipped."""

    def __init__(self, dim: int, groups: int, p: float = 3.0, eps=DEFAULT_EPS, p_min=DEFAULT_P_MIN, p_max=DEFAULT_P_MAX, num_prefix_tokens=1, train_p=True):
        super().__init__()
        channel_groups(dim, groups)  # checks the split
        self.dim, self.groups, self.eps, self.p_min, self.p_max = dim, groups, eps, p_min, p_max
        self.num_prefix_tokens = num_prefix_tokens
        self.p = nn.Parameter(torch.full((groups,), float(p)), requires_grad=train_p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.dim:
            raise ValueError(f"GGeM: expected {self.dim} channels, got tokens of shape {list(x.shape)}")
        return ggem(x, self.p, self.eps, self.p_min, self.p_max, start=self.num_prefix_tokens)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, groups={self.groups}, prefix={self.num_prefix_tokens}"


class GeM(GGeM):
    """GeM: one p for every channel (``pool.p`` has shape ``[1]``)."""

    def __init__(self, dim: int, p: float = 3.0, **kwargs):
        super().__init__(dim, 1, p, **kwargs)


def _forward_head(self, x, pre_logits: bool = False):
    # timm's VisionTransformer.forward_head (1.0), with its global pool replaced by the module;
    # timm 0.9 inlined the pooling here, so this works with both
    x = self._modules["pool"](x)
    x = self.fc_norm(x)
    x = self.head_drop(x)
    return x if pre_logits else self.head(x)


def use_ggem(model: nn.Module, groups: int, p: float = 3.0, **kwargs) -> nn.Module:
    """Replaces a timm ``VisionTransformer``'s global pool by GGeM (``groups=1``: GeM), in place.

    The model must pool the patch tokens with ``fc_norm`` after the pool and no final
    ``norm`` before it: timm's ``global_pool='avg'`` (or ``'max'``), the layout this
    project's gem and ggem models have. The module is registered as ``pool`` (state-dict key
    ``pool.p``; ``model.pool`` is the module, in place of timm's ``pool()`` method), and
    ``forward_head`` calls it; every other key is unchanged.
    """
    for attr in ("embed_dim", "num_prefix_tokens", "fc_norm", "norm", "head", "head_drop"):
        if not hasattr(model, attr):
            raise TypeError(f"use_ggem: expected a timm VisionTransformer, {type(model).__name__} has no {attr}")
    if getattr(model, "global_pool", "avg") not in ("avg", "max") or isinstance(model.fc_norm, nn.Identity) or not isinstance(model.norm, nn.Identity):
        raise ValueError(
            "use_ggem: the model must pool patch tokens before fc_norm, with no final norm: build it with "
            "global_pool='avg' (timm then makes fc_norm and no norm), as this project's gem and ggem models are"
        )
    kwargs.setdefault("num_prefix_tokens", model.num_prefix_tokens)
    pool = GGeM(model.embed_dim, groups, p, **kwargs)
    model._modules["pool"] = pool  # in the state dict and in .to(), .double(), .parameters()
    object.__setattr__(model, "pool", pool)  # model.pool: the module, not timm's pool() method
    model.forward_head = types.MethodType(_forward_head, model)
    return model
