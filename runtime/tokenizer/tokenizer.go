// Package tokenizer loads a Hugging Face tokenizer.json whose model is a
// byte-level BPE (GPT-2, Llama-3, Nemotron-H style) and encodes and decodes
// text exactly as the Hugging Face tokenizers library does with
// add_special_tokens=False and skip_special_tokens=False.
//
// The supported pipeline is:
//
//   - normalizer: null;
//   - added tokens: matched literally in the text before pre-tokenization
//     (leftmost-longest; single_word, lstrip, rstrip and normalized honoured);
//   - pre_tokenizer: Split (Regex or String pattern, any behavior, invert)
//     steps, possibly in a Sequence, ending with ByteLevel
//     (add_prefix_space=false; use_regex true or false);
//   - model: BPE on the byte-level alphabet, merges applied by rank with
//     HF's queue algorithm; unk_token/fuse_unk and ignore_merges supported;
//   - decoder: ByteLevel.
//
// Anything else (other normalizers, pre-tokenizer types, decoders,
// byte_fallback, dropout, subword prefixes/suffixes, truncation, padding)
// makes Load fail with an error naming the file and the JSON field. The
// post_processor is read past: it only adds special tokens and offsets,
// which Encode never does.
//
// FromVocab builds the same tokenizer from a GGUF file's tokenizer metadata
// (see Vocab).
//
// Split regexes of the GPT-2 / cl100k (Llama-3) family are run by a
// hand-written scanner; any other regex by regexp2. Tests check that the two
// agree. Unicode character classes follow the Go toolchain's Unicode tables
// (15.0 for Go 1.26), the Oniguruma inside HF tokenizers may be a version
// behind: characters assigned in the newest Unicode versions can classify
// differently.
package tokenizer

import (
	"encoding/json"
	"fmt"
	"github.com/hyquant/hyquant/internal/parallel"
	"os"
	"runtime"
	"sync"
)

// Tokenizer is a loaded tokenizer. It is safe for concurrent use.
type Tokenizer struct {
	name     string
	model    *bpe
	steps    []*splitStep
	added    []addedToken
	rawTrie  *trie
	normTrie *trie

	addedIDs  map[string]int // added token content → id
	vocab     map[string]int // model vocabulary
	tokens    []string       // id → token ("" where the id is unused)
	used      []bool
	decodeRaw [][]byte // id → bytes the ByteLevel decoder emits

	bos, eos, unk, pad int
}

// Load reads and parses a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return Parse(data, path)
}

// Parse parses the contents of a tokenizer.json; name identifies it in
// error messages.
func Parse(data []byte, name string) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", name, err)
	}
	if !isNull(f.Truncation) {
		return nil, loadError(name, "truncation", "must be null (truncation is not supported)")
	}
	if !isNull(f.Padding) {
		return nil, loadError(name, "padding", "must be null (padding is not supported)")
	}
	if !isNull(f.Normalizer) {
		return nil, loadError(name, "normalizer", "normalizer %q is not supported (only null)", jsonType(f.Normalizer))
	}
	if isNull(f.Decoder) {
		return nil, loadError(name, "decoder", "null is not supported (only ByteLevel)")
	}
	var dec decoderJSON
	if err := json.Unmarshal(f.Decoder, &dec); err != nil {
		return nil, loadError(name, "decoder", "%v", err)
	}
	if dec.Type != "ByteLevel" {
		return nil, loadError(name, "decoder.type", "decoder %q is not supported (only ByteLevel)", dec.Type)
	}
	steps, err := buildPreTokenizer(name, f.PreTokenizer)
	if err != nil {
		return nil, err
	}
	tk := &Tokenizer{name: name, steps: steps, model: new(bpe)}
	if err := tk.buildModel(name, f.Model); err != nil {
		return nil, err
	}
	if err := tk.buildAdded(name, f.AddedTokens); err != nil {
		return nil, err
	}
	tk.bos = tk.lookup(bosNames...)
	tk.eos = tk.lookup(eosNames...)
	tk.unk = tk.lookup(unkNames...)
	if tk.model.unkID >= 0 {
		tk.unk = int(tk.model.unkID)
	}
	tk.pad = tk.lookup(padNames...)
	return tk, nil
}

