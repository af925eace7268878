// Package units formats counts and byte sizes with their units spelled out:
// GB is 10^9 bytes, GiB is 2^30 bytes, and the label always says which.
package units

import (
	"fmt"
	"strconv"
)

const (
	GB  = 1e9
	GiB = 1 << 30
	MB  = 1e6
	MiB = 1 << 20
)

// Commas writes an integer with thousands separators: 8,100,852,736.
func Commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// GBString formats bytes in decimal gigabytes, labelled: "16.202 GB".
func GBString(b int64) string { return fmt.Sprintf("%.3f GB", float64(b)/GB) }

// GiBString formats bytes in binary gibibytes, labelled: "15.089 GiB".
func GiBString(b int64) string { return fmt.Sprintf("%.3f GiB", float64(b)/GiB) }

// Both formats bytes in decimal and binary units, labelled: "16.202 GB
// (15.089 GiB)", or "30.427 MB (29.018 MiB)" below a gigabyte.
func Both(b int64) string {
	if b < GB {
		return fmt.Sprintf("%.3f MB (%.3f MiB)", float64(b)/MB, float64(b)/MiB)
	}
	return GBString(b) + " (" + GiBString(b) + ")"
}

// Percent formats a fraction as a percentage with two decimals; a positive
// fraction too small to show is "<0.01%", never a misleading "0.00%".
func Percent(f float64) string {
	if f > 0 && f < 0.00005 {
		return "<0.01%"
	}
	return fmt.Sprintf("%.2f%%", 100*f)
}
