// Package parallel splits loops over the CPUs: the one place hyquant's
// packages (outside the kernels, which schedule their own tiles) start
// worker goroutines.
package parallel

import (
	"runtime"
	"sync"
)

// For runs body over [0, n) in contiguous chunks, one per CPU but each at
// least minChunk items long, and waits. With one chunk it runs inline.
func For(n, minChunk int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if minChunk < 1 {
		minChunk = 1
	}
	workers = min(workers, (n+minChunk-1)/minChunk)
	Parts(n, workers, func(_, lo, hi int) { body(lo, hi) })
}

// Parts splits [0, n) into k contiguous parts [i·n/k, (i+1)·n/k), runs
// body(i, lo, hi) for each concurrently, and waits. With k <= 1 it runs
// inline.
func Parts(n, k int, body func(part, lo, hi int)) {
	if k <= 1 {
		body(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		lo, hi := i*n/k, (i+1)*n/k
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(i, lo, hi)
		}()
	}
	wg.Wait()
}

// First runs scan over [0, n) in contiguous chunks of at least minChunk
// items, concurrently, where scan(lo, hi) returns the first index in
// [lo, hi) it looks for or -1; First returns the smallest such index over
// all chunks, or -1 (the same answer as one scan over everything).
func First(n, minChunk int, scan func(lo, hi int) int) int {
	if n <= 0 {
		return -1
	}
	parts := min(runtime.GOMAXPROCS(0), max(1, n/max(1, minChunk)))
	found := make([]int, parts)
	Parts(n, parts, func(p, lo, hi int) { found[p] = scan(lo, hi) })
	for _, f := range found {
		if f >= 0 {
			return f
		}
	}
	return -1
}