// The contents by which special tokens are found when the file does not
// give their ids.
var (
	bosNames = []string{"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"}
	eosNames = []string{"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"}
	unkNames = []string{"<unk>", "[UNK]", "<|unk|>"}
	padNames = []string{"<pad>", "[PAD]", "<|pad|>"}
)

func (tk *Tokenizer) buildModel(name string, raw json.RawMessage) error {
	if isNull(raw) {
		return loadError(name, "model", "missing")
	}
	var m modelJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return loadError(name, "model", "%v", err)
	}
	switch {
	case m.Type == nil:
		return loadError(name, "model.type", "missing (only BPE is supported)")
	case *m.Type != "BPE":
		return loadError(name, "model.type", "model %q is not supported (only BPE)", *m.Type)
	case m.Dropout != nil && *m.Dropout != 0:
		return loadError(name, "model.dropout", "BPE dropout %v is not supported (only null)", *m.Dropout)
	case m.ByteFallback:
		return loadError(name, "model.byte_fallback", "byte_fallback=true is not supported")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return loadError(name, "model.continuing_subword_prefix", "%q is not supported (only null)", *m.ContinuingSubwordPrefix)
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return loadError(name, "model.end_of_word_suffix", "%q is not supported (only null)", *m.EndOfWordSuffix)
	case len(m.Vocab) == 0:
		return loadError(name, "model.vocab", "missing or empty")
	}
	size := 0
	for tok, id := range m.Vocab {
		if id < 0 || id > 1<<30 {
			return loadError(name, "model.vocab", "token %q has id %d out of range", tok, id)
		}
		size = max(size, id+1)
	}
	tk.vocab = m.Vocab
	tk.tokens = make([]string, size)
	tk.used = make([]bool, size)
	for tok, id := range m.Vocab {
		if tk.used[id] {
			a, b := min(tok, tk.tokens[id]), max(tok, tk.tokens[id])
			return loadError(name, "model.vocab", "id %d is given to both %q and %q", id, a, b)
		}
		tk.tokens[id], tk.used[id] = tok, true
	}

	md := tk.model
	md.ignoreMerges = m.IgnoreMerges
	md.fuseUnk = m.FuseUnk
	md.unkID = -1
	missingByte := md.setByteIDs(m.Vocab)
	if m.UnkToken != nil {
		if id, ok := m.Vocab[*m.UnkToken]; ok {
			md.unkID = int32(id)
		} else if missingByte {
			return loadError(name, "model.unk_token", "%q is not in model.vocab", *m.UnkToken)
		}
	}
	merges, err := parseMerges(name, m.Merges)
	if err != nil {
		return err
	}
	if err := md.setMerges(name, "model.merges", "model.vocab", m.Vocab, merges); err != nil {
		return err
	}
	md.finish(m.Vocab)
	return nil
}

// setByteIDs fills byteID from the vocabulary and reports whether some byte
// has no token.
func (md *bpe) setByteIDs(vocab map[string]int) (missingByte bool) {
	for b := 0; b < 256; b++ {
		md.byteID[b] = -1
		if id, ok := vocab[string(byteToRune[b])]; ok {
			md.byteID[b] = int32(id)
		} else {
			missingByte = true
		}
	}
	return missingByte
}

// setMerges builds the merge table; mergesField and vocabField name where
// the merges and the vocabulary came from, for errors.
func (md *bpe) setMerges(name, mergesField, vocabField string, vocab map[string]int, merges [][2]string) error {
	md.merges = make(map[uint64]uint64, len(merges))
	for rank, p := range merges {
		a, okA := vocab[p[0]]
		b, okB := vocab[p[1]]
		c, okC := vocab[p[0]+p[1]]
		if !okA || !okB || !okC {
			missing := p[0] + p[1]
			if !okA {
				missing = p[0]
			} else if !okB {
				missing = p[1]
			}
			return loadError(name, fmt.Sprintf("%s[%d]", mergesField, rank), "token %q of merge %q %q is not in %s", missing, p[0], p[1], vocabField)
		}
		// A repeated pair keeps its last rank, as HF's HashMap collect does.
		md.merges[pairKey(int32(a), int32(b))] = uint64(rank)<<32 | uint64(uint32(c))
	}
	return nil
}

