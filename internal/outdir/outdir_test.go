package outdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mkfile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: got %v\nwant %s", what, err, want)
	}
}

func TestCheckDir(t *testing.T) {
	root := t.TempDir()
	model := filepath.Join(root, "model")
	mkfile(t, filepath.Join(model, "config.json"))
	file := filepath.Join(root, "notes.txt")
	mkfile(t, file)
	link := filepath.Join(root, "link")
	if err := os.Symlink(model, link); err != nil {
		t.Fatal(err)
	}

	wantErr(t, "file", CheckDir(file, true), "--out "+file+" exists and is not a directory; hyquant never replaces a file")
	wantErr(t, "same", CheckDir(model, true, model), "is the source model "+model+" itself; hyquant never writes over its input, even with --force")
	wantErr(t, "same, other spelling", CheckDir(model+"/./", true, model), "is the source model")
	wantErr(t, "same, through a link", CheckDir(link, true, model), "is the source model")
	wantErr(t, "inside", CheckDir(filepath.Join(model, "q"), true, model), "is inside the source model")
	wantErr(t, "inside, through a link, not existing", CheckDir(filepath.Join(link, "a", "b"), false, model), "is inside the source model")
	wantErr(t, "around", CheckDir(root, true, model), "contains the source model "+model+"; replacing it would delete the model")
	wantErr(t, "empty", CheckDir(" ", false), "--out is empty")
	wantErr(t, "not empty", CheckDir(model, false), "exists and is not empty (use --force to replace it)")
	for _, ok := range []string{filepath.Join(root, "new"), filepath.Join(root, "model2")} {
		if err := CheckDir(ok, false, model); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := CheckDir(filepath.Join(root, "out"), false, filepath.Join(root, "model.gguf")); err != nil {
		t.Errorf("beside a GGUF source: %v", err)
	}

	// A directory holding only an interrupted run's temporary files says so.
	old := filepath.Join(root, "synth")
	mkfile(t, filepath.Join(old, ".model-00001-of-00002.safetensors.tmp-123"))
	wantErr(t, "only temps", CheckDir(old, false), "output directory "+old+" holds only .model-00001-of-00002.safetensors.tmp-123, temporary files left by an interrupted run; remove them")
}

func TestCheckFile(t *testing.T) {
	root := t.TempDir()
	model := filepath.Join(root, "m.gguf")
	mkfile(t, model)
	dirModel := filepath.Join(root, "hf")
	mkfile(t, filepath.Join(dirModel, "config.json"))
	wantErr(t, "source file", CheckFile(model, true, model), "is the source model")
	wantErr(t, "inside source dir", CheckFile(filepath.Join(dirModel, "x.gguf"), true, dirModel), "is inside the source model")
	wantErr(t, "dir", CheckFile(dirModel, true), "is a directory; give a file name")
	wantErr(t, "exists", CheckFile(model, false), "exists (use --force to replace it)")
	if err := CheckFile(model, true, dirModel); err != nil {
		t.Errorf("replace with force: %v", err)
	}
}

func TestLeftoversAndReplace(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "q")
	mkfile(t, filepath.Join(root, ".q.tmp-111", "model.safetensors"))
	mkfile(t, filepath.Join(root, ".q.quant-222", "x"))
	mkfile(t, filepath.Join(root, ".qq.tmp-333", "x")) // another output's
	got := Leftovers(out + "/")
	want := []string{filepath.Join(root, ".q.quant-222"), filepath.Join(root, ".q.tmp-111")}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("leftovers %v, want %v", got, want)
	}

	// Replace never deletes a file standing at out.
	file := filepath.Join(root, "file")
	mkfile(t, file)
	tmp := filepath.Join(root, ".file.tmp-1")
	os.Mkdir(tmp, 0o755)
	wantErr(t, "file", Replace(tmp, file, true), "exists and is not a directory; it is left as it was")
	if b, err := os.ReadFile(file); err != nil || string(b) != "x" {
		t.Fatalf("file at out changed: %q %v", b, err)
	}
	// An empty directory is replaced; a non-empty one only with force.
	empty := filepath.Join(root, "empty")
	os.Mkdir(empty, 0o755)
	if err := Replace(tmp, empty, false); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(root, "fresh")
	tmp2 := filepath.Join(root, ".fresh.tmp-2")
	mkfile(t, filepath.Join(tmp2, "new"))
	if err := Replace(tmp2, fresh, false); err != nil {
		t.Fatal(err)
	}
	tmp3 := filepath.Join(root, ".fresh.tmp-3")
	mkfile(t, filepath.Join(tmp3, "newer"))
	wantErr(t, "not empty", Replace(tmp3, fresh, false), "output directory "+fresh+" is no longer empty")
	if err := Replace(tmp3, fresh, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(fresh, "newer")); err != nil {
		t.Fatal(err)
	}
}
