package tokenizer

import (
	"hash/maphash"
	"strings"
	"sync"
)

// bpe is a byte-level BPE model: the vocabulary, the merge table and a word
// cache. It works on raw bytes; the byte-level alphabet is a bijection on
// bytes, so a raw piece and its byte-level string name the same word.
type bpe struct {
	// byteID[b] is the id of the one-character token for byte b, or -1 when
	// the vocabulary lacks it.
	byteID [256]int32
	// merges maps a pair of ids (left<<32 | right) to rank<<32 | new id.
	merges map[uint64]uint64
	// rawVocab maps the raw bytes a token stands for to its id; used by
	// ignore_merges.
	rawVocab     map[string]int32
	ignoreMerges bool
	unkID        int32 // -1: no unk token, unknown bytes are dropped as HF does
	fuseUnk      bool
	cache        wordCache
}

// maxCachedWord mirrors HF's MAX_LENGTH: longer words are not cached.
const maxCachedWord = 256

// appendWord appends the ids of one pre-tokenized piece (raw bytes).
func (m *bpe) appendWord(dst []int, w string, scratch *bpeScratch) []int {
	if len(w) == 0 {
		return dst
	}
	if m.ignoreMerges {
		if id, ok := m.rawVocab[w]; ok {
			return append(dst, int(id))
		}
	}
	if len(w) == 1 && m.unkID < 0 {
		// A single byte never merges.
		if id := m.byteID[w[0]]; id >= 0 {
			return append(dst, int(id))
		}
		return dst
	}
	cacheable := len(w) <= maxCachedWord
	if cacheable {
		if ids, ok := m.cache.get(w); ok {
			for _, id := range ids {
				dst = append(dst, int(id))
			}
			return dst
		}
	}
	ids := m.mergeWord(w, scratch)
	if cacheable {
		m.cache.put(w, ids)
	}
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst
}

type symbol struct {
	id         int32
	prev, next int32
	size       int32 // bytes covered; 0 marks a symbol merged into its left neighbour
}

type mergeItem struct {
	rank, pos, newID int32
}

// bpeScratch holds per-goroutine buffers for mergeWord.
type bpeScratch struct {
	syms []symbol
	heap []mergeItem
}

// less orders the merge queue as HF's Merge Ord does: lowest rank first,
// then leftmost position.
func (a mergeItem) less(b mergeItem) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

func (s *bpeScratch) push(it mergeItem) {
	h := append(s.heap, it)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	s.heap = h
}

func (s *bpeScratch) pop() mergeItem {
	h := s.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			c = r
		}
		if !h[c].less(h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	s.heap = h
	return top
}

// mergeWord runs HF's Word::merge_all on the bytes of w: a priority queue of
// candidate merges ordered by (rank, position); stale entries are skipped by
// the same checks HF makes, so the result is identical, including for
// vocabularies where two merges produce the same token.
func (m *bpe) mergeWord(w string, s *bpeScratch) []int32 {
	syms := s.syms[:0]
	// Build the initial symbols as HF's merge_word does, one per
	// byte-level character, with the unk handling of that function.
	unkPending := false
	var unkSize int32
	for i := 0; i < len(w); i++ {
		id := m.byteID[w[i]]
		if id >= 0 {
			if unkPending {
				syms = append(syms, symbol{id: m.unkID, size: unkSize})
				unkPending = false
			}
			syms = append(syms, symbol{id: id, size: 1})
			continue
		}
		if m.unkID < 0 {
			continue // no unk token: HF drops the character
		}
		if unkPending && m.fuseUnk {
			unkSize++
			continue
		}
		if unkPending {
			syms = append(syms, symbol{id: m.unkID, size: unkSize})
		}
		unkPending, unkSize = true, 1
	}
	if unkPending {
		syms = append(syms, symbol{id: m.unkID, size: unkSize})
	}
	n := int32(len(syms))
	for i := range syms {
		syms[i].prev = int32(i) - 1
		syms[i].next = int32(i) + 1
		if int32(i) == n-1 {
			syms[i].next = -1
		}
	}
	s.heap = s.heap[:0]
	for i := int32(0); i+1 < n; i++ {
		if v, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			s.push(mergeItem{rank: int32(v >> 32), pos: i, newID: int32(uint32(v))})
		}
	}
	for len(s.heap) > 0 {
		top := s.pop()
		cur := &syms[top.pos]
		if cur.size == 0 || cur.next == -1 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		v, ok := m.merges[pairKey(cur.id, right.id)]
		if !ok || int32(uint32(v)) != top.newID {
			continue // expired entry
		}
		cur.id = top.newID
		cur.size += right.size
		cur.next = right.next
		syms[nextPos].size = 0
		if right.next >= 0 && right.next < n {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if v, ok := m.merges[pairKey(syms[cur.prev].id, cur.id)]; ok {
				s.push(mergeItem{rank: int32(v >> 32), pos: cur.prev, newID: int32(uint32(v))})
			}
		}
		if cur.next >= 0 && cur.next < n {
			if v, ok := m.merges[pairKey(cur.id, syms[cur.next].id)]; ok {
				s.push(mergeItem{rank: int32(v >> 32), pos: top.pos, newID: int32(uint32(v))})
			}
		}
	}
	out := make([]int32, 0, 4)
	for _, sy := range syms {
		if sy.size != 0 {
			out = append(out, sy.id)
		}
	}
	s.syms = syms
	return out
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// wordCache is a sharded, bounded word → ids cache. Like HF's cache it stops
// accepting entries when full; it never changes results.
type wordCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

const (
	cacheShards   = 16
	cacheCapacity = 1 << 16 // entries over all shards
)

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
}

func (c *wordCache) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int32)
	}
}

func (c *wordCache) shard(w string) *cacheShard {
	return &c.shards[maphash.String(c.seed, w)%cacheShards]
}

func (c *wordCache) get(w string) ([]int32, bool) {
	sh := c.shard(w)
	sh.mu.RLock()
	ids, ok := sh.m[w]
	sh.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(w string, ids []int32) {
	sh := c.shard(w)
	sh.mu.Lock()
	if len(sh.m) < cacheCapacity/cacheShards {
		// Clone: w is usually a substring of a large input.
		sh.m[strings.Clone(w)] = ids
	}
	sh.mu.Unlock()
}
