"""A minimal safetensors reader and writer (numpy only) for the golden generators and
tests/torch: written here rather than taken from the safetensors package (not a Debian
package), so the TypeScript reader is also tested on files it did not write.

  write_safetensors(path, tensors, metadata=None)
      tensors: name -> torch tensor or numpy array; uint8 arrays are stored as U8,
      float16 ones as F16, everything else as F32. The header is padded to 8 bytes.
  read_safetensors(path) -> (name -> numpy array, metadata)   (F32, F64, F16, I32, I64, U8)
"""
import json
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def _array(t):
    a = t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
    if a.dtype == np.uint8:
        return "U8", a
    if a.dtype == np.float16:
        return "F16", a
    return "F32", a.astype(np.float32)


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = ({"__metadata__": metadata} if metadata else {}), [], 0
    for k, t in tensors.items():
        dtype, a = _array(t)
        b = np.ascontiguousarray(a).tobytes()
        header[k] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (len(h) + 8) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for k, v in header.items():
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=DTYPES[v["dtype"]]).reshape(v["shape"]).copy()
    return out, meta
