package main

import (
	"encoding/json"
	"io"
	"sort"
	"time"
)

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func sortStrings(s []string) { sort.Strings(s) }

func nowSeconds() float64 { return float64(time.Now().UnixNano()) / 1e9 }
