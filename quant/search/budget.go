package search

import (
	"fmt"
	"math"
	"regexp"
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
	l := strings.ToLower(asked)
	b := Budget{Asked: asked}
	bytesOf := func(v float64) (int64, error) {
		if v < 1 || v >= math.MaxInt64 {
			return 0, fmt.Errorf("budget %q comes to %.6g bytes: not a size", asked, v)
		}
		return int64(math.Floor(v)), nil
	}
	var err error
	switch {
	case strings.HasSuffix(l, "%"):
		p, ok := budgetNumber(strings.TrimSuffix(l, "%"))
		if !ok || p >= 100 {
			return Budget{}, fmt.Errorf("budget %q: a reduction must be a percentage between 0 and 100", asked)
		}
		b.Bytes, err = bytesOf(float64(basis.StoredBytes) * (1 - p/100))
		b.How = fmt.Sprintf("%s smaller than the %s stored bytes (%.4g%% of them)", asked, units.Commas(basis.StoredBytes), 100-p)
	case strings.HasSuffix(l, "bpw"):
		v, ok := budgetNumber(strings.TrimSuffix(l, "bpw"))
		if !ok || v > 64 {
			return Budget{}, fmt.Errorf("budget %q: bits per weight must be a positive number up to 64", asked)
		}
		b.Bytes, err = bytesOf(v * float64(basis.Params) / 8)
		b.How = fmt.Sprintf("%s bits per parameter over %s parameters", strings.TrimSuffix(asked, "bpw"), units.Commas(basis.Params))
	default:
		if v, mult, ok := byteSize(l); ok {
			b.Bytes, err = bytesOf(v * mult)
			b.How = "bytes"
			break
		}
		if basis.PlanBytes == nil {
			return Budget{}, fmt.Errorf("budget %q is not bytes (13.0MB), bits per weight (4.5bpw) or a reduction (58%%)", asked)
		}
		n, perr := basis.PlanBytes(asked)
		if perr != nil {
			return Budget{}, fmt.Errorf("budget %q is not bytes (13.0MB), bits per weight (4.5bpw), a reduction (58%%), or a plan: %v", asked, perr)
		}
		b.Bytes, b.How = n, "the exact tensor bytes of plan "+asked
	}
	if err != nil {
		return Budget{}, err
	}
	if b.Bytes <= 0 {
		return Budget{}, fmt.Errorf("budget %q comes to %d bytes", asked, b.Bytes)
	}
	return b, nil
}

// byteSize reads a number of bytes with an optional unit.
func byteSize(l string) (v, mult float64, ok bool) {
	for _, u := range byteUnits {
		if strings.HasSuffix(l, u.suffix) {
			if v, ok := budgetNumber(strings.TrimSuffix(l, u.suffix)); ok {
				return v, u.mult, true
			}
		}
	}
	if v, ok := budgetNumber(l); ok {
		return v, 1, true
	}
	return 0, 0, false
}

// thousands is a number with commas between groups of three digits.
var thousands = regexp.MustCompile(`^\d{1,3}(,\d{3})+(\.\d+)?$`)

// budgetNumber reads a positive finite number; commas are allowed only as
// thousands separators (13,015,266), never as a decimal comma.
func budgetNumber(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if strings.Contains(v, ",") {
		if !thousands.MatchString(v) {
			return 0, false
		}
		v = strings.ReplaceAll(v, ",", "")
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil && f > 0 && !math.IsInf(f, 0)
}
