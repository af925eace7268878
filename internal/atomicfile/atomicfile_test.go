package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.json")
	if err := WriteFile(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	ents, _ := os.ReadDir(dir)
	if string(b) != "two" || len(ents) != 1 {
		t.Fatalf("content %q, %d entries", b, len(ents))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

// Of writers racing to create one file exactly one succeeds, the others
// get fs.ErrExist, and the file holds the winner's data whole.
func TestCreateExclusiveHasOneWinner(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "claim")
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) { errs <- CreateExclusive(p, []byte(fmt.Sprintf("writer %d", i))) }(i)
	}
	wins := 0
	for i := 0; i < n; i++ {
		switch err := <-errs; {
		case err == nil:
			wins++
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("loser's error %v is not fs.ErrExist", err)
		}
	}
	b, _ := os.ReadFile(p)
	ents, _ := os.ReadDir(dir)
	if wins != 1 || !strings.HasPrefix(string(b), "writer ") || len(ents) != 1 {
		t.Fatalf("%d winners, content %q, %d entries", wins, b, len(ents))
	}
}
