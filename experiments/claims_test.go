package experiments

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func testClaims(dir, id string, stale time.Duration) *claims {
	return &claims{dir: dir, owner: Owner{ID: id, PID: 1, Host: "h", Shard: "1/2"}, stale: stale, beat: stale / 10}
}

// A live claim is left to its owner; once its heartbeat is older than the
// stale timeout (the owner killed) it is taken over, and of several
// processes racing for the takeover exactly one wins.
func TestStaleClaimTakeover(t *testing.T) {
	dir := t.TempDir()
	a := testClaims(dir, "a", time.Minute)
	ca, _, err := a.take("r")
	if err != nil || ca == nil {
		t.Fatalf("first claim: %v %v", ca, err)
	}
	b := testClaims(dir, "b", time.Minute)
	if cb, holder, err := b.take("r"); err != nil || cb != nil || holder == nil || holder.ID != "a" {
		t.Fatalf("a live claim was not left to its owner: claim %v holder %+v err %v", cb, holder, err)
	}

	// The owner is killed: its claim stays, its heartbeat stops.
	close(ca.stop)
	ca.wg.Wait()
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(ca.path, old, old); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var mu sync.Mutex
	var won []*claim
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, holder, err := testClaims(dir, string(rune('b'+i)), time.Minute).take("r")
			if err != nil {
				t.Error(err)
				return
			}
			if c == nil && holder == nil {
				t.Error("neither a claim nor a holder")
			}
			if c != nil {
				mu.Lock()
				won = append(won, c)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d processes took the stale claim over, want 1", len(won))
	}
	if won[0].gen != 2 {
		t.Errorf("takeover has generation %d, want 2", won[0].gen)
	}
	if _, err := os.Stat(ca.path); !os.IsNotExist(err) {
		t.Errorf("the stale generation is still there: %v", err)
	}
	var o Owner
	b2, _ := os.ReadFile(won[0].path)
	if err := json.Unmarshal(b2, &o); err != nil || o.ID == "a" {
		t.Errorf("claim file names %+v (%v)", o, err)
	}
	won[0].release()
	ents, _ := os.ReadDir(filepath.Join(dir, "r"))
	if len(ents) != 0 {
		t.Errorf("claims left after release: %v", ents)
	}
}

// An owner whose claim was taken over (its heartbeat stalled past the
// timeout) learns it at its next heartbeat and leaves the new claim alone.
func TestOwnerNoticesTakeover(t *testing.T) {
	dir := t.TempDir()
	a := testClaims(dir, "a", 200*time.Millisecond)
	ca, _, err := a.take("r")
	if err != nil || ca == nil {
		t.Fatal(err)
	}
	// Another process's takeover: the next generation appears.
	next := filepath.Join(dir, "r", genName(2))
	if err := os.WriteFile(next, []byte(`{"id":"b"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ca.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the owner did not notice its claim was taken over")
	}
	ca.release()
	if _, err := os.Stat(next); err != nil {
		t.Errorf("release removed the new owner's claim: %v", err)
	}
	// A fresh claim keeps its heartbeat: it is never stale while its owner lives.
	b := testClaims(dir, "c", 200*time.Millisecond)
	cb, _, err := b.take("s")
	if err != nil || cb == nil {
		t.Fatal(err)
	}
	defer cb.release()
	time.Sleep(500 * time.Millisecond)
	if c, holder, _ := testClaims(dir, "d", 200*time.Millisecond).take("s"); c != nil || holder == nil || holder.ID != "c" {
		t.Fatalf("a claim with a live heartbeat was taken over (holder %+v)", holder)
	}
}

// A process holding the directory alone takes any claim over at once: it
// can only have been left by a process that is gone.
func TestAloneTakesLeftoverClaims(t *testing.T) {
	dir := t.TempDir()
	a := testClaims(dir, "a", time.Hour)
	ca, _, _ := a.take("r")
	close(ca.stop) // killed
	ca.wg.Wait()
	b := testClaims(dir, "b", time.Hour)
	b.alone = true
	cb, _, err := b.take("r")
	if err != nil || cb == nil {
		t.Fatalf("leftover claim not taken: %v", err)
	}
	cb.release()
}
