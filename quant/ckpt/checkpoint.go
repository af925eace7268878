package ckpt

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/hyquant/hyquant/internal/parallel"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sync"

	"github.com/hyquant/hyquant/internal/atomicfile"
	"github.com/hyquant/hyquant/internal/outdir"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// WriteOptions controls WriteCheckpoint.
type WriteOptions struct {
	// ShardBytes is the target size of a safetensors shard (default 5e9).
	ShardBytes int64
	// Progress is called with the bytes written so far and the total.
	Progress func(done, total int64)
	// Force replaces an existing output directory (never a file, never the
	// source model: see package outdir).
	Force bool
	// Context, when set, stops the write between tensors; the temporary
	// directory is removed and ctx's error returned.
	Context context.Context
}

// WriteSummary says what WriteCheckpoint wrote.
type WriteSummary struct {
	Dir         string
	TensorBytes int64 // bytes of tensor data, equal to the plan's footprint
	FileBytes   int64 // bytes of all files in the directory
	Shards      int
}

// WriteCheckpoint writes a quantised checkpoint directory: config.json and
// tokenizer.json of the source model, every stored tensor of the resolved
// plan (quant.Layout, the same function `plan` sums) in safetensors shards,
// and the manifest. Results holds tensors already quantised (by calib.Apply);
// every other quantised tensor must use a method without calibration and is
// quantised here while streaming, a block of rows at a time, from src (which
// may be opened with runtime.OpenCheckpointStream to keep memory small).
// The directory is built under a temporary name and renamed into place
// when complete.
func WriteCheckpoint(dir string, mf *runtime.ModelFiles, src *runtime.Checkpoint, r *plan.Resolved, results map[string]*quant.Quantized, actScales map[string]float32, o WriteOptions) (*WriteSummary, error) {
	if o.ShardBytes <= 0 {
		o.ShardBytes = 5e9
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if err := outdir.CheckDir(dir, o.Force, mf.Sources()...); err != nil {
		return nil, err
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, outdir.TempPattern(dir))
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	for _, name := range []string{"config.json", "tokenizer.json"} {
		b, err := mf.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("copying %s from %s: %w", name, mf.Ref, err)
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, name), b); err != nil {
			return nil, err
		}
	}

	specs := r.TensorSpecs()
	sw, err := newShardWriter(tmp, specs, o.ShardBytes)
	if err != nil {
		return nil, err
	}
	defer sw.abort()
	man := &Manifest{Format: ManifestFormat, Version: 1, SourceModel: mf.Describe(), Plan: r.Plan.Name, Categories: map[string]string{}}
	for _, c := range runtime.Categories {
		man.Categories[string(c)] = r.Plan.SpecFor(c).String()
	}
	if r.Plan.Recipe != nil {
		man.GGUFFileType = r.Plan.Recipe.Recipe.FileType
	}
	var done int64
	progress := func(n int64) {
		done += n
		if o.Progress != nil {
			o.Progress(done, sw.total)
		}
	}
	for _, a := range r.Assignments {
		if err := o.Context.Err(); err != nil {
			return nil, err
		}
		var q *quant.Quantized
		if a.Spec.Keep {
			err = writeKept(sw, src, a, progress)
		} else if q = results[a.Param.Name]; q != nil {
			err = writeQuantized(sw, a, q, progress)
		} else {
			q, err = streamQuantized(sw, src, a, progress)
		}
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", a.Param.Name, err)
		}
		man.Tensors = append(man.Tensors, manifestEntry(a, q, actScales[a.Param.Name]))
	}
	shards, err := sw.close()
	if err != nil {
		return nil, err
	}
	man.TotalBytes = sw.total
	mb, err := json.MarshalIndent(man, "", " ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, ManifestFile), mb); err != nil {
		return nil, err
	}
	if err := outdir.Replace(tmp, dir, o.Force); err != nil {
		return nil, err
	}
	ok = true
	s := &WriteSummary{Dir: dir, TensorBytes: sw.total, Shards: shards}
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			s.FileBytes += fi.Size()
		}
		return nil
	})
	return s, nil
}

