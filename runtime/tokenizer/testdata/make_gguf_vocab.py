#!/usr/bin/env python3
"""Extract a GGUF file's tokenizer metadata as JSON, for tokenizer.FromVocab.

The JSON object has the fields of the Go type tokenizer.Vocab: Model, Pre,
Tokens, Types, Merges (from tokenizer.ggml.model, .pre, .tokens,
.token_type, .merges) and BOS, EOS, PAD, UNK (from tokenizer.ggml.
bos_token_id, eos_token_id, padding_token_id, unknown_token_id; -1 when the
key is absent). Nothing is interpreted or changed: the values are what the
file holds. Reading uses llama.cpp's gguf-py (not part of this repository).

usage (from the repository root):
  PYTHONPATH=/work/llama/gguf-py /usr/bin/python3 \
      runtime/tokenizer/testdata/make_gguf_vocab.py \
      /work/shared/reference/nemotron-h-mini.bf16.gguf \
      runtime/tokenizer/testdata/nemotron-h-mini.gguf-vocab.json
"""
import json
import sys

import gguf
from gguf import GGUFValueType as T


def field(reader, key, types, required=True):
    f = reader.fields.get(key)
    if f is None:
        if required:
            sys.exit(f"{key}: missing")
        return None
    if list(f.types) != types:
        sys.exit(f"{key}: type {f.types}, want {types}")
    return f.contents()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    r = gguf.GGUFReader(src)
    v = {
        "Model": field(r, "tokenizer.ggml.model", [T.STRING]),
        "Pre": field(r, "tokenizer.ggml.pre", [T.STRING], required=False) or "",
        "Tokens": field(r, "tokenizer.ggml.tokens", [T.ARRAY, T.STRING]),
        "Types": field(r, "tokenizer.ggml.token_type", [T.ARRAY, T.INT32], required=False),
        "Merges": field(r, "tokenizer.ggml.merges", [T.ARRAY, T.STRING], required=False) or [],
    }
    for name, key in [("BOS", "bos_token_id"), ("EOS", "eos_token_id"),
                      ("PAD", "padding_token_id"), ("UNK", "unknown_token_id")]:
        x = field(r, "tokenizer.ggml." + key, [T.UINT32], required=False)
        v[name] = -1 if x is None else int(x)
    if v["Types"] is not None:
        v["Types"] = [int(t) for t in v["Types"]]
    # One list element per line (tokens, merges) keeps diffs readable.
    with open(dst, "w", encoding="utf-8") as out:
        out.write("{\n")
        items = list(v.items())
        for i, (k, x) in enumerate(items):
            out.write(f" {json.dumps(k)}: ")
            if k in ("Tokens", "Merges"):
                out.write("[\n" + ",\n".join("  " + json.dumps(s, ensure_ascii=False) for s in x) + "\n ]")
            else:
                out.write(json.dumps(x, ensure_ascii=False, separators=(",", ":")))
            out.write(",\n" if i + 1 < len(items) else "\n")
        out.write("}\n")
    # The file must read back as what was extracted.
    with open(dst, encoding="utf-8") as f:
        if json.load(f) != v:
            sys.exit(f"{dst}: does not read back as written")
    print(f"{dst}: {len(v['Tokens'])} tokens, {len(v['Merges'])} merges, "
          f"model {v['Model']!r}, pre {v['Pre']!r}, "
          f"BOS {v['BOS']} EOS {v['EOS']} PAD {v['PAD']} UNK {v['UNK']}")


if __name__ == "__main__":
    main()
