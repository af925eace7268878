package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hyquant/hyquant/runtime/gguf"
	"github.com/hyquant/hyquant/runtime/tokenizer"
)

// GGUFVocab reads the tokenizer.ggml.* metadata of a GGUF file.
func GGUFVocab(f *gguf.File) (*tokenizer.Vocab, error) {
	m := ggufMeta{f: f}
	v := &tokenizer.Vocab{BOS: -1, EOS: -1, PAD: -1, UNK: -1}
	var err error
	if v.Model, err = m.str("tokenizer.ggml.model"); err != nil {
		return nil, err
	}
	if _, ok := f.Lookup("tokenizer.ggml.pre"); ok {
		if v.Pre, err = m.str("tokenizer.ggml.pre"); err != nil {
			return nil, err
		}
	}
	strs := func(key string, required bool) ([]string, error) {
		val, ok := f.Lookup(key)
		if !ok {
			if required {
				return nil, m.fail(key, "missing")
			}
			return nil, nil
		}
		s, ok := val.Strings()
		if !ok {
			return nil, m.fail(key, "must be an array of strings, is %s", val.TypeName())
		}
		return s, nil
	}
	if v.Tokens, err = strs("tokenizer.ggml.tokens", true); err != nil {
		return nil, err
	}
	if v.Merges, err = strs("tokenizer.ggml.merges", false); err != nil {
		return nil, err
	}
	if val, ok := f.Lookup("tokenizer.ggml.token_type"); ok {
		xs, ok := val.Ints()
		if !ok {
			return nil, m.fail("tokenizer.ggml.token_type", "must be an integer array, is %s", val.TypeName())
		}
		v.Types = make([]int32, len(xs))
		for i, x := range xs {
			v.Types[i] = int32(x)
		}
	}
	for _, id := range []struct {
		key string
		dst *int
	}{
		{"tokenizer.ggml.bos_token_id", &v.BOS}, {"tokenizer.ggml.eos_token_id", &v.EOS},
		{"tokenizer.ggml.padding_token_id", &v.PAD}, {"tokenizer.ggml.unknown_token_id", &v.UNK},
	} {
		if val, ok := f.Lookup(id.key); ok {
			u, ok := val.Uint()
			if !ok || u > 1<<31 {
				return nil, m.fail(id.key, "must be a token id, is %s %s", val.TypeName(), val.Display(2))
			}
			*id.dst = int(u)
		}
	}
	return v, nil
}

// ggufTokenizer loads the tokenizer of a GGUF model: tokenizer.json beside
// the file when there is one, else the file's own metadata.
func ggufTokenizer(mf *ModelFiles, f *gguf.File) (*tokenizer.Tokenizer, error) {
	beside := filepath.Join(mf.Dir, "tokenizer.json")
	if _, err := os.Stat(beside); err == nil {
		return tokenizer.Load(beside)
	}
	v, err := GGUFVocab(f)
	if err != nil {
		return nil, err
	}
	return tokenizer.FromVocab(v, mf.GGUF)
}

// openGGUF loads a GGUF model's weights and tokenizer into l.
func openGGUF(l *Loaded, mode WeightMode) error {
	mf := l.Files
	f, _, ck, err := OpenGGUFModel(mf.GGUF)
	if err != nil {
		return err
	}
	l.closer = ck
	l.Format = "gguf"
	l.Weights = NewGGUFWeights(ck, BuildInventory(mf.Config), mode)
	if l.Model, err = LoadModel(mf.Config, l.Weights); err != nil {
		return err
	}
	if l.Tokenizer, err = ggufTokenizer(mf, f); err != nil {
		return err
	}
	if tv := l.Tokenizer.VocabSize(); tv > mf.Config.VocabSize {
		return fmt.Errorf("model %q: tokenizer has %d tokens but the vocabulary size is %d", mf.Ref, tv, mf.Config.VocabSize)
	}
	return nil
}

// ggufTokenizerJSON renders a GGUF file's tokenizer metadata as a
// tokenizer.json.
func ggufTokenizerJSON(path string) ([]byte, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v, err := GGUFVocab(f)
	if err != nil {
		return nil, err
	}
	return v.HubJSON(path)
}
