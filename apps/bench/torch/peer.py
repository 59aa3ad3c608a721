#!/usr/bin/python3
"""PyTorch as a benchmark peer: reads one JSON command per line on stdin, answers one
JSON line on stdout, so that the TypeScript harness can alternate engines run by run.

  {"cmd": "setup", "workload": "gem", "x": "/path/x.f32", "w": "/path/w.f32", "shape": [64,196,384], "groups": 12, "p": 3}
  {"cmd": "setup", "workload": "softmax" | "layernorm", "x": ..., "w": ..., "shape": [3200, 64]}
  {"cmd": "run"}      -> {"ms": 12.3, "result": [...]}   (one timed forward + backward)
  {"cmd": "quit"}
"""
import json
import math
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)
state = {}


def setup(msg):
    if msg["workload"] in ("softmax", "layernorm"):
        return setup_rowwise(msg)
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
        return y, p.grad

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
        return y, xr.grad

    state["run"] = run


def main():
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "setup":
            setup(msg)
            print(json.dumps({"ok": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
        elif msg["cmd"] == "run":
            t0 = time.perf_counter()
            y, g = state["run"]()
            ms = (time.perf_counter() - t0) * 1000
            print(json.dumps({"ms": ms, "result": y.reshape(-1)[:256].tolist() + g.reshape(-1)[:256].tolist()}), flush=True)
        elif msg["cmd"] == "quit":
            return


main()
