package limits

import (
	"math"
	"testing"
)

// Flags and config fields share these messages: a flag error is the
// field's message after the flag's name.
func TestRules(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{SeqLen.Check(1), "must be at least 2, got 1"},
		{SeqLen.Check(1 << 21), "must be at most 1048576, got 2097152"},
		{MaxWindows.Check(-1), "must be 0 (all windows) or positive, got -1"},
		{Threads.Flag("threads", -4), "--threads: must be 0 (all cores) or positive, got -4"},
		{Segments.Flag("segments", 0), "--segments: must be at least 1, got 0"},
		{ShardGB.Flag("shard-gb", math.NaN()), "--shard-gb: must be a positive number at most 1000, got NaN"},
		{ShardGB.Check(math.Inf(1)), "must be a positive number at most 1000, got +Inf"},
	} {
		if c.err == nil || c.err.Error() != c.want {
			t.Errorf("got %v, want %q", c.err, c.want)
		}
	}
	for _, err := range []error{SeqLen.Check(2), MaxWindows.Check(0), Threads.Check(0), Length.Check(512), ShardGB.Check(0.001)} {
		if err != nil {
			t.Errorf("valid value refused: %v", err)
		}
	}
}
