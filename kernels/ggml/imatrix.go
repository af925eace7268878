package ggml

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Importance matrices as llama.cpp's llama-imatrix writes them and
// llama-quantize reads them (common/imatrix-loader.cpp, load_imatrix in
// tools/quantize/quantize.cpp), turned into the per-column weights that
// llama-quantize hands to quantisation, which Type.Quantize takes as its
// imatrix argument.
//
// The GGUF form holds, for every weight <name> it saw, two F32 tensors:
//
//	<name>.in_sum2  ne0·nexperts values: the sum over all tokens of x²,
//	                x the activation entering column i (expert j)
//	<name>.counts   nexperts values: how many tokens each sum holds
//
// plus metadata (general.type "imatrix", ImatrixKeyDatasets,
// ImatrixKeyChunkCount, ImatrixKeyChunkSize; llama-quantize refuses a GGUF
// imatrix without all three of the latter). llama-quantize's weight for
// column i of expert j is in_sum2[j·ne0+i] / float(lround(counts[j])),
// divided in float32, or 1 for an expert whose count is zero.
//
// The legacy binary form (ImatrixFromDat) stores per weight its
// ncall and sums already averaged then multiplied by ncall; the weight is
// sum / float(ncall), or the sum itself when ncall is zero.

// Metadata keys of a GGUF importance matrix.
const (
	ImatrixKeyDatasets   = "imatrix.datasets"    // array of strings
	ImatrixKeyChunkCount = "imatrix.chunk_count" // uint32
	ImatrixKeyChunkSize  = "imatrix.chunk_size"  // uint32
)

// ImatrixFromGGUF turns the tensors of an already-parsed imatrix GGUF into
// llama-quantize's per-column importance weights, keyed by the weight's
// tensor name ("blk.0.ssm_in.weight"). names are the file's tensor names
// (all of them: the ones without the .in_sum2 or .counts suffix are
// ignored, as llama.cpp does); lookupTensor returns a tensor's dimensions
// (ggml order), type and data. For a 3-D (per-expert) weight the slice
// holds the experts one after the other, ne0 values each.
//
// Errors name the tensor: a sums tensor without its counts or the other
// way round, a type other than F32, data of the wrong length, counts that
// do not divide the sums, and (as llama-quantize checks before quantising)
// a weight that is not finite. The metadata is the caller's to check.
func ImatrixFromGGUF(lookupTensor func(name string) (dims []int64, typ Type, data []byte, ok bool), names []string) (map[string][]float32, error) {
	const sumsSuffix, countsSuffix = ".in_sum2", ".counts"
	type pair struct{ sums, counts string }
	pairs := map[string]*pair{}
	get := func(base string) *pair {
		p := pairs[base]
		if p == nil {
			p = &pair{}
			pairs[base] = p
		}
		return p
	}
	for _, n := range names {
		switch {
		case n == "":
		case strings.HasSuffix(n, sumsSuffix):
			get(strings.TrimSuffix(n, sumsSuffix)).sums = n
		case strings.HasSuffix(n, countsSuffix):
			get(strings.TrimSuffix(n, countsSuffix)).counts = n
		}
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("imatrix: no %s/%s tensors among %d", sumsSuffix, countsSuffix, len(names))
	}
	bases := make([]string, 0, len(pairs))
	for b := range pairs {
		bases = append(bases, b)
	}
	sort.Strings(bases) // llama.cpp walks a std::map: the same order, the same first error

	out := make(map[string][]float32, len(pairs))
	for _, base := range bases {
		p := pairs[base]
		if p.sums == "" {
			return nil, fmt.Errorf("imatrix: tensor %q has no %q beside it", p.counts, base+sumsSuffix)
		}
		if p.counts == "" {
			return nil, fmt.Errorf("imatrix: tensor %q has no %q beside it", p.sums, base+countsSuffix)
		}
		sums, err := kImatrixF32(lookupTensor, p.sums)
		if err != nil {
			return nil, err
		}
		counts, err := kImatrixF32(lookupTensor, p.counts)
		if err != nil {
			return nil, err
		}
		if len(counts) == 0 || len(sums)%len(counts) != 0 {
			return nil, fmt.Errorf("imatrix: tensor %q: %d counts for %d sums in %q", p.counts, len(counts), len(sums), p.sums)
		}
		ne0 := len(sums) / len(counts)
		w := make([]float32, len(sums))
		for j, c := range counts {
			cnt := kLround(c)
			for i := j * ne0; i < (j+1)*ne0; i++ {
				if cnt > 0 {
					w[i] = sums[i] / cnt
				} else {
					w[i] = 1
				}
			}
		}
		if err := kImatrixFinite(base, w); err != nil {
			return nil, err
		}
		out[base] = w
	}
	return out, nil
}