// finish builds the ignore_merges table (when set) and the word cache.
func (md *bpe) finish(vocab map[string]int) {
	if md.ignoreMerges {
		md.rawVocab = make(map[string]int32, len(vocab))
		for tok, id := range vocab {
			if raw, ok := byteLevelRaw(tok); ok {
				md.rawVocab[raw] = int32(id)
			}
		}
	}
	md.cache.init()
}

// byteLevelRaw is the raw bytes a token of the byte-level alphabet stands
// for; ok is false if the token has characters outside the alphabet.
func byteLevelRaw(tok string) (string, bool) {
	out := make([]byte, 0, len(tok))
	for _, r := range tok {
		b, ok := runeToByte[r]
		if !ok {
			return "", false
		}
		out = append(out, b)
	}
	return string(out), true
}

func (tk *Tokenizer) buildAdded(name string, added []addedToken) error {
	tk.addedIDs = make(map[string]int, len(added))
	tk.rawTrie, tk.normTrie = newTrie(), newTrie()
	for i, at := range added {
		if at.Content == "" {
			continue // HF ignores empty added tokens
		}
		if at.ID < 0 || at.ID > 1<<30 {
			return loadError(name, fmt.Sprintf("added_tokens[%d].id", i), "%d out of range", at.ID)
		}
		// HF's add_tokens gives a token already in the vocabulary that id
		// (and warns if the file says otherwise).
		if id, ok := tk.addedIDs[at.Content]; ok {
			at.ID = id
		} else if id, ok := tk.vocab[at.Content]; ok {
			at.ID = id
		}
		idx := int32(len(tk.added))
		tk.added = append(tk.added, at)
		if at.ID >= len(tk.tokens) {
			n := at.ID + 1
			tk.tokens = append(tk.tokens, make([]string, n-len(tk.tokens))...)
			tk.used = append(tk.used, make([]bool, n-len(tk.used))...)
		}
		tk.tokens[at.ID], tk.used[at.ID] = at.Content, true
		tk.addedIDs[at.Content] = at.ID
		if at.Normalized {
			// With a null normalizer the normalized form is the content.
			tk.normTrie.insert(at.Content, idx)
		} else {
			tk.rawTrie.insert(at.Content, idx)
		}
	}
	tk.decodeRaw = make([][]byte, len(tk.tokens))
	for id, tok := range tk.tokens {
		if tk.used[id] {
			tk.decodeRaw[id] = byteLevelDecode(tok)
		}
	}
	return nil
}

// lookup returns the id of the first candidate present (added tokens first,
// then the model vocabulary), or -1.
func (tk *Tokenizer) lookup(cands ...string) int {
	for _, c := range cands {
		if id, ok := tk.TokenID(c); ok {
			return id
		}
	}
	return -1
}

// Name is the name the tokenizer was loaded under (the file path for Load).
func (tk *Tokenizer) Name() string { return tk.name }

// VocabSize is the size of the id space: one more than the largest id of the
// model vocabulary and the added tokens (8192 for Nemotron-H mini).
func (tk *Tokenizer) VocabSize() int { return len(tk.tokens) }

// TokenID returns the id of a token given in its vocabulary spelling
// (byte-level characters, e.g. "Ġthe"); added tokens take precedence, as in
// HF's token_to_id.
func (tk *Tokenizer) TokenID(s string) (int, bool) {
	if id, ok := tk.addedIDs[s]; ok {
		return id, true
	}
	id, ok := tk.vocab[s]
	return id, ok
}

// Token returns the vocabulary spelling of id, or "" if id is unused.
func (tk *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(tk.tokens) {
		return ""
	}
	return tk.tokens[id]
}

// BOS returns the beginning-of-sequence token id, found by content ("<s>",
// "<|begin_of_text|>", "<bos>", "<|startoftext|>").
func (tk *Tokenizer) BOS() (int, bool) { return tk.bos, tk.bos >= 0 }

// EOS returns the end-of-sequence token id, found by content ("</s>",
// "<|end_of_text|>", "<eos>", "<|endoftext|>").
func (tk *Tokenizer) EOS() (int, bool) { return tk.eos, tk.eos >= 0 }

// UNK returns the unknown token id: the model's unk_token if set, else by
// content ("<unk>", "[UNK]", "<|unk|>").
func (tk *Tokenizer) UNK() (int, bool) { return tk.unk, tk.unk >= 0 }

