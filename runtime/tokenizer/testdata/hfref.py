#!/usr/bin/env python3
"""Independent reference used to cross-check the Go tokenizer by hand.

It re-implements the Hugging Face pipeline for a tokenizer.json like
Nemotron-H's, with different machinery: added tokens by a longest-first scan,
the Split regex by the third-party `regex` module (a third regex engine, with
Unicode \\p{..}, (?i) and lookahead), and the classic GPT-2 `bpe()` loop
(merge every occurrence of the best-ranked pair, repeat) instead of HF's
priority queue. Not used by `go test`; expected values in the Go tests that
come from here say so.

usage: hfref.py tokenizer.json < inputs.json   (a JSON list of strings)
prints a JSON list of id lists.
"""
import json
import sys

import regex


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def main():
    tok = json.load(open(sys.argv[1], encoding="utf-8"))
    model = tok["model"]
    vocab = model["vocab"]
    ranks = {}
    for i, m in enumerate(model["merges"]):
        a, b = m.split(" ") if isinstance(m, str) else m
        ranks[(a, b)] = i
    pats = [p["pattern"]["Regex"] for p in tok["pre_tokenizer"]["pretokenizers"] if p["type"] == "Split"]
    assert len(pats) == 1
    pat = regex.compile(pats[0])
    added = {t["content"]: t["id"] for t in tok["added_tokens"]}
    b2u = bytes_to_unicode()
    cache = {}

    def bpe(word):
        if word in cache:
            return cache[word]
        parts = list(word)
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda i: (ranks.get((parts[i], parts[i + 1]), 1 << 60), i))
            pair = (parts[best], parts[best + 1])
            if pair not in ranks:
                break
            out, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == pair:
                    out.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        ids = [vocab[p] for p in parts]
        cache[word] = ids
        return ids

    def encode_text(s):
        ids = []
        for m in pat.finditer(s):
            piece = m.group(0)
            if piece:
                ids += bpe("".join(b2u[b] for b in piece.encode("utf-8")))
        return ids

    def encode(s):
        ids, start, i = [], 0, 0
        longest = sorted(added, key=len, reverse=True)
        while i < len(s):
            hit = next((a for a in longest if s.startswith(a, i)), None)
            if hit is None:
                i += 1
                continue
            ids += encode_text(s[start:i])
            ids.append(added[hit])
            i += len(hit)
            start = i
        return ids + encode_text(s[start:])

    inputs = json.load(sys.stdin)
    json.dump([encode(s) for s in inputs], sys.stdout)


if __name__ == "__main__":
    main()
