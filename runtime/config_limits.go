package runtime

import (
	"fmt"
	"math"
	"math/bits"
)

// maxDim bounds every integer field of a config. The bounds are far above
// any published model (Nemotron-H-8B: vocab 131072, hidden 4096, MLP 21504,
// 52 layers; the largest dense LLMs: hidden 16384-25600, MLP ~53k, vocab
// ~256k, ~126 layers; SSMs: state 16-256, conv kernel 4, expand 2) and low
// enough that every product the inventory and the footprints form stays
// far inside int64 before MaxParams is even checked: the largest tensor,
// in_proj, is at most (2^20 + 2^27 + 2^14) x 2^16 < 2^44 elements, the
// whole inventory under 2^55, and bytes (4 per element at most, plus
// scales) under 2^58. A value beyond them is a typo or hostile input, not
// a model.
var maxDim = map[string]int{
	"vocab_size":          1 << 22, // 4M tokens: 16x the largest vocabularies
	"hidden_size":         1 << 16,
	"intermediate_size":   1 << 20,
	"num_hidden_layers":   1 << 10,
	"num_attention_heads": 1 << 10,
	"num_key_value_heads": 1 << 10,
	"head_dim":            1 << 12,
	"attention_head_dim":  1 << 12,
	"mamba_num_heads":     1 << 14,
	"mamba_head_dim":      1 << 12,
	"n_groups":            1 << 14,
	"ssm_state_size":      1 << 12,
	"conv_kernel":         1 << 6,
	"expand":              1 << 4,
	"chunk_size":          1 << 16,
}

// MaxParams is the largest parameter count a config may imply: 2^40, about
// 1.1 trillion parameters (2.2 TB in bf16), over a hundred times the 8B.
const MaxParams = int64(1) << 40

// checkSize sums the parameters the config implies with overflow-checked
// arithmetic and refuses more than MaxParams. The field bounds make an
// overflow impossible; the checks keep it so if a bound is ever raised.
func checkSize(c *Config) error {
	var total uint64
	for _, p := range BuildInventory(c).Params {
		n, ok := checkedElements(p.Shape)
		if ok {
			total, ok = checkedAdd(total, n)
		}
		if !ok || total > uint64(MaxParams) {
			return &ConfigError{File: c.Source, Msg: fmt.Sprintf("the dimensions imply more than %d (2^40) parameters (at tensor %s %v); hyquant accepts models up to that size", MaxParams, p.Name, p.Shape)}
		}
	}
	return nil
}

// checkedElements is the product of a shape, ok false on overflow or a
// non-positive dimension.
func checkedElements(shape []int) (uint64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d <= 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

func checkedAdd(a, b uint64) (uint64, bool) {
	s, carry := bits.Add64(a, b, 0)
	return s, carry == 0 && s <= math.MaxInt64
}
