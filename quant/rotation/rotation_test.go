package rotation

import (
	"math"
	"testing"

	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

func TestRotationsAreOrthogonal(t *testing.T) {
	for _, c := range []struct {
		kind string
		n    int
	}{{Hadamard, 256}, {Orthogonal, 96}, {Auto, 64}, {Auto, 48}} {
		r, err := New(c.kind, c.n, 7)
		if err != nil {
			t.Fatal(err)
		}
		if e := orthogonalityError(r.Dense(), c.n); e > 2e-6 {
			t.Errorf("%s %d: max |QᵀQ − I| = %.3g", c.kind, c.n, e)
		}
	}
	if r, _ := New(Auto, 48, 0); r.Kind != Orthogonal {
		t.Errorf("auto at width 48 chose %s, want %s", r.Kind, Orthogonal)
	}
	if _, err := New(Hadamard, 48, 0); err == nil {
		t.Error("a Hadamard rotation of width 48 was accepted")
	}
}

func TestRotationIsSeeded(t *testing.T) {
	a, _ := New(Hadamard, 64, 1)
	b, _ := New(Hadamard, 64, 1)
	c, _ := New(Hadamard, 64, 2)
	same, differ := true, false
	for i := range a.Signs {
		same = same && a.Signs[i] == b.Signs[i]
		differ = differ || a.Signs[i] != c.Signs[i]
	}
	if !same || !differ {
		t.Errorf("signs: same seed equal %v, other seed differs %v", same, differ)
	}
}

// TestHadamardRotationByHand checks Q·x for width 2: H = [1 1; 1 −1]/√2.
func TestHadamardRotationByHand(t *testing.T) {
	r := &Residual{Kind: Hadamard, N: 2, Signs: []float32{1, -1}}
	x := []float32{3, 5} // diag(s)·x = (3, −5); H·(3, −5) = (−2, 8)/√2
	r.RotateRows(x, 1)
	want := []float64{-2 / math.Sqrt2, 8 / math.Sqrt2}
	for i := range x {
		if math.Abs(float64(x[i])-want[i]) > 1e-6 {
			t.Errorf("Q·x[%d] = %v, want %v", i, x[i], want[i])
		}
	}
	w := []float32{1, 2, 3, 4} // 2×2, columns (1,3) and (2,4)
	r.RotateColumns(w, 2)
	// Q·(1,3) = H·(1,−3) = (−2, 4)/√2; Q·(2,4) = H·(2,−4) = (−2, 6)/√2
	wantW := []float64{-2, -2, 4, 6}
	for i := range w {
		if math.Abs(float64(w[i])-wantW[i]/math.Sqrt2) > 1e-6 {
			t.Errorf("Q·W[%d] = %v, want %v", i, w[i], wantW[i]/math.Sqrt2)
		}
	}
}

func openMini(t *testing.T) (*runtime.ModelFiles, *runtime.Checkpoint) {
	t.Helper()
	mf, err := runtime.ResolveModel("")
	if err != nil {
		t.Fatal(err)
	}
	ck, err := mf.OpenCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	return mf, ck
}

func loadModel(t *testing.T, cfg *runtime.Config, ck *runtime.Checkpoint) *runtime.Model {
	t.Helper()
	m, err := runtime.LoadModel(cfg, runtime.NewCheckpointWeights(ck, runtime.BuildInventory(cfg), runtime.WeightsFloat32))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFusedRotationKeepsLogits: the mini rotated (in float32) computes the
// same logits as the original on the golden window's first 32 and last 8
// positions, to 1e-4, for both kinds of rotation; the norms became ones.
func TestFusedRotationKeepsLogits(t *testing.T) {
	mf, ck := openMini(t)
	defer ck.Close()
	golden, err := safetensors.Open("../../models/nemotron-h-mini/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer golden.Close()
	ids := goldenIDs(t, golden)
	want, err := loadModel(t, mf.Config, ck).Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	v := mf.Config.VocabSize
	for _, kind := range []string{Hadamard, Orthogonal} {
		rot, q, err := Fuse(ck, mf.Config, Options{Kind: kind, Seed: 3, DType: safetensors.F32})
		if err != nil {
			t.Fatal(err)
		}
		if q.Kind != kind {
			t.Fatalf("asked for %s, got %s", kind, q.Kind)
		}
		got, err := loadModel(t, mf.Config, rot).Logits(ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, span := range [][2]int{{0, 32}, {1016, 1024}} {
			d := maxAbsDiff(got[span[0]*v:span[1]*v], want[span[0]*v:span[1]*v])
			t.Logf("%s: positions %d-%d: max |Δlogit| %.3g", kind, span[0], span[1]-1, d)
			if d > 1e-4 {
				t.Errorf("%s: positions %d-%d: logits moved by %.3g, want ≤ 1e-4", kind, span[0], span[1]-1, d)
			}
		}
		g, err := rot.Float32("backbone.norm_f.weight")
		if err != nil || g[0] != 1 || g[len(g)-1] != 1 {
			t.Errorf("norm_f after rotation: %v %v", g[:2], err)
		}
	}
}

// TestFusedRotationChangesWeights guards against a rotation that does
// nothing: the rotated in_proj differs from the original, its rows keep
// their norms once the folded norm is divided out, and dtypes are kept.
func TestFusedRotationChangesWeights(t *testing.T) {
	mf, ck := openMini(t)
	defer ck.Close()
	rot, _, err := Fuse(ck, mf.Config, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"backbone.layers.0.mixer.in_proj.weight", "backbone.embeddings.weight", "lm_head.weight", "backbone.layers.0.mixer.out_proj.weight"} {
		a, _ := ck.Lookup(name)
		b, _ := rot.Lookup(name)
		if a.DType != b.DType {
			t.Errorf("%s: stored as %s after rotation, was %s", name, b.DType, a.DType)
		}
		x, _ := ck.Float32(name)
		y, err := rot.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		same := 0
		for i := range x {
			if x[i] == y[i] {
				same++
			}
		}
		if same > len(x)/10 {
			t.Errorf("%s: %d of %d values unchanged by the rotation", name, same, len(x))
		}
	}
	// An embedding row keeps its length (Q is orthogonal; bf16 rounding aside).
	e0, _ := ck.Float32("backbone.embeddings.weight")
	e1, _ := rot.Float32("backbone.embeddings.weight")
	n := mf.Config.HiddenSize
	if a, b := length(e0[:n]), length(e1[:n]); math.Abs(a-b) > 1e-2*a {
		t.Errorf("embedding row 0: |e| = %v before, %v after", a, b)
	}
}

func TestFuseRefusesTiedEmbeddings(t *testing.T) {
	mf, ck := openMini(t)
	defer ck.Close()
	cfg := *mf.Config
	cfg.TieWordEmbeddings = true
	if _, _, err := Fuse(ck, &cfg, Options{}); err == nil {
		t.Error("tied embeddings were rotated")
	}
}

func length(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

func maxAbsDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > worst || math.IsNaN(d) {
			worst = d
		}
	}
	return worst
}

func goldenIDs(t *testing.T, f *safetensors.File) []int {
	raw, ti, err := f.Raw("input_ids")
	if err != nil || ti.DType != safetensors.I32 {
		t.Fatalf("input_ids: %v %v", ti.DType, err)
	}
	ids := make([]int, len(raw)/4)
	for i := range ids {
		ids[i] = int(int32(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24))
	}
	return ids
}

// TestRotatedModelExportsToGGUF: the rotated checkpoint is an ordinary
// one: exported to GGUF (f32) and read back, it computes the original
// model's logits.
func TestRotatedModelExportsToGGUF(t *testing.T) {
	mf, ck := openMini(t)
	defer ck.Close()
	rot, _, err := Fuse(ck, mf.Config, Options{Kind: Hadamard, Seed: 5, DType: safetensors.F32})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir() + "/rotated.gguf"
	if _, err := runtime.ExportGGUF(out, mf, rot, runtime.GGUFExportOptions{Name: "rotated"}); err != nil {
		t.Fatal(err)
	}
	l, err := runtime.OpenModel(out, runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ids := []int{1, 450, 2365, 310, 278, 3186, 338, 1063, 2988, 13, 1576, 4799}
	got, err := l.Model.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	want, err := loadModel(t, mf.Config, ck).Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(got, want); d > 1e-4 {
		t.Errorf("the rotated model read back from GGUF moved the logits by %.3g, want ≤ 1e-4", d)
	} else {
		t.Logf("rotated GGUF: max |Δlogit| %.3g", d)
	}
}