// kLround is float(lround(c)) as llama.cpp's loader counts: halves away
// from zero; a NaN or a count beyond int64 becomes what x86-64's lround
// gives, LONG_MIN, which the loader treats as no count at all.
func kLround(c float32) float32 {
	r := math.Round(float64(c))
	if r != r || r >= 1<<63 || r < -(1<<63) {
		return float32(math.MinInt64)
	}
	return float32(int64(r))
}

func kImatrixF32(lookup func(string) ([]int64, Type, []byte, bool), name string) ([]float32, error) {
	dims, typ, data, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("imatrix: tensor %q not found", name)
	}
	if typ != F32 {
		return nil, fmt.Errorf("imatrix: tensor %q is %s, must be f32", name, typ)
	}
	n := int64(1)
	for _, d := range dims {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return nil, fmt.Errorf("imatrix: tensor %q: bad dimensions %v", name, dims)
		}
		n *= d
	}
	if int64(len(data)) != 4*n {
		return nil, fmt.Errorf("imatrix: tensor %q: %d bytes of data for %d float32", name, len(data), n)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return v, nil
}

func kImatrixFinite(name string, w []float32) error {
	for i, f := range w {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("imatrix: tensor %q: weight %d is %v (llama-quantize refuses non-finite values)", name, i, f)
		}
	}
	return nil
}

// ImatrixFromDat reads llama.cpp's legacy binary importance matrix (the
// imatrix.dat of llama-imatrix before GGUF): int32 entry count; per entry
// int32 name length, the name, int32 ncall, int32 nval, nval float32;
// then optionally int32 chunk count, int32 length and the dataset name,
// returned as datasets (nil when absent). Little-endian throughout. The
// weights are llama-quantize's: sum / float(ncall), or the sums as they
// are when ncall is zero.
func ImatrixFromDat(b []byte) (weights map[string][]float32, datasets []string, err error) {
	off := 0
	i32 := func(what string) (int32, error) {
		if len(b)-off < 4 {
			return 0, fmt.Errorf("imatrix .dat: truncated at byte %d reading %s", off, what)
		}
		v := int32(binary.LittleEndian.Uint32(b[off:]))
		off += 4
		return v, nil
	}
	n, err := i32("the entry count")
	if err != nil {
		return nil, nil, err
	}
	if n < 1 {
		return nil, nil, fmt.Errorf("imatrix .dat: %d entries", n)
	}
	weights = make(map[string][]float32)
	for e := int32(0); e < n; e++ {
		l, err := i32(fmt.Sprintf("the name length of entry %d", e))
		if err != nil {
			return nil, nil, err
		}
		if l < 0 || int(l) > len(b)-off {
			return nil, nil, fmt.Errorf("imatrix .dat: entry %d: name of %d bytes at byte %d", e, l, off)
		}
		name := string(b[off : off+int(l)])
		if k := strings.IndexByte(name, 0); k >= 0 { // llama.cpp keeps it as a C string
			name = name[:k]
		}
		off += int(l)
		ncall, err := i32(fmt.Sprintf("ncall of %q", name))
		if err != nil {
			return nil, nil, err
		}
		nval, err := i32(fmt.Sprintf("the value count of %q", name))
		if err != nil {
			return nil, nil, err
		}
		if nval < 1 || int64(nval)*4 > int64(len(b)-off) {
			return nil, nil, fmt.Errorf("imatrix .dat: tensor %q: %d values at byte %d of %d", name, nval, off, len(b))
		}
		w := make([]float32, nval)
		for i := range w {
			s := math.Float32frombits(binary.LittleEndian.Uint32(b[off+4*i:]))
			if ncall > 0 {
				s /= float32(ncall)
			}
			w[i] = s
		}
		off += 4 * int(nval)
		if err := kImatrixFinite(name, w); err != nil {
			return nil, nil, err
		}
		weights[name] = w // a repeated name replaces the earlier entry, as in llama.cpp's map
	}
	if off < len(b) {
		if _, err := i32("the chunk count"); err == nil {
			if l, err := i32("the dataset name length"); err == nil && l > 0 && int(l) <= len(b)-off {
				ds := string(b[off : off+int(l)])
				if k := strings.IndexByte(ds, 0); k >= 0 {
					ds = ds[:k]
				}
				datasets = []string{ds}
			}
		}
	}
	return weights, datasets, nil
}