// PAD returns the padding token id, found by content ("<pad>", "[PAD]",
// "<|pad|>").
func (tk *Tokenizer) PAD() (int, bool) { return tk.pad, tk.pad >= 0 }

// parallelMin is the input size from which Encode spreads BPE over cores.
const parallelMin = 64 << 10

var scratchPool = sync.Pool{New: func() any { return new(bpeScratch) }}

// Encode returns the token ids of text, as HF's
// tokenizer.encode(text, add_special_tokens=False).ids. Added tokens (the
// special ones included) that appear literally in text become their ids.
// Large inputs are encoded on several cores; the ids do not depend on it.
func (tk *Tokenizer) Encode(text string) []int {
	segs := tk.splitAdded(text)
	if len(text) >= parallelMin && runtime.GOMAXPROCS(0) > 1 {
		return tk.encodeParallel(text, segs)
	}
	return tk.encodeSerial(text, segs)
}

func (tk *Tokenizer) encodeSerial(text string, segs []segment) []int {
	st := scratchPool.Get().(*bpeScratch)
	defer scratchPool.Put(st)
	ids := make([]int, 0, len(text)/4+1)
	for _, sg := range segs {
		if sg.tok >= 0 {
			ids = append(ids, tk.added[sg.tok].ID)
			continue
		}
		tk.pretokenize(text[sg.start:sg.end], sg.start, func(s, e int) {
			ids = tk.model.appendWord(ids, text[s:e], st)
		})
	}
	return ids
}

// encodeParallel pre-tokenizes serially (cheap), then runs BPE over
// contiguous runs of pieces on several goroutines and concatenates.
func (tk *Tokenizer) encodeParallel(text string, segs []segment) []int {
	pieces := make([]segment, 0, len(text)/4+1)
	for _, sg := range segs {
		if sg.tok >= 0 {
			pieces = append(pieces, sg)
			continue
		}
		tk.pretokenize(text[sg.start:sg.end], sg.start, func(s, e int) {
			pieces = append(pieces, segment{s, e, -1})
		})
	}
	workers := min(runtime.GOMAXPROCS(0), 8, len(pieces)/1024+1)
	outs := make([][]int, workers)
	parallel.Parts(len(pieces), workers, func(w, lo, hi int) {
		st := scratchPool.Get().(*bpeScratch)
		defer scratchPool.Put(st)
		ids := make([]int, 0, (hi-lo)+16)
		for _, p := range pieces[lo:hi] {
			if p.tok >= 0 {
				ids = append(ids, tk.added[p.tok].ID)
			} else {
				ids = tk.model.appendWord(ids, text[p.start:p.end], st)
			}
		}
		outs[w] = ids
	})
	n := 0
	for _, o := range outs {
		n += len(o)
	}
	ids := make([]int, 0, n)
	for _, o := range outs {
		ids = append(ids, o...)
	}
	return ids
}

// pretokenize runs the split steps over s (which starts at byte off of the
// input) and calls emit with the input offsets of each final piece.
func (tk *Tokenizer) pretokenize(s string, off int, emit func(start, end int)) {
	tk.runSteps(s, off, 0, emit)
}

func (tk *Tokenizer) runSteps(s string, off, i int, emit func(start, end int)) {
	if i == len(tk.steps) {
		if s != "" {
			emit(off, off+len(s))
		}
		return
	}
	if i == len(tk.steps)-1 {
		tk.steps[i].split(s, func(a, b int) { emit(off+a, off+b) })
		return
	}
	tk.steps[i].split(s, func(a, b int) { tk.runSteps(s[a:b], off+a, i+1, emit) })
}

// Decode returns the text of ids, as HF's
// tokenizer.decode(ids, skip_special_tokens=False): each token's byte-level
// characters are mapped back to bytes (a token with characters outside that
// alphabet, such as some added tokens, contributes its own UTF-8), and
// invalid UTF-8 in the result becomes U+FFFD as Rust's from_utf8_lossy does.
// Unknown ids are skipped.
func (tk *Tokenizer) Decode(ids []int) string {
	buf := make([]byte, 0, len(ids)*4)
	for _, id := range ids {
		if id >= 0 && id < len(tk.decodeRaw) {
			buf = append(buf, tk.decodeRaw[id]...)
		}
	}
	return lossyUTF8(buf)
}
