package plan

// The widely quoted claim about Nemotron-H-8B: "15.45 GB -> ~6.5 GB, a 58%
// reduction". Its "GB" is bytes / 2^20 / 1000 (mebibytes divided by a
// thousand): the 8B model's bf16 size, 16,201,705,472 bytes, is 15,451.1 MiB,
// quoted as "15.45 GB". That unit is neither a gigabyte (1e9 bytes: 16.20 GB)
// nor a gibibyte (2^30 bytes: 15.09 GiB). Ratios do not depend on units, so
// the 58% can be checked exactly.
const (
	ClaimBaseline  = 15.45 // in ClaimUnit
	ClaimQuantized = 6.5   // in ClaimUnit
	ClaimReduction = 0.58
	// ClaimUnit is the byte count of the claim's "GB".
	ClaimUnit = 1 << 20 * 1000
)

// ClaimCheck compares a footprint with the claim.
type ClaimCheck struct {
	Baseline, Quantized int64
	// In the claim's own unit (bytes / 2^20 / 1000).
	BaselineClaimUnits, QuantizedClaimUnits float64
	Reduction                               float64
	// BaselineMatches: the claim's 15.45 is this model's size in its unit
	// (to the two decimals quoted).
	BaselineMatches bool
	// Reaches58: the reduction rounds to 58% or more.
	Reaches58 bool
}

// CheckClaim evaluates a plan's footprint against the 58% claim.
func CheckClaim(f Footprint) ClaimCheck {
	c := ClaimCheck{
		Baseline:            f.Baseline,
		Quantized:           f.Quantized,
		BaselineClaimUnits:  float64(f.Baseline) / ClaimUnit,
		QuantizedClaimUnits: float64(f.Quantized) / ClaimUnit,
		Reduction:           f.Reduction(),
	}
	d := c.BaselineClaimUnits - ClaimBaseline
	c.BaselineMatches = d > -0.005 && d < 0.005
	c.Reaches58 = ReachesClaim(c.Reduction)
	return c
}

// ReachesClaim reports whether a reduction rounds to the claim's 58% or
// more (57.5% and above).
func ReachesClaim(reduction float64) bool { return reduction >= ClaimReduction-0.005 }