// writeKept copies (or casts) a kept tensor in pieces.
func writeKept(sw *shardWriter, src *runtime.Checkpoint, a quant.Assignment, progress func(int64)) error {
	out := quant.Layout(a)[0]
	if err := sw.begin(out.Name); err != nil {
		return err
	}
	ti, ok := src.Lookup(a.Param.Name)
	if !ok {
		return fmt.Errorf("source checkpoint has no tensor %q", a.Param.Name)
	}
	n := ti.NumElements()
	const piece = 1 << 22
	in := make([]byte, min(n, piece)*int64(ti.DType.Size()))
	f := make([]float32, min(n, piece))
	outb := make([]byte, min(n, piece)*int64(out.DType.Size()))
	for off := int64(0); off < n; off += piece {
		m := min(piece, n-off)
		inb := in[:m*int64(ti.DType.Size())]
		if err := src.ReadAt(a.Param.Name, off*int64(ti.DType.Size()), inb); err != nil {
			return err
		}
		if err := runtime.CheckFiniteRaw(inb, ti, off); err != nil {
			return err
		}
		data := inb
		if out.DType != ti.DType {
			if err := safetensors.ToFloat32(f[:m], inb, ti.DType); err != nil {
				return err
			}
			data = outb[:m*int64(out.DType.Size())]
			if err := safetensors.FromFloat32(data, f[:m], out.DType); err != nil {
				return err
			}
		}
		if _, err := sw.Write(data); err != nil {
			return err
		}
		progress(int64(len(data)))
	}
	return nil
}

// encodeParts turns a quantised tensor into the bytes of its stored parts,
// in Layout order: codes, scales, zeros (asymmetric), transform tensors.
func encodeParts(a quant.Assignment, q *quant.Quantized) (codes, scales, zeros []byte, aux []quant.AuxTensor, err error) {
	if err := q.Q.Validate(); err != nil {
		return nil, nil, nil, nil, err
	}
	scales = make([]byte, len(q.Q.Scales)*a.Spec.ScaleDType.Size())
	if err := safetensors.FromFloat32(scales, q.Q.Scales, a.Spec.ScaleDType); err != nil {
		return nil, nil, nil, nil, err
	}
	if !a.Spec.Symmetric {
		sr, g := grid.ScaleGrid(a.Spec.Granularity, q.Q.Rows, q.Q.Cols)
		zeros = kernels.PackCodes(q.Q.Zeros, sr, g, q.Q.Bits)
	}
	if q.Transform != nil {
		aux = q.Transform.Tensors(a.Param.Name)
	}
	return q.Q.Codes, scales, zeros, aux, nil
}

func writeQuantized(sw *shardWriter, a quant.Assignment, q *quant.Quantized, progress func(int64)) error {
	if q.Blocks != nil {
		if err := sw.whole(quant.Layout(a)[0].Name, q.Blocks); err != nil {
			return err
		}
		progress(int64(len(q.Blocks)))
		return nil
	}
	codes, scales, zeros, aux, err := encodeParts(a, q)
	if err != nil {
		return err
	}
	parts := [][]byte{codes, scales}
	if !a.Spec.Symmetric {
		parts = append(parts, zeros)
	}
	for _, t := range aux {
		parts = append(parts, t.Data)
	}
	layout := quant.Layout(a)
	if len(layout) != len(parts) {
		return fmt.Errorf("method %s stored %d tensors, its layout says %d", a.Spec.Method, len(parts), len(layout))
	}
	for i, p := range parts {
		if err := sw.whole(layout[i].Name, p); err != nil {
			return err
		}
		progress(int64(len(p)))
	}
	return nil
}

