package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Vocab is a tokenizer as GGUF metadata describes it.
type Vocab struct {
	Model, Pre string   // tokenizer.ggml.model, tokenizer.ggml.pre
	Tokens     []string // tokenizer.ggml.tokens: id → token text
	Types      []int32  // tokenizer.ggml.token_type; nil means all normal
	Merges     []string // tokenizer.ggml.merges: "a b", by rank
	// tokenizer.ggml.bos_token_id, eos_token_id, padding_token_id,
	// unknown_token_id; -1 when absent.
	BOS, EOS, PAD, UNK int
}

// Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
const (
	TokenNormal      int32 = 1
	TokenUnknown     int32 = 2
	TokenControl     int32 = 3
	TokenUserDefined int32 = 4
	TokenUnused      int32 = 5
	TokenByte        int32 = 6
)

// The GGUF metadata keys, as error messages name them.
const (
	ggufModel  = "tokenizer.ggml.model"
	ggufPre    = "tokenizer.ggml.pre"
	ggufTokens = "tokenizer.ggml.tokens"
	ggufTypes  = "tokenizer.ggml.token_type"
	ggufMerges = "tokenizer.ggml.merges"
)

// ggufPreTokenizer is what a tokenizer.ggml.pre name stands for: the
// pre_tokenizer of the tokenizer.json that llama.cpp's converter gives that
// name, and llama.cpp's ignore_merges for it.
type ggufPreTokenizer struct {
	preTokenizer json.RawMessage
	ignoreMerges bool
}

// ggufPres holds the names whose pipeline this package runs exactly: HF's
// pre-tokenizer is a Split by a pattern the scanner knows followed by
// ByteLevel, with a null normalizer. Names llama.cpp knows but that are not
// here need something this package lacks (a normalizer such as Qwen2's and
// GPT-NeoX's NFC, a ByteLevel that is not last, other pre-tokenizer types)
// or are not certain to be such a pipeline.
var ggufPres = func() map[string]ggufPreTokenizer {
	split := func(pattern string) map[string]any {
		return map[string]any{"type": "Split", "pattern": map[string]any{"Regex": pattern}, "behavior": "Isolated", "invert": false}
	}
	byteLevel := func(useRegex bool) map[string]any {
		return map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": useRegex}
	}
	enc := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	// Llama-3's tokenizer.json (and Nemotron-H's); llama.cpp sets
	// ignore_merges for this pre type, as Llama-3's file does.
	llama3 := ggufPreTokenizer{
		preTokenizer: enc(map[string]any{"type": "Sequence", "pretokenizers": []any{split(patternLlama3), byteLevel(false)}}),
		ignoreMerges: true,
	}
	// GPT-2's tokenizer.json: ByteLevel alone, with its regex.
	gpt2 := ggufPreTokenizer{preTokenizer: enc(byteLevel(true))}
	return map[string]ggufPreTokenizer{
		"llama-bpe": llama3, // what the converter writes for Llama-3
		"llama3":    llama3,
		"llama-v3":  llama3,
		"gpt-2":     gpt2,
		"default":   gpt2,
	}
}()

