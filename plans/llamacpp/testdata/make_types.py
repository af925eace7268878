"""Record the ggml type of every tensor of GGUF files llama-quantize wrote.

    PYTHONPATH=llama.cpp/gguf-py python3 make_types.py OUT.json FILE.gguf [...]

Each FILE is named <plain|imat>-<RECIPE>.gguf; the JSON maps that name to
{"recipe", "imatrix", "tensor_bytes", "types": {tensor name: type name}}.
"""
import json
import os
import sys

from gguf import GGUFReader

out = {}
for path in sys.argv[2:]:
    base = os.path.basename(path)[: -len(".gguf")]
    mode, recipe = base.split("-", 1)
    r = GGUFReader(path)
    out[base] = {
        "recipe": recipe,
        "imatrix": mode == "imat",
        "tensor_bytes": int(sum(int(t.n_bytes) for t in r.tensors)),
        "types": {t.name: t.tensor_type.name.lower().replace("_k", "_K") for t in r.tensors},
    }
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")