// streamQuantized quantises a tensor that needs no calibration a block of
// rows at a time (the rows of per-channel and per-group quantisation are
// independent), writing codes as they come and scales/zeros after.
func streamQuantized(sw *shardWriter, src *runtime.Checkpoint, a quant.Assignment, progress func(int64)) (*quant.Quantized, error) {
	m, _ := quant.Lookup(a.Spec.Method)
	if m.NeedsCalibration(a.Spec) && a.Importance == nil {
		return nil, fmt.Errorf("method %s needs calibration; quantise with calibration data first", a.Spec.Method)
	}
	ti, ok := src.Lookup(a.Param.Name)
	if !ok {
		return nil, fmt.Errorf("source checkpoint has no tensor %q", a.Param.Name)
	}
	if a.Spec.Method == quant.GGMLMethod {
		return streamGGML(sw, src, ti, a, progress)
	}
	rowsPer := a.Rows
	if a.Spec.Granularity.Kind != grid.PerTensor && a.Spec.Rotation == "" {
		rowsPer = max(1, (1<<22)/a.Cols) // about 16 MB of float32 a block
	}
	layout := quant.Layout(a)
	if err := sw.begin(layout[0].Name); err != nil {
		return nil, err
	}
	var scales []float32
	var zeros []uint8
	var last *quant.Quantized
	es := int64(ti.DType.Size())
	raw := make([]byte, int64(min(rowsPer, a.Rows)*a.Cols)*es)
	w := make([]float32, min(rowsPer, a.Rows)*a.Cols)
	for r0 := 0; r0 < a.Rows; r0 += rowsPer {
		rows := min(rowsPer, a.Rows-r0)
		n := rows * a.Cols
		if err := readRows(src, ti, a.Param.Name, int64(r0*a.Cols), raw[:int64(n)*es], w[:n]); err != nil {
			return nil, err
		}
		qs, err := quantizeRows(m, a, w[:n], rows, rowsPer < a.Rows)
		if err != nil {
			return nil, err
		}
		for _, q := range qs {
			if _, err := sw.Write(q.Q.Codes); err != nil {
				return nil, err
			}
			progress(int64(len(q.Q.Codes)))
			scales = append(scales, q.Q.Scales...)
			zeros = append(zeros, q.Q.Zeros...)
			last = q
		}
	}
	full := &quant.Quantized{Q: &kernels.QMatrix{Rows: a.Rows, Cols: a.Cols, Bits: a.Spec.Bits, GroupSize: last.Q.GroupSize, PerTensor: last.Q.PerTensor, Scales: scales}, Transform: last.Transform}
	if !a.Spec.Symmetric {
		full.Q.Zeros = zeros
	}
	sb := make([]byte, len(scales)*a.Spec.ScaleDType.Size())
	if err := safetensors.FromFloat32(sb, scales, a.Spec.ScaleDType); err != nil {
		return nil, err
	}
	rest := [][]byte{sb}
	if !a.Spec.Symmetric {
		sr, g := grid.ScaleGrid(a.Spec.Granularity, a.Rows, a.Cols)
		rest = append(rest, kernels.PackCodes(zeros, sr, g, a.Spec.Bits))
	}
	if full.Transform != nil {
		for _, t := range full.Transform.Tensors(a.Param.Name) {
			rest = append(rest, t.Data)
		}
	}
	if len(rest)+1 != len(layout) {
		return nil, fmt.Errorf("method %s stored %d tensors, its layout says %d", a.Spec.Method, len(rest)+1, len(layout))
	}
	for i, p := range rest {
		if err := sw.whole(layout[i+1].Name, p); err != nil {
			return nil, err
		}
		progress(int64(len(p)))
	}
	return full, nil
}

