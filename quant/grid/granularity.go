package grid

import (
	"fmt"
	"strconv"
	"strings"
)

// GranularityKind says how many weights share one scale.
type GranularityKind int

const (
	PerTensor  GranularityKind = iota // one scale for the whole tensor
	PerChannel                        // one scale per output channel (row)
	PerGroup                          // one scale per GroupSize consecutive inputs of a row
)

// Granularity is a GranularityKind with its group size.
type Granularity struct {
	Kind      GranularityKind
	GroupSize int // PerGroup only
}

func (g Granularity) String() string {
	switch g.Kind {
	case PerTensor:
		return "tensor"
	case PerChannel:
		return "channel"
	}
	return fmt.Sprintf("group:%d", g.GroupSize)
}

// ParseGranularity reads "tensor", "channel" or "group:N".
func ParseGranularity(s string) (Granularity, error) {
	switch s {
	case "tensor":
		return Granularity{Kind: PerTensor}, nil
	case "channel":
		return Granularity{Kind: PerChannel}, nil
	}
	if rest, ok := strings.CutPrefix(s, "group:"); ok {
		n, err := strconv.Atoi(rest)
		if err == nil && n > 0 {
			return Granularity{Kind: PerGroup, GroupSize: n}, nil
		}
	}
	return Granularity{}, fmt.Errorf("%q is not tensor, channel or group:N with N a positive integer", s)
}
