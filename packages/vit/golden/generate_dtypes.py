"""Golden safetensors files for every dtype, written by hand after the format's specification
(Debian has no python3-safetensors) with the values from numpy and PyTorch (torch 1.13 has no
float8, so the FP8 dtypes are checked against the OCP spec's values in safetensors.test.ts).

  /usr/bin/python3 packages/vit/golden/generate_dtypes.py

writes dtypes.safetensors (one tensor per dtype) and dtypes.json: each tensor's values as the
reader must give them, and float32 inputs with the F16 and BF16 bits PyTorch rounds them to.
"""
import json
import warnings
import os
import struct

import numpy as np
import torch

warnings.simplefilter("ignore", RuntimeWarning)  # 70000 and 1e30 overflow to inf in float16, as they should
here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)

floats = np.array([0.0, -0.0, 1.0, -2.5, 3.1415927, 65504.0, 70000.0, 6.1e-5, 5.96e-8, 2e-8, 1e30, -1e-30, float("inf"), float("-inf")], dtype=np.float32)
floats = np.concatenate([floats, rng.standard_normal(18).astype(np.float32) * 10])
tensors = {
    "f64": (np.array([[1.0, -2.0, 1e-300], [3.5, 1e300, -0.0]], dtype=np.float64), "F64"),
    "f32": (floats.reshape(4, 8), "F32"),
    "f16": (floats.astype(np.float16), "F16"),
    "i64_step": (np.array([0, 1, -7, 2147483647, -2147483648], dtype=np.int64), "I64"),
    "i32": (np.array([[-5, 0], [9, 2**31 - 1]], dtype=np.int32), "I32"),
    "i16": (np.array([-32768, 32767, 3], dtype=np.int16), "I16"),
    "i8": (np.array([-128, 127, 0, -1], dtype=np.int8), "I8"),
    "u64": (np.array([0, 42, 2**31 - 1], dtype=np.uint64), "U64"),
    "u32": (np.array([7, 2**31 - 1], dtype=np.uint32), "U32"),
    "u16": (np.array([65535, 1], dtype=np.uint16), "U16"),
    "u8": (np.array([[0, 255], [17, 3]], dtype=np.uint8), "U8"),
    "bool": (np.array([True, False, True]), "BOOL"),
}
bf16 = torch.from_numpy(floats).to(torch.bfloat16)
raw = {k: (a.tobytes(), dt, list(a.shape)) for k, (a, dt) in tensors.items()}
raw["bf16"] = (bf16.view(torch.int16).numpy().tobytes(), "BF16", [len(floats)])

header, chunks, offset = {"__metadata__": {"generator": "generate_dtypes.py"}}, [], 0
for name, (b, dt, shape) in raw.items():
    header[name] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + len(b)]}
    chunks.append(b)
    offset += len(b)
h = json.dumps(header).encode()
h += b" " * ((8 - (len(h) + 8) % 8) % 8)
with open(os.path.join(here, "dtypes.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def values(a):
    """Floats as numbers, the infinities as "inf" / "-inf" (JSON has no infinity); integers as ints."""
    if a.dtype.kind != "f":
        return [int(v) for v in a.ravel()]
    return [float(v) if np.isfinite(v) else str(v) for v in np.asarray(a, dtype=np.float64).ravel()]


expected = {k: {"shape": list(a.shape), "values": values(a)} for k, (a, _) in tensors.items()}
expected["f16"]["values"] = values(tensors["f16"][0].astype(np.float32))
expected["bf16"] = {"shape": [len(floats)], "values": values(bf16.float().numpy())}
out = {
    "torch": torch.__version__,
    "tensors": expected,
    "rounding": {
        "inputs": values(floats),
        "f16_bits": [int(v) for v in floats.astype(np.float16).view(np.uint16)],
        "bf16_bits": [int(v) & 0xFFFF for v in bf16.view(torch.int16).numpy()],
    },
}
with open(os.path.join(here, "dtypes.json"), "w") as f:
    json.dump(out, f, indent=1)
print("wrote dtypes.safetensors and dtypes.json")
