package runtime

import (
	goruntime "runtime"
	"sync"
)

// parallelFor runs body over [0, n) split into contiguous chunks, one per
// available CPU (at least minChunk items a chunk), and waits.
func parallelFor(n, minChunk int, body func(lo, hi int)) {
	workers := goruntime.GOMAXPROCS(0)
	if minChunk < 1 {
		minChunk = 1
	}
	if w := (n + minChunk - 1) / minChunk; w < workers {
		workers = w
	}
	if workers <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	wg.Wait()
}
