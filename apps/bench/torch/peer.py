#!/usr/bin/python3
"""PyTorch as a benchmark peer: reads one JSON command per line on stdin, answers one
JSON line on stdout, so that the TypeScript harness can alternate engines run by run.

  {"cmd": "setup", "workload": "gem", "x": "/path/x.f32", "w": "/path/w.f32", "shape": [64,196,384], "groups": 12, "p": 3}
  {"cmd": "setup", "workload": "softmax" | "layernorm", "x": ..., "w": ..., "shape": [3200, 64]}
  {"cmd": "setup", "workload": "vit", "mode": "step" | "forward", "spec": {...}, "weights": [[name, shape, path], ...],
   "x": ..., "labels": ...}   (the benchmark ViT, built with timm's parameter names)
  {"cmd": "export", "spec": {...}, "weights": [...], "path": "/path/vit.onnx"}
                      the benchmark ViT's forward as ONNX (opset 14, the batch dimension dynamic)
  {"cmd": "run"}      -> {"ms": 12.3, "result": [...]}   (one timed run)
  {"cmd": "memory"}   -> {"maxRssMB": 123.4}              (this process's peak resident set)
  {"cmd": "quit"}
"""
import json
import math
import resource
import sys
import time
import warnings

import numpy as np
import torch

torch.set_num_threads(1)
state = {}


def setup(msg):
    if msg["workload"] in ("softmax", "layernorm"):
        return setup_rowwise(msg)
    if msg["workload"] == "vit":
        return setup_vit(msg)
    shape = msg["shape"]
    x = torch.from_numpy(np.fromfile(msg["x"], dtype=np.float32).reshape(shape))
    w = torch.from_numpy(np.fromfile(msg["w"], dtype=np.float32).reshape(shape[0], shape[2]))
    g, c, eps = msg["groups"], shape[2], msg.get("eps", 1e-6)
    k = math.ceil(c / g)

    def run():
        xr = x.clone().requires_grad_(True)
        p = torch.full((g,), float(msg["p"]), requires_grad=True)
        pc = p.repeat_interleave(k)[:c]
        # the usual GeM: clamp, pow, mean over tokens, pow(1/p), with autograd
        y = xr.clamp(min=eps).pow(pc).mean(1).pow(1.0 / pc)
        (y * w).sum().backward()
        return summary(y, p.grad)

    state["run"] = run


def setup_rowwise(msg):
    """softmax or layerNorm over the last dim of x [rows, d], forward + backward of sum(y * w)."""
    shape = msg["shape"]
    x = torch.from_numpy(np.fromfile(msg["x"], dtype=np.float32).reshape(shape))
    w = torch.from_numpy(np.fromfile(msg["w"], dtype=np.float32).reshape(shape))
    d = shape[-1]
    gamma = torch.ones(d, requires_grad=True)
    beta = torch.zeros(d, requires_grad=True)

    def run():
        xr = x.clone().requires_grad_(True)
        if msg["workload"] == "softmax":
            y = xr.softmax(-1)
        else:
            y = torch.nn.functional.layer_norm(xr, (d,), gamma, beta, eps=1e-6)
        (y * w).sum().backward()
        return summary(y, xr.grad)

    state["run"] = run


def summary(y, g):
    return y.reshape(-1)[:256].tolist() + g.reshape(-1)[:256].tolist()


class Block(torch.nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        nn = torch.nn
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d)
        self.attn.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, hidden)
        self.mlp.fc2 = nn.Linear(hidden, d)

    def forward(self, x):
        b, n, d = x.shape
        h = self.heads
        q, k, v = self.attn.qkv(self.norm1(x)).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        a = ((q * (d // h) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        x = x + self.attn.proj((a @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.mlp.fc2(torch.nn.functional.gelu(self.mlp.fc1(self.norm2(x))))


class ViT(torch.nn.Module):
    """The benchmark ViT (timm's names and layout; exact GELU, pre-norm, LayerNorm eps 1e-6)."""

    def __init__(self, s):
        super().__init__()
        nn = torch.nn
        d, n = s["dim"], (s["img"] // s["patch"]) ** 2
        self.pooling = s["pooling"]
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(s["inChans"], d, s["patch"], s["patch"])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, d))
        self.blocks = nn.ModuleList([Block(d, s["heads"], s["hidden"]) for _ in range(s["depth"])])
        if self.pooling == "token":
            self.norm = nn.LayerNorm(d, eps=1e-6)
        else:
            self.fc_norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, s["classes"])

    def forward(self, x):
        t = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], 1) + self.pos_embed
        for blk in self.blocks:
            t = blk(t)
        f = self.norm(t)[:, 0] if self.pooling == "token" else self.fc_norm(t[:, 1:].mean(1))
        return self.head(f)


def load_vit(msg):
    model = ViT(msg["spec"])
    weights = {name: torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(shape)) for name, shape, path in msg["weights"]}
    model.load_state_dict(weights, strict=True)
    return model


def export_onnx(msg):
    """The forward pass as ONNX for onnxruntime: input x [batch, C, H, W], output logits."""
    s = msg["spec"]
    model = load_vit(msg).eval()
    x = torch.zeros(1, s["inChans"], s["img"], s["img"])
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # the unpacking of qkv: shapes are fixed but the batch
    with torch.no_grad():
        torch.onnx.export(
            model, (x,), msg["path"], input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=14
        )


def setup_vit(msg):
    s = msg["spec"]
    model = load_vit(msg)
    x = torch.from_numpy(np.fromfile(msg["x"], dtype=np.float32).reshape(s["batch"], s["inChans"], s["img"], s["img"]))
    labels = torch.from_numpy(np.fromfile(msg["labels"], dtype=np.int32).astype(np.int64))
    if msg["mode"] == "forward":
        model.eval()

        def run():
            with torch.no_grad():
                return model(x).reshape(-1)[:256].tolist()

        state["run"] = run
        return
    a = msg["adamw"]
    opt = torch.optim.AdamW(model.parameters(), lr=a["lr"], betas=(a["beta1"], a["beta2"]), eps=a["eps"], weight_decay=a["weightDecay"])
    params = dict(model.named_parameters())

    def run():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        check = [loss.item()] + [v for name in msg["checked"] for v in params[name].grad.reshape(-1)[:16].tolist()]
        opt.step()
        return check

    state["run"] = run


def main():
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "setup":
            setup(msg)
            print(json.dumps({"ok": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
        elif msg["cmd"] == "export":
            export_onnx(msg)
            print(json.dumps({"ok": True}), flush=True)
        elif msg["cmd"] == "run":
            t0 = time.perf_counter()
            result = state["run"]()
            ms = (time.perf_counter() - t0) * 1000
            print(json.dumps({"ms": ms, "result": result}), flush=True)
        elif msg["cmd"] == "memory":
            print(json.dumps({"maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
        elif msg["cmd"] == "quit":
            return


main()