// quantizeRows quantises a block of rows, split over the CPUs when rows
// are independent (per-channel and per-group granularity); the parts come
// back in row order.
func quantizeRows(m quant.Method, a quant.Assignment, w []float32, rows int, split bool) ([]*quant.Quantized, error) {
	parts := 1
	if split {
		parts = min(goruntime.GOMAXPROCS(0), rows)
	}
	out := make([]*quant.Quantized, parts)
	errs := make([]error, parts)
	parallel.Parts(rows, parts, func(i, r0, r1 int) {
		part := a
		part.Rows = r1 - r0
		out[i], errs[i] = m.Quantize(w[r0*a.Cols:r1*a.Cols], part, nil)
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// shardWriter writes a sequence of declared tensors over several safetensors
// files of about ShardBytes each, plus the index.
type shardWriter struct {
	dir    string
	shards [][]safetensors.TensorSpec
	names  []string
	total  int64
	cur    int
	w      *safetensors.Writer
	index  map[string]string
}

func newShardWriter(dir string, specs []safetensors.TensorSpec, shardBytes int64) (*shardWriter, error) {
	sw := &shardWriter{dir: dir, cur: -1, index: map[string]string{}}
	var size int64
	for _, s := range specs {
		if len(sw.shards) == 0 || (size+s.Bytes() > shardBytes && size > 0) {
			sw.shards = append(sw.shards, nil)
			size = 0
		}
		n := len(sw.shards) - 1
		sw.shards[n] = append(sw.shards[n], s)
		size += s.Bytes()
		sw.total += s.Bytes()
	}
	for i := range sw.shards {
		name := "model.safetensors"
		if len(sw.shards) > 1 {
			name = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(sw.shards))
		}
		sw.names = append(sw.names, name)
		for _, s := range sw.shards[i] {
			sw.index[s.Name] = name
		}
	}
	return sw, nil
}

// begin starts the next tensor, opening the next shard when it starts one.
func (sw *shardWriter) begin(name string) error {
	shard, ok := sw.index[name]
	if !ok {
		return fmt.Errorf("tensor %q is not in the plan's layout", name)
	}
	if sw.cur < 0 || sw.names[sw.cur] != shard {
		if sw.w != nil {
			if err := sw.w.Close(); err != nil {
				return err
			}
			sw.w = nil
		}
		sw.cur++
		if sw.cur >= len(sw.names) || sw.names[sw.cur] != shard {
			return fmt.Errorf("tensor %q written out of order", name)
		}
		w, err := safetensors.Create(filepath.Join(sw.dir, shard), sw.shards[sw.cur], map[string]string{"format": "hyquant"})
		if err != nil {
			return err
		}
		sw.w = w
	}
	return sw.w.BeginTensor(name)
}

func (sw *shardWriter) Write(p []byte) (int, error) { return sw.w.Write(p) }

func (sw *shardWriter) whole(name string, data []byte) error {
	if err := sw.begin(name); err != nil {
		return err
	}
	_, err := sw.w.Write(data)
	return err
}

// close finishes the last shard and writes the index; it returns the
// number of shards.
func (sw *shardWriter) close() (int, error) {
	if sw.w != nil {
		if err := sw.w.Close(); err != nil {
			return 0, err
		}
		sw.w = nil
	}
	if sw.cur != len(sw.names)-1 {
		return 0, fmt.Errorf("%d of %d shards written", sw.cur+1, len(sw.names))
	}
	if len(sw.names) > 1 {
		b, err := json.MarshalIndent(map[string]any{"metadata": map[string]any{"total_size": sw.total}, "weight_map": sw.index}, "", "  ")
		if err != nil {
			return 0, err
		}
		if err := atomicfile.WriteFile(filepath.Join(sw.dir, runtime.IndexFile), b); err != nil {
			return 0, err
		}
	}
	return len(sw.names), nil
}

func (sw *shardWriter) abort() {
	if sw.w != nil {
		sw.w.Abort()
		sw.w = nil
	}
}

// OpenQuantized reads a quantised checkpoint directory as a WeightSource.
// Every manifest entry is checked against the config's inventory and the
// layout its spec implies; codes stay in the mapped file.
func OpenQuantized(mf *runtime.ModelFiles, mode runtime.WeightMode) (runtime.WeightSource, io.Closer, error) {
	man, err := ReadManifest(mf.Dir)
	if err != nil {
		return nil, nil, err
	}
	ck, err := runtime.OpenCheckpoint(mf.Dir)
	if err != nil {
		return nil, nil, err
	}
	ws, err := decodeQuantized(mf, ck, man, mode)
	if err != nil {
		ck.Close()
		return nil, nil, err
	}
	return ws, ck, nil
}

func decodeQuantized(mf *runtime.ModelFiles, ck *runtime.Checkpoint, man *Manifest, mode runtime.WeightMode) (*PackedWeights, error) {
	inv := runtime.BuildInventory(mf.Config)
	manPath := filepath.Join(mf.Dir, ManifestFile)
	pw := &PackedWeights{Results: map[string]*quant.Quantized{}, Specs: map[string]quant.Spec{}, ActScales: map[string]float32{}}
	seen := map[string]bool{}
	for _, t := range man.Tensors {
		if seen[t.Name] {
			return nil, fmt.Errorf("%s: tensor %q listed twice", manPath, t.Name)
		}
		seen[t.Name] = true
		a, err := t.assignment(inv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", manPath, err)
		}
		for _, part := range quant.Layout(a) {
			ti, ok := ck.Lookup(part.Name)
			if !ok {
				return nil, fmt.Errorf("%s: %s is missing stored tensor %q", manPath, t.Name, part.Name)
			}
			if ti.DType != part.DType || !slices.Equal(ti.Shape, part.Shape) {
				return nil, fmt.Errorf("%s: stored tensor %q is %s %v, its spec needs %s %v", ti.File, part.Name, ti.DType, ti.Shape, part.DType, part.Shape)
			}
		}
		pw.Specs[t.Name] = a.Spec
		if a.Spec.Keep {
			continue
		}
		q, err := decodeOne(ck, a, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name, err)
		}
		pw.Results[t.Name] = q
		if t.ActScale > 0 {
			pw.ActScales[t.Name] = t.ActScale
		}
	}
	for _, p := range inv.Params {
		if !seen[p.Name] {
			return nil, fmt.Errorf("%s: no entry for parameter %q", manPath, p.Name)
		}
	}
	pw.Float = runtime.NewCheckpointWeights(ck, inv, mode)
	return pw, nil
}

func decodeOne(ck *runtime.Checkpoint, a quant.Assignment, t ManifestTensor) (*quant.Quantized, error) {
	name := a.Param.Name
	if a.Spec.Method == quant.GGMLMethod {
		blocks, _, err := ck.Raw(name + quant.GGMLBlocksSuffix)
		if err != nil {
			return nil, err
		}
		if _, err := ggml.NewRows(blocks, a.Spec.GGMLType, a.Rows, a.Cols); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &quant.Quantized{Blocks: blocks, BlockType: a.Spec.GGMLType, Rows: a.Rows, Cols: a.Cols}, nil
	}
	codes, _, err := ck.Raw(name + grid.CodesSuffix)
	if err != nil {
		return nil, err
	}
	sraw, _, err := ck.Raw(name + grid.ScalesSuffix)
	if err != nil {
		return nil, err
	}
	sr, groups := grid.ScaleGrid(a.Spec.Granularity, a.Rows, a.Cols)
	q := &kernels.QMatrix{Rows: a.Rows, Cols: a.Cols, Bits: a.Spec.Bits, GroupSize: a.Cols, PerTensor: a.Spec.Granularity.Kind == grid.PerTensor, Codes: codes,
		Scales: make([]float32, sr*groups)}
	if a.Spec.Granularity.Kind == grid.PerGroup {
		q.GroupSize = a.Spec.Granularity.GroupSize
	}
	if err := safetensors.ToFloat32(q.Scales, sraw, a.Spec.ScaleDType); err != nil {
		return nil, err
	}
	if !a.Spec.Symmetric {
		zraw, _, err := ck.Raw(name + grid.ZerosSuffix)
		if err != nil {
			return nil, err
		}
		q.Zeros = kernels.UnpackCodes(zraw, sr, groups, a.Spec.Bits)
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	out := &quant.Quantized{Q: q}
	if t.Transform != "" {
		tr, err := quant.DecodeTransform(t.Transform, name, a.Cols, func(n string) ([]byte, bool) {
			b, _, err := ck.Raw(n)
			return b, err == nil
		})
		if err != nil {
			return nil, err
		}
		out.Transform = tr
	}
	return out, nil
}

func init() {
	runtime.RegisterFormat(runtime.Format{
		Name: ManifestFormat,
		Detect: func(mf *runtime.ModelFiles) bool {
			if mf.Embedded {
				return false
			}
			_, err := os.Stat(filepath.Join(mf.Dir, ManifestFile))
			return err == nil
		},
		Open: OpenQuantized,
	})
}

// streamGGML quantises a weight into a ggml block type a block of rows at
// a time (rows are independent; the importance matrix, if any, is given).
func streamGGML(sw *shardWriter, src *runtime.Checkpoint, ti runtime.TensorInfo, a quant.Assignment, progress func(int64)) (*quant.Quantized, error) {
	if err := sw.begin(quant.Layout(a)[0].Name); err != nil {
		return nil, err
	}
	rb, err := a.Spec.GGMLType.RowBytes(int64(a.Cols))
	if err != nil {
		return nil, err
	}
	rowsPer := max(1, (1<<22)/a.Cols)
	es := int64(ti.DType.Size())
	raw := make([]byte, int64(min(rowsPer, a.Rows)*a.Cols)*es)
	w := make([]float32, min(rowsPer, a.Rows)*a.Cols)
	out := make([]byte, int64(min(rowsPer, a.Rows))*rb)
	for r0 := 0; r0 < a.Rows; r0 += rowsPer {
		rows := min(rowsPer, a.Rows-r0)
		n := rows * a.Cols
		if err := readRows(src, ti, a.Param.Name, int64(r0*a.Cols), raw[:int64(n)*es], w[:n]); err != nil {
			return nil, err
		}
		b := out[:int64(rows)*rb]
		var qerr error
		var mu sync.Mutex
		parallel.For(rows, 1, func(lo, hi int) { // rows are independent
			err := a.Spec.GGMLType.Quantize(b[int64(lo)*rb:int64(hi)*rb], w[lo*a.Cols:hi*a.Cols], hi-lo, a.Cols, a.Importance)
			if err != nil {
				mu.Lock()
				qerr = err
				mu.Unlock()
			}
		})
		if qerr != nil {
			return nil, fmt.Errorf("%s: %w", a.Param.Name, qerr)
		}
		if _, err := sw.Write(b); err != nil {
			return nil, err
		}
		progress(int64(len(b)))
	}
	return &quant.Quantized{BlockType: a.Spec.GGMLType, Rows: a.Rows, Cols: a.Cols}, nil
}

// readRows reads len(w) values of a tensor from value offset off (through
// raw, sized for them in the stored dtype) and widens them to float32.
func readRows(src *runtime.Checkpoint, ti runtime.TensorInfo, name string, off int64, raw []byte, w []float32) error {
	if err := src.ReadAt(name, off*int64(ti.DType.Size()), raw); err != nil {
		return err
	}
	if err := safetensors.ToFloat32(w, raw, ti.DType); err != nil {
		return err
	}
	return runtime.CheckFinite(w, ti, off)
}
