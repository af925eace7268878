package dirlock

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestSecondHolderIsRefusedAndNamed(t *testing.T) {
	dir := t.TempDir()
	a, err := Acquire(dir, "first")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "second")
	if err == nil {
		t.Fatal("a second lock on the same directory was granted")
	}
	host, _ := os.Hostname()
	for _, want := range []string{"in use by another hyquant process", fmt.Sprintf("pid %d on host %s", os.Getpid(), host), "first"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(dir, "third")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	defer b.Release()
	got, _ := os.ReadFile(dir + "/" + File)
	if !strings.Contains(string(got), ": third") || strings.Contains(string(got), "first") {
		t.Errorf("lock file says %q, want the new holder only", got)
	}
}

func TestAcquireNeedsTheDirectory(t *testing.T) {
	if _, err := Acquire(t.TempDir()+"/missing", "x"); err == nil {
		t.Error("locked a directory that does not exist")
	}
}
