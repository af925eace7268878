package search

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/hyquant/hyquant/internal/units"
)

// Budget is a byte budget and how it was asked for.
type Budget struct {
	Bytes int64
	Asked string // as given: "13.0MB", "4.5bpw", "58%", "seed-emb8"
	How   string // how Asked became Bytes, for people
}

// BudgetBasis is what relative budgets are measured against.
type BudgetBasis struct {
	StoredBytes int64 // the model's tensors as stored
	Params      int64 // every parameter
	// PlanBytes gives a plan's exact tensor bytes on the model (for a
	// budget named by a plan); nil when plans cannot be read.
	PlanBytes func(ref string) (int64, error)
}

var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1},
}

// ParseBudget reads a budget: bytes with a unit (13.0MB = 13,000,000 bytes;
// MiB and GiB are powers of two), bits per parameter over every parameter
// (4.5bpw), a reduction from the stored model (58% = 58% smaller, the sense
// of the "15.45 GB -> ~6.5 GB, 58%" claim), or a plan whose exact bytes are
// the budget (a shipped plan name or a plan file). A bare number is bytes.
func ParseBudget(s string, basis BudgetBasis) (Budget, error) {
	asked := strings.TrimSpace(s)
	if asked == "" {
		return Budget{}, fmt.Errorf("--budget is required (for example 13.0MB, 4.5bpw, 58%% or a plan name)")
	}
	l := strings.ToLower(strings.ReplaceAll(asked, ",", ""))
	num := func(v string) (float64, bool) {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && f > 0 && !math.IsInf(f, 0)
	}
	b := Budget{Asked: asked}
	switch {
	case strings.HasSuffix(l, "%"):
		p, ok := num(strings.TrimSuffix(l, "%"))
		if !ok || p >= 100 {
			return Budget{}, fmt.Errorf("budget %q: a reduction must be a percentage between 0 and 100", asked)
		}
		b.Bytes = int64(math.Floor(float64(basis.StoredBytes) * (1 - p/100)))
		b.How = fmt.Sprintf("%s smaller than the %s stored bytes (%.4g%% of them)", asked, units.Commas(basis.StoredBytes), 100-p)
	case strings.HasSuffix(l, "bpw"):
		v, ok := num(strings.TrimSuffix(l, "bpw"))
		if !ok || v > 64 {
			return Budget{}, fmt.Errorf("budget %q: bits per weight must be a positive number up to 64", asked)
		}
		b.Bytes = int64(math.Floor(v * float64(basis.Params) / 8))
		b.How = fmt.Sprintf("%s bits per parameter over %s parameters", strings.TrimSuffix(asked, "bpw"), units.Commas(basis.Params))
	default:
		for _, u := range byteUnits {
			if v, ok := num(strings.TrimSuffix(l, u.suffix)); ok && strings.HasSuffix(l, u.suffix) {
				b.Bytes = int64(math.Floor(v * u.mult))
				b.How = "bytes"
				return b, nil
			}
		}
		if v, ok := num(l); ok {
			b.Bytes, b.How = int64(v), "bytes"
			return b, nil
		}
		if basis.PlanBytes == nil {
			return Budget{}, fmt.Errorf("budget %q is not bytes (13.0MB), bits per weight (4.5bpw) or a reduction (58%%)", asked)
		}
		n, err := basis.PlanBytes(asked)
		if err != nil {
			return Budget{}, fmt.Errorf("budget %q is not bytes (13.0MB), bits per weight (4.5bpw), a reduction (58%%), or a plan: %v", asked, err)
		}
		b.Bytes, b.How = n, "the exact tensor bytes of plan "+asked
	}
	if b.Bytes <= 0 {
		return Budget{}, fmt.Errorf("budget %q comes to %d bytes", asked, b.Bytes)
	}
	return b, nil
}