// KnownGGUFPres are the tokenizer.ggml.pre values FromVocab accepts, sorted.
func KnownGGUFPres() []string {
	names := make([]string, 0, len(ggufPres))
	for n := range ggufPres {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// FromVocab builds a tokenizer from GGUF tokenizer metadata; name identifies
// it in error messages (the GGUF path, typically). The result is the
// *Tokenizer Parse gives for the tokenizer.json the GGUF was converted from,
// as far as the metadata determines it:
//
//   - Model must be "gpt2" (byte-level BPE) and Pre one of KnownGGUFPres;
//     Pre selects the split pattern and, as in llama.cpp, ignore_merges
//     (true for the Llama-3 names);
//   - normal tokens form the BPE vocabulary (text in the byte-level
//     alphabet); Merges are "a b" lines by rank, both halves and their
//     concatenation being tokens (a repeated pair keeps its last rank, as HF
//     does; llama.cpp keeps the first);
//   - control, unknown and user-defined tokens are the added tokens (the
//     converter marks HF's added tokens so: special ones control, others
//     user-defined): matched literally in the text, leftmost-longest as HF
//     does, before pre-tokenization, with no lstrip/rstrip/single_word (the
//     GGUF keeps none of these flags); user-defined ones are
//     normalized=true, the others false, HF's defaults;
//   - unused tokens (the converter's "[PADn]" for ids HF's vocabulary lacks)
//     are ids without a token, as in HF: never produced, decoded to nothing;
//   - byte tokens (type 6, byte fallback) are refused, as Parse refuses
//     byte_fallback;
//   - BOS, EOS, PAD and UNK are the metadata ids; where absent, the token is
//     found by content as Parse does. The BPE model has no unk token (HF's
//     byte-level files have none; llama.cpp's BPE never emits one): bytes
//     without a token are dropped.
//
// Every inconsistency (a length mismatch, a malformed merge, a duplicate or
// empty token, an unknown token type, an out-of-range id, an unsupported
// model or pre) is an error naming name and the metadata key.
func FromVocab(v *Vocab, name string) (*Tokenizer, error) {
	if v == nil {
		return nil, fmt.Errorf("tokenizer: %s: no tokenizer metadata", name)
	}
	switch v.Model {
	case "gpt2":
	case "":
		return nil, loadError(name, ggufModel, "missing (only \"gpt2\", byte-level BPE, is supported)")
	default:
		return nil, loadError(name, ggufModel, "model %q is not supported (only \"gpt2\", byte-level BPE)", v.Model)
	}
	known := strings.Join(KnownGGUFPres(), ", ")
	pre, ok := ggufPres[v.Pre]
	if !ok {
		if v.Pre == "" {
			return nil, loadError(name, ggufPre, "missing (known: %s)", known)
		}
		return nil, loadError(name, ggufPre, "pre-tokenizer %q is not supported (known: %s)", v.Pre, known)
	}
	steps, err := buildPreTokenizer(name, pre.preTokenizer)
	if err != nil {
		return nil, err // only if the table above is wrong
	}

	n := len(v.Tokens)
	switch {
	case n == 0:
		return nil, loadError(name, ggufTokens, "missing or empty")
	case n > 1<<30:
		return nil, loadError(name, ggufTokens, "%d tokens is too many", n)
	case v.Types != nil && len(v.Types) != n:
		return nil, loadError(name, ggufTypes, "%d token types for %d tokens (%s)", len(v.Types), n, ggufTokens)
	}
	tk := &Tokenizer{name: name, steps: steps, model: new(bpe)}
	tk.tokens = make([]string, n)
	tk.used = make([]bool, n)
	tk.vocab = make(map[string]int, n)
	seen := make(map[string]int, n)
	var added []addedToken
	for id, tok := range v.Tokens {
		typ := TokenNormal
		if v.Types != nil {
			typ = v.Types[id]
		}
		field := fmt.Sprintf("%s[%d]", ggufTokens, id)
		if tok == "" {
			return nil, loadError(name, field, "empty token")
		}
		if prev, dup := seen[tok]; dup {
			return nil, loadError(name, field, "%q is also token %d", tok, prev)
		}
		seen[tok] = id
		switch typ {
		case TokenNormal:
		case TokenControl, TokenUnknown, TokenUserDefined:
			added = append(added, addedToken{
				ID: id, Content: tok,
				Special: typ != TokenUserDefined, Normalized: typ == TokenUserDefined,
			})
		case TokenUnused:
			continue
		case TokenByte:
			return nil, loadError(name, fmt.Sprintf("%s[%d]", ggufTypes, id), "token %q is a byte token (type 6): byte fallback is not supported", tok)
		default:
			return nil, loadError(name, fmt.Sprintf("%s[%d]", ggufTypes, id), "token %q has type %d (want 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused or 6 byte)", tok, typ)
		}
		tk.vocab[tok] = id
		tk.tokens[id], tk.used[id] = tok, true
	}

	merges := make([][2]string, len(v.Merges))
	for i, line := range v.Merges {
		p, ok := splitMerge(line)
		if !ok {
			return nil, loadError(name, fmt.Sprintf("%s[%d]", ggufMerges, i), "%q is not two tokens separated by one space", line)
		}
		merges[i] = p
	}
	md := tk.model
	md.ignoreMerges = pre.ignoreMerges
	md.unkID = -1
	md.setByteIDs(tk.vocab)
	if err := md.setMerges(name, ggufMerges, ggufTokens, tk.vocab, merges); err != nil {
		return nil, err
	}
	md.finish(tk.vocab)
	if err := tk.buildAdded(name, added); err != nil {
		return nil, err
	}

	special := func(id int, key string, cands []string) (int, error) {
		switch {
		case id == -1:
			return tk.lookup(cands...), nil
		case id < 0 || id >= n:
			return 0, loadError(name, "tokenizer.ggml."+key, "id %d out of range (%d tokens)", id, n)
		}
		return id, nil
	}
	if tk.bos, err = special(v.BOS, "bos_token_id", bosNames); err != nil {
		return nil, err
	}
	if tk.eos, err = special(v.EOS, "eos_token_id", eosNames); err != nil {
		return nil, err
	}
	if tk.pad, err = special(v.PAD, "padding_token_id", padNames); err != nil {
		return nil, err
	}
	if tk.unk, err = special(v.UNK, "unknown_token_id", unkNames); err != nil {
		return nil, err
	}
	return tk, nil
}
