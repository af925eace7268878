package runtime

import (
	"fmt"
	"github.com/hyquant/hyquant/internal/parallel"
	"math"

	"github.com/hyquant/hyquant/kernels"
)

// Model is a NemotronH causal language model ready to run:
// embedding -> blocks h = h + mixer(RMSNorm(h)) -> norm_f -> lm_head.
//
// Its forward pass (NLL, Logits, Hidden, RunBlock, ...) is safe to call
// from several goroutines at once, and each call computes bit for bit what
// it computes alone: a call allocates its own activations, the weights and
// the Linears (every kernels and quant implementation) are only read, and
// the kernels' packing and decoding scratch comes from sync.Pools. Observer
// and HiddenHook are then called concurrently too, so they must be safe
// for that (or nil); changing a field (a Linear through Linears, the
// Observer) while calls run is not safe.
type Model struct {
	Config *Config
	Embed  Embedder
	Blocks []*Block
	NormF  []float32
	LMHead kernels.Linear

	// Observer, when set, sees the input of every linear layer.
	Observer Observer
	// HiddenHook, when set, sees the input of every block (layer = block
	// index) and the last block's output (layer = len(Blocks)), before norm_f.
	HiddenHook func(layer int, h []float32, n int)
}

// Block is one residual block.
type Block struct {
	Index     int
	Kind      LayerKind
	NormW     []float32
	Mamba     *Mamba2Mixer // set when Kind == Mamba2Layer
	MLP       *MLP         // set when Kind == MLPLayer
	Attention *Attention   // set when Kind == AttentionLayer
}

// LMHeadName is the tensor name of the output projection.
const LMHeadName = "lm_head.weight"

// LoadModel builds a model from a config and its weights.
func LoadModel(c *Config, ws WeightSource) (*Model, error) {
	m := &Model{Config: c}
	var err error
	h := c.HiddenSize
	if m.Embed, err = ws.Embedding("backbone.embeddings.weight", c.VocabSize, h); err != nil {
		return nil, err
	}
	for i, kind := range c.Layers {
		prefix := fmt.Sprintf("backbone.layers.%d.", i)
		b := &Block{Index: i, Kind: kind}
		if b.NormW, err = ws.Float32(prefix+"norm.weight", h); err != nil {
			return nil, err
		}
		mp := prefix + "mixer."
		switch kind {
		case Mamba2Layer:
			b.Mamba, err = loadMamba2(c, ws, mp)
		case MLPLayer:
			b.MLP, err = loadMLP(c, ws, mp)
		case AttentionLayer:
			b.Attention, err = loadAttention(c, ws, mp)
		default:
			err = fmt.Errorf("layer %d: %s layers are not supported", i, kind)
		}
		if err != nil {
			return nil, err
		}
		m.Blocks = append(m.Blocks, b)
	}
	if m.NormF, err = ws.Float32("backbone.norm_f.weight", h); err != nil {
		return nil, err
	}
	headName := LMHeadName
	if c.TieWordEmbeddings {
		headName = "backbone.embeddings.weight"
	}
	if m.LMHead, err = ws.Linear(headName, c.VocabSize, h, ""); err != nil {
		return nil, err
	}
	return m, nil
}

func loadMLP(c *Config, ws WeightSource, prefix string) (*MLP, error) {
	m := &MLP{UpName: prefix + "up_proj.weight", DownName: prefix + "down_proj.weight", Activation: c.MLPActivation}
	bias := func(name string) string {
		if c.MLPBias {
			return prefix + name + ".bias"
		}
		return ""
	}
	var err error
	if m.Up, err = ws.Linear(m.UpName, c.IntermediateSize, c.HiddenSize, bias("up_proj")); err != nil {
		return nil, err
	}
	if m.Down, err = ws.Linear(m.DownName, c.HiddenSize, c.IntermediateSize, bias("down_proj")); err != nil {
		return nil, err
	}
	return m, nil
}

func loadAttention(c *Config, ws WeightSource, prefix string) (*Attention, error) {
	a := &Attention{QName: prefix + "q_proj.weight", KName: prefix + "k_proj.weight", VName: prefix + "v_proj.weight", OName: prefix + "o_proj.weight",
		Heads: c.NumAttentionHeads, KVHeads: c.NumKeyValueHeads, HeadDim: c.HeadDim}
	bias := func(name string) string {
		if c.AttentionBias {
			return prefix + name + ".bias"
		}
		return ""
	}
	q, kv, h := c.NumAttentionHeads*c.HeadDim, c.NumKeyValueHeads*c.HeadDim, c.HiddenSize
	var err error
	if a.Q, err = ws.Linear(a.QName, q, h, bias("q_proj")); err != nil {
		return nil, err
	}
	if a.K, err = ws.Linear(a.KName, kv, h, bias("k_proj")); err != nil {
		return nil, err
	}
	if a.V, err = ws.Linear(a.VName, kv, h, bias("v_proj")); err != nil {
		return nil, err
	}
	if a.O, err = ws.Linear(a.OName, h, q, bias("o_proj")); err != nil {
		return nil, err
	}
	return a, nil
}

