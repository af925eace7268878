package runtime

import (
	"fmt"
	"io"
	"sync"

	"github.com/hyquant/hyquant/runtime/tokenizer"
)

// Loaded is a model ready to evaluate, with its tokenizer and the files it
// came from.
type Loaded struct {
	Files     *ModelFiles
	Model     *Model
	Weights   WeightSource // where Model's weights came from (quantizers read originals from it)
	Tokenizer *tokenizer.Tokenizer
	Format    string // "float" or the name of a registered format, e.g. "hyquant-quantized"
	closer    io.Closer
}

// Close releases the mapped weights; the model must not be used after.
func (l *Loaded) Close() error {
	if l.closer != nil {
		return l.closer.Close()
	}
	return nil
}

// Format opens checkpoints that are not plain float safetensors (quantised
// checkpoints register one from package quant).
type Format struct {
	Name string
	// Detect reports whether a model directory is in this format.
	Detect func(mf *ModelFiles) bool
	// Open returns the weight source and what to close afterwards.
	Open func(mf *ModelFiles, mode WeightMode) (WeightSource, io.Closer, error)
}

var (
	formatsMu sync.Mutex
	formats   []Format
)

// RegisterFormat adds a checkpoint format that OpenModel tries before the
// float safetensors format.
func RegisterFormat(f Format) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	formats = append(formats, f)
}

// OpenModel resolves a model reference (directory, or embedded name; ""
// for the default) and loads its weights and tokenizer.
func OpenModel(ref string, mode WeightMode) (*Loaded, error) {
	mf, err := ResolveModel(ref)
	if err != nil {
		return nil, err
	}
	if mf.ConfigOnly {
		return nil, fmt.Errorf("model %q is a config without weights: it can be inspected and planned, not run (write synthetic weights with `hyquant synth`)", mf.Ref)
	}
	l := &Loaded{Files: mf, Format: "float"}
	if mf.GGUF != "" {
		if err := openGGUF(l, mode); err != nil {
			l.Close()
			return nil, err
		}
		return l, nil
	}
	var ws WeightSource
	formatsMu.Lock()
	fs := append([]Format(nil), formats...)
	formatsMu.Unlock()
	for _, f := range fs {
		if f.Detect(mf) {
			if ws, l.closer, err = f.Open(mf, mode); err != nil {
				return nil, err
			}
			l.Format = f.Name
			break
		}
	}
	if ws == nil {
		ck, err := mf.OpenCheckpoint()
		if err != nil {
			return nil, err
		}
		inv := BuildInventory(mf.Config)
		if err := inv.CheckAgainst(ck); err != nil {
			ck.Close()
			return nil, err
		}
		ws, l.closer = NewCheckpointWeights(ck, inv, mode), ck
	}
	l.Weights = ws
	if l.Model, err = LoadModel(mf.Config, ws); err != nil {
		l.Close()
		return nil, err
	}
	tj, err := mf.ReadFile("tokenizer.json")
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("model %q: reading tokenizer.json: %w", mf.Ref, err)
	}
	if l.Tokenizer, err = tokenizer.Parse(tj, mf.Dir+"/tokenizer.json"); err != nil {
		l.Close()
		return nil, err
	}
	if tv := l.Tokenizer.VocabSize(); tv > mf.Config.VocabSize {
		l.Close()
		return nil, fmt.Errorf("model %q: tokenizer has %d tokens but the config's vocab_size is %d", mf.Ref, tv, mf.Config.VocabSize)
	}
	return l, nil
}
