package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Plain lines: none sooner than lineEvery after the last, except the final
// count, which always prints.
func TestLines(t *testing.T) {
	var buf bytes.Buffer
	start := time.Now()
	l := &lines{w: &buf, total: 3, description: "quantise", start: start, last: start}
	l.set(1, "")
	if buf.Len() != 0 {
		t.Fatalf("a line within %v of the start: %q", lineEvery, buf.String())
	}
	l.last = start.Add(-lineEvery)
	l.set(2, "")
	l.set(3, "write MB")
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(got) != 2 || !strings.HasPrefix(got[0], "quantise 2/3 ") || !strings.HasPrefix(got[1], "write MB 3/3 ") || !strings.HasSuffix(got[1], "s") {
		t.Errorf("lines %q", got)
	}
}
