package experiments

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is a deterministic share of an experiment's runs: shard I of N
// (1 <= I <= N) takes the runs at positions p with p mod N == I-1, where
// position 0 is the baseline and position k the k-th run of the config in
// file order (runs:, then sweep:, then sensitivity:). The zero Shard is
// every run.
type Shard struct{ I, N int }

// ParseShard reads "i/n" (1-based: "1/3", "2/3", "3/3").
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("--shard %q: want i/n, e.g. 1/3 (shard i of n, numbered from 1)", s)
	}
	if n < 1 || n > 1_000_000 {
		return Shard{}, fmt.Errorf("--shard %q: n = %d, want between 1 and 1000000", s, n)
	}
	if i < 1 || i > n {
		return Shard{}, fmt.Errorf("--shard %q: i = %d, want between 1 and %d (shards are numbered from 1; a 0-based index such as Kubernetes' JOB_COMPLETION_INDEX needs +1)", s, i, n)
	}
	return Shard{I: i, N: n}, nil
}

// Sharded reports whether s is a proper share (given by --shard).
func (s Shard) Sharded() bool { return s.N > 0 }

// Has reports whether the run at position p (0 = baseline) is in s.
func (s Shard) Has(p int) bool { return s.N <= 1 || p%s.N == s.I-1 }

func (s Shard) String() string {
	if !s.Sharded() {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.I, s.N)
}
