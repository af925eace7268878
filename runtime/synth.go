package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/hyquant/hyquant/internal/atomicfile"
	"github.com/hyquant/hyquant/internal/outdir"
	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// SynthOptions controls a synthetic checkpoint.
type SynthOptions struct {
	Seed       uint64
	ShardBytes int64 // target shard size; default 5e9 (as the Hub shards)
	// Progress, when set, is called with bytes written so far and the total.
	Progress func(done, total int64)
	// Files are more files to write into the directory (tokenizer.json).
	Files map[string][]byte
	// Context, when set, stops the write between chunks: the temporary
	// directory is removed and ctx's error returned.
	Context context.Context
}

// synthChunk is the number of values generated (and held) at a time.
const synthChunk = 1 << 22

// synthShard is the tensors of one shard and their bytes.
type synthShard struct {
	specs []safetensors.TensorSpec
	bytes int64
}

// WriteSynthetic writes a checkpoint with the Hub layout for a config:
// config.json (the given bytes), bf16 safetensors shards of about
// ShardBytes each and model.safetensors.index.json. Values are drawn with
// realistic scales: projections and embeddings N(0, 0.02), conv kernels
// U(±1/sqrt(kernel)), A_log = log U(1, 16), D ≈ 1, dt_bias = softplus⁻¹ of a
// log-uniform dt in [0.001, 0.1], norm weights ≈ 1. Tensors are generated
// and written in chunks, so memory stays small whatever the model size.
// The directory is built under a temporary name beside outDir (see package
// outdir) and renamed into place when complete; outDir must not exist or
// be empty.
func WriteSynthetic(cfg *Config, configJSON []byte, outDir string, o SynthOptions) error {
	if o.ShardBytes <= 0 {
		o.ShardBytes = 5e9
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if err := outdir.CheckDir(outDir, false); err != nil {
		return err
	}
	parent := filepath.Dir(filepath.Clean(outDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, outdir.TempPattern(outDir))
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // gone once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := writeSynthFiles(cfg, configJSON, tmp, o); err != nil {
		return err
	}
	return outdir.Replace(tmp, outDir, false)
}

func writeSynthFiles(cfg *Config, configJSON []byte, dir string, o SynthOptions) error {
	inv := BuildInventory(cfg)
	shards, total := planShards(inv, o.ShardBytes)
	weightMap := map[string]string{}
	var done int64
	for i, sh := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		for _, s := range sh.specs {
			weightMap[s.Name] = name
		}
		if err := writeSynthShard(filepath.Join(dir, name), sh, inv, cfg, o, &done, total); err != nil {
			return err
		}
	}
	index, err := json.MarshalIndent(map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{IndexFile: index, "config.json": configJSON}
	for n, b := range o.Files {
		files[n] = b
	}
	for n, b := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, n), b); err != nil {
			return err
		}
	}
	return nil
}

// planShards groups the inventory's tensors, in order, into shards of
// about shardBytes.
func planShards(inv *Inventory, shardBytes int64) ([]*synthShard, int64) {
	var shards []*synthShard
	var total int64
	for _, p := range inv.Params {
		s := safetensors.TensorSpec{Name: p.Name, DType: safetensors.BF16, Shape: int64s(p.Shape)}
		if len(shards) == 0 || (shards[len(shards)-1].bytes+s.Bytes() > shardBytes && len(shards[len(shards)-1].specs) > 0) {
			shards = append(shards, &synthShard{})
		}
		sh := shards[len(shards)-1]
		sh.specs = append(sh.specs, s)
		sh.bytes += s.Bytes()
		total += s.Bytes()
	}
	return shards, total
}

func writeSynthShard(path string, sh *synthShard, inv *Inventory, cfg *Config, o SynthOptions, done *int64, total int64) error {
	w, err := safetensors.Create(path, sh.specs, map[string]string{"format": "pt"})
	if err != nil {
		return err
	}
	buf := make([]float32, synthChunk)
	raw := make([]byte, 2*synthChunk)
	for _, s := range sh.specs {
		if err := w.BeginTensor(s.Name); err != nil {
			w.Abort()
			return err
		}
		p, _ := inv.Lookup(s.Name)
		n := p.NumElements()
		for off := int64(0); off < n; off += synthChunk {
			m := int(min(synthChunk, n-off))
			fillSynthetic(buf[:m], p, cfg, o.Seed, off)
			err := o.Context.Err()
			if err == nil {
				err = safetensors.FromFloat32(raw[:2*m], buf[:m], safetensors.BF16)
			}
			if err == nil {
				_, err = w.Write(raw[:2*m])
			}
			if err != nil {
				w.Abort()
				return err
			}
			*done += int64(2 * m)
			if o.Progress != nil {
				o.Progress(*done, total)
			}
		}
	}
	return w.Close()
}

// fillSynthetic generates values [off, off+len(dst)) of a parameter. Each
// chunk has its own generator seeded from (seed, name, offset), so chunks
// can be produced in parallel and any tensor regenerated alone.
func fillSynthetic(dst []float32, p Param, cfg *Config, seed uint64, off int64) {
	h := fnv.New64a()
	h.Write([]byte(p.Name))
	base := h.Sum64() ^ seed*0x9e3779b97f4a7c15
	const sub = 1 << 16
	parts := (len(dst) + sub - 1) / sub
	parallel.For(parts, 1, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			lo, hi := c*sub, min((c+1)*sub, len(dst))
			rng := rand.New(rand.NewPCG(base, uint64(off)+uint64(lo)))
			fillRange(dst[lo:hi], p, cfg, rng)
		}
	})
}

func fillRange(dst []float32, p Param, cfg *Config, rng *rand.Rand) {
	name := p.Name
	switch {
	case strings.HasSuffix(name, "A_log"):
		for i := range dst {
			dst[i] = float32(math.Log(1 + 15*rng.Float64()))
		}
	case strings.HasSuffix(name, ".D"):
		for i := range dst {
			dst[i] = float32(1 + 0.1*rng.NormFloat64())
		}
	case strings.HasSuffix(name, "dt_bias"):
		for i := range dst {
			dt := math.Exp(math.Log(0.001) + rng.Float64()*(math.Log(0.1)-math.Log(0.001)))
			dst[i] = float32(dt + math.Log(-math.Expm1(-dt))) // softplus⁻¹(dt)
		}
	case p.Category == BlockNorm || p.Category == FinalNorm || p.Category == SSMNorm:
		for i := range dst {
			dst[i] = float32(1 + 0.05*rng.NormFloat64())
		}
	case strings.HasSuffix(name, "conv1d.weight"):
		b := 1 / math.Sqrt(float64(cfg.ConvKernel))
		for i := range dst {
			dst[i] = float32((2*rng.Float64() - 1) * b)
		}
	case strings.HasSuffix(name, ".bias"):
		for i := range dst {
			dst[i] = float32(0.01 * rng.NormFloat64())
		}
	default: // projections, embeddings, lm_head
		for i := range dst {
			dst[i] = float32(0.02 * rng.NormFloat64())
		}
	}
}

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}
