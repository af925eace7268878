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

// Ordered runs produce(k) for k in [0, n) on up to workers goroutines, in
// order of k as workers free up, and consume(k) on the calling goroutine
// in order k = 0, 1, …, each as soon as its produce is done, so producing
// and consuming overlap and no wave waits for its slowest item. Items
// produced and not yet consumed are at most window in number and their
// cost(k) at most budget (one item is always let through).
func Ordered(n, workers, window, budget int, cost func(k int) int, produce, consume func(k int)) {
	if n <= 0 {
		return
	}
	var mu sync.Mutex
	free := sync.NewCond(&mu)
	next, held, ahead := 0, 0, 0
	done := make([]chan struct{}, n)
	for k := range done {
		done[k] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for w := 0; w < max(1, min(workers, n)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for next < n && ahead > 0 && (ahead >= window || held+cost(next) > budget) {
					free.Wait()
				}
				if next >= n {
					mu.Unlock()
					return
				}
				k := next
				next, held, ahead = next+1, held+cost(k), ahead+1
				mu.Unlock()
				produce(k)
				close(done[k])
			}
		}()
	}
	for k := 0; k < n; k++ {
		<-done[k]
		consume(k)
		mu.Lock()
		held, ahead = held-cost(k), ahead-1
		free.Broadcast()
		mu.Unlock()
	}
	wg.Wait()
}
