package eval

import "testing"

func TestWindows(t *testing.T) {
	ids := make([]int, 10)
	for i := range ids {
		ids[i] = i
	}
	w := Windows(ids, 3, 0)
	if len(w) != 3 || w[2][0] != 6 || len(w[2]) != 3 {
		t.Fatalf("windows %v", w)
	}
	if w := Windows(ids, 3, 2); len(w) != 2 {
		t.Fatalf("limit: %v", w)
	}
	if w := Windows(ids, 11, 0); len(w) != 0 {
		t.Fatalf("too short: %v", w)
	}
	// The reference counts: 380,381 tokens make 371 windows of 1024 and 742 of 512.
	big := make([]int, 380381)
	if n := len(Windows(big, 1024, 0)); n != 371 {
		t.Errorf("%d windows of 1024, want 371", n)
	}
	if n := len(Windows(big, 512, 0)); n != 742 {
		t.Errorf("%d windows of 512, want 742", n)
	}
}
