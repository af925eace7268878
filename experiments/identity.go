package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hyquant/hyquant/datasets"
)

// ProtocolVersion is hyquant's version of the experiment protocol: how
// windows are cut, perplexity and KL computed, calibration segments drawn
// and records kept. A change that alters recorded numbers bumps it, so
// that results measured under the old protocol are never mixed with new
// ones in one directory.
const ProtocolVersion = 1

// Identity is what makes the numbers of two runs comparable: the same
// model, evaluation text, windows and calibration, under the same protocol.
// (eval.kl and layer_errors add measurements without changing the
// comparable ones; they are in each run's hash, so turning one on
// recomputes the runs in place.)
// An output directory holds the results of one identity only (manifest.json
// and every record carry it); `hyquant run` with another identity is
// refused unless --force, which replaces the directory's results.
type Identity struct {
	Protocol int    `json:"protocol"`
	Model    string `json:"model"` // as resolved: a path, or an embedded name
	// ModelDigest is the SHA-256 of the model's config, tokenizer and
	// index files and of each weight file's name, size, first and last MiB
	// (not every weight byte: that would read GBs at every start).
	ModelDigest     string `json:"model_digest,omitempty"`
	EvalText        string `json:"eval_text"`
	EvalTextDigest  string `json:"eval_text_digest"` // SHA-256 of the text's bytes
	SeqLen          int    `json:"seq_len"`
	MaxWindows      int    `json:"max_windows"` // 0 = all
	Windows         int    `json:"windows"`
	CalibText       string `json:"calibration_text"`
	CalibTextDigest string `json:"calibration_text_digest"`
	CalibSegments   int    `json:"calibration_segments"`
	CalibLength     int    `json:"calibration_length"`
	CalibSeed       int64  `json:"calibration_seed"`
}

// Digest is a short hash of the whole identity, the key records carry.
func (id Identity) Digest() string {
	b, _ := json.Marshal(id)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Diff names each field in which other (the directory's) differs from id
// (this run's), with both values.
func (id Identity) Diff(other Identity) []string {
	var a, b map[string]any
	ja, _ := json.Marshal(id)
	jb, _ := json.Marshal(other)
	json.Unmarshal(ja, &a)
	json.Unmarshal(jb, &b)
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		if fmt.Sprint(a[k]) != fmt.Sprint(b[k]) {
			out = append(out, fmt.Sprintf("%s: %s in the directory, %s here", k, show(b[k]), show(a[k])))
		}
	}
	return out
}

func show(v any) string {
	if v == nil {
		return "(none)"
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// identityOf is the identity of an experiment with its inputs opened.
func identityOf(c *Config, in *inputs) (Identity, error) {
	md, err := in.l.Files.Digest()
	if err != nil {
		return Identity{}, fmt.Errorf("%s: model digest: %w", c.File, err)
	}
	cal, err := datasets.Load(c.Calibration.Text)
	if err != nil {
		return Identity{}, fmt.Errorf("%s: calibration: %w", c.File, err)
	}
	return Identity{
		Protocol: ProtocolVersion, Model: in.l.Files.Describe(), ModelDigest: md,
		EvalText: in.text.Name, EvalTextDigest: textDigest(in.text.Body),
		SeqLen: c.Eval.SeqLen, MaxWindows: c.Eval.MaxWindows, Windows: len(in.windows),
		CalibText: cal.Name, CalibTextDigest: textDigest(cal.Body),
		CalibSegments: c.Calibration.Segments, CalibLength: c.Calibration.Length, CalibSeed: c.Calibration.Seed,
	}, nil
}

func textDigest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