// Linears lists every replaceable projection, lm_head last, in forward order.
func (m *Model) Linears() []LinearSlot {
	var out []LinearSlot
	for _, b := range m.Blocks {
		switch {
		case b.Mamba != nil:
			out = append(out, b.Mamba.slots(b.Index)...)
		case b.MLP != nil:
			out = append(out, b.MLP.slots(b.Index)...)
		case b.Attention != nil:
			out = append(out, b.Attention.slots(b.Index)...)
		}
	}
	return append(out, LinearSlot{Name: LMHeadName, Category: LMHead, Layer: -1, Ptr: &m.LMHead})
}

// checkIDs rejects token ids outside the vocabulary.
func (m *Model) checkIDs(ids []int) error {
	for i, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			return fmt.Errorf("token %d at position %d is outside the vocabulary of %d", id, i, m.Config.VocabSize)
		}
	}
	return nil
}

// EmbedTokens returns the embedding rows of a sequence (n×hidden), the input of
// block 0.
func (m *Model) EmbedTokens(ids []int) ([]float32, error) {
	if err := m.checkIDs(ids); err != nil {
		return nil, err
	}
	d := m.Config.HiddenSize
	h := make([]float32, len(ids)*d)
	for t, id := range ids {
		m.Embed.Row(h[t*d:(t+1)*d], id)
	}
	return h, nil
}

// RunBlock applies block i in place: h = h + mixer(RMSNorm(h)), for one
// sequence of n rows.
func (m *Model) RunBlock(i int, h []float32, n int) {
	d := m.Config.HiddenSize
	m.RunBlockOn(&cpuBackend{obs: m.Observer}, i, host{d: h[:n*d], rows: n, cols: d})
}

// BlockInput returns block i's RMSNorm of h (n×hidden rows): what its
// first projections read (Mamba2's in_proj, the MLP's up_proj, attention's
// q, k and v; see ReadsBlockInput), computed as RunBlock computes it.
func (m *Model) BlockInput(i int, h []float32, n int) []float32 {
	d := m.Config.HiddenSize
	out := make([]float32, n*d)
	rmsNorm(out, h, m.Blocks[i].NormW, n, d, m.Config.NormEps)
	return out
}

// ReadsBlockInput reports whether a projection of category c reads its
// block's normalised input (BlockInput) unchanged.
func ReadsBlockInput(c Category) bool {
	switch c {
	case SSMInProj, MLPUp, AttnQ, AttnK, AttnV:
		return true
	}
	return false
}

// FinalNorm returns norm_f applied to the last block's output, the input of
// lm_head.
func (m *Model) FinalNorm(h []float32, n int) []float32 {
	d := m.Config.HiddenSize
	out := make([]float32, n*d)
	rmsNorm(out, h, m.NormF, n, d, m.Config.NormEps)
	return out
}

// Hidden runs the blocks over one sequence and returns the normalised final
// hidden states (n×hidden), the input of lm_head.
func (m *Model) Hidden(ids []int) ([]float32, error) {
	h, err := m.EmbedTokens(ids)
	if err != nil {
		return nil, err
	}
	n := len(ids)
	for i := range m.Blocks {
		if m.HiddenHook != nil {
			m.HiddenHook(i, h, n)
		}
		m.RunBlock(i, h, n)
	}
	if m.HiddenHook != nil {
		m.HiddenHook(len(m.Blocks), h, n)
	}
	return m.FinalNorm(h, n), nil
}

// Logits runs the model over one sequence and returns n×vocab logits.
func (m *Model) Logits(ids []int) ([]float32, error) {
	h, err := m.Hidden(ids)
	if err != nil {
		return nil, err
	}
	n := len(ids)
	logits := make([]float32, n*m.Config.VocabSize)
	d := m.Config.HiddenSize
	(&cpuBackend{obs: m.Observer}).Linear(LMHeadName, m.LMHead, host{logits, n, m.Config.VocabSize}, host{h[:n*d], n, d})
	return logits, nil
}

// NLL returns the next-token negative log-likelihoods of one sequence: entry
// t is -log p(ids[t+1] | ids[:t+1]), n-1 values. Logits are computed a block
// of rows at a time, so a 131k vocabulary never needs n×vocab floats.
func (m *Model) NLL(ids []int) ([]float64, error) {
	h, err := m.Hidden(ids)
	if err != nil {
		return nil, err
	}
	n, d, V := len(ids), m.Config.HiddenSize, m.Config.VocabSize
	if n < 2 {
		return nil, nil
	}
	rows := max(1, min(n-1, (32<<20)/(4*V))) // about 32 MB of logits at a time
	logits := make([]float32, rows*V)
	nll := make([]float64, n-1)
	b := &cpuBackend{obs: m.Observer}
	for t0 := 0; t0 < n-1; t0 += rows {
		r := min(rows, n-1-t0)
		b.Linear(LMHeadName, m.LMHead, host{logits[:r*V], r, V}, host{h[t0*d : (t0+r)*d], r, d})
		parallel.For(r, 8, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := logits[i*V : (i+1)*V]
				nll[t0+i] = kernels.LogSumExp(row) - float64(row[ids[t0+i+1]])
			}
		})
	}
	return nll, nil
}

// MeanNLL averages next-token losses.
func MeanNLL(nll []float64) float64 {
	var s float64
	for _, v := range nll {
		s += v
	}
	if len(nll) == 0 {
		return math.NaN()
	}
	return s / float64(len(nll))
}
