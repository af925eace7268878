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

// Shared holders coexist; an exclusive one excludes them and they it;
// Share turns an exclusive lock into a shared one.
func TestSharedHolders(t *testing.T) {
	dir := t.TempDir()
	a, err := AcquireShared(dir, "shard 1/2")
	if err != nil {
		t.Fatal(err)
	}
	b, err := AcquireShared(dir, "shard 2/2")
	if err != nil {
		t.Fatalf("a second shared holder was refused: %v", err)
	}
	if _, err := Acquire(dir, "plain"); err == nil || !strings.Contains(err.Error(), "in use by another hyquant process") {
		t.Fatalf("an exclusive lock beside shared holders: %v", err)
	}
	a.Release()
	b.Release()
	x, err := Acquire(dir, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireShared(dir, "shard"); err == nil || !strings.Contains(err.Error(), "plain") {
		t.Fatalf("a shared lock beside an exclusive holder: %v", err)
	}
	if err := x.Share(); err != nil {
		t.Fatal(err)
	}
	c, err := AcquireShared(dir, "shard")
	if err != nil {
		t.Fatalf("after Share a shared holder was refused: %v", err)
	}
	c.Release()
	x.Release()
	s, err := Serialize(dir, ".section.lock")
	if err != nil {
		t.Fatal(err)
	}
	s.Release()
}
