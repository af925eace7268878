package search

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// EvalRecord is one whole assignment measured on the held-out windows.
type EvalRecord struct {
	Objective string            `json:"objective"`
	Value     float64           `json:"value"` // the objective on the held-out windows
	Bytes     int64             `json:"bytes"`
	Seconds   float64           `json:"seconds"`
	Formats   map[string]string `json:"formats"`
}

// GenerationRecord is the state of the refinement after one generation.
type GenerationRecord struct {
	Generation int               `json:"generation"`
	Budget     int64             `json:"budget"`
	Parent     map[string]string `json:"parent"` // the best assignment so far
	Value      float64           `json:"value"`
	Bytes      int64             `json:"bytes"`
	Offspring  []float64         `json:"offspring"` // the held-out objective of each child tried
	Accepted   bool              `json:"accepted"`  // a child replaced the parent
}

// RefineOptions steer the evolutionary refinement.
type RefineOptions struct {
	Generations int   // generations after the knapsack's assignment
	Offspring   int   // children per generation
	Seed        int64 // the mutations of generation g come from (Seed, g)
	// Progress is called after each generation with the best held-out
	// objective so far.
	Progress func(gen, total int, best float64)
}

// Refinement is what the refinement found.
type Refinement struct {
	Pick        []int
	Value       float64 // held-out objective of Pick
	Start       float64 // held-out objective of the knapsack's assignment
	Generations int
	Accepted    int
}

// Refine improves an assignment in the style of EvoPress: each generation
// mutates the best assignment so far into children of at most budget bytes
// (raise one or two tensors a level, lower others until it fits, spend what
// is left), measures every child on the held-out windows, and keeps the
// best child if it beats its parent there. The sensitivity windows the
// knapsack optimised on never decide. Generations are records, so a rerun
// continues from the last one finished with the same mutations.
func (s *Searcher) Refine(start []int, budget int64, o RefineOptions) (Refinement, error) {
	if s.held == nil {
		return Refinement{}, fmt.Errorf("the %s objective has no held-out windows to refine on", Proxy)
	}
	if s.costs == nil {
		return Refinement{}, fmt.Errorf("internal error: the refinement runs after the sensitivities")
	}
	// Generations depend on the budget, the mutations, their seed and the
	// number of children: all in the directory's name.
	dir := fmt.Sprintf("budget-%d-m%d-seed%d-x%d/", budget, mutationVersion, o.Seed, o.Offspring)
	r := Refinement{Pick: append([]int(nil), start...)}
	// states are the parent's block inputs on the held-out windows, when known.
	var states [][][]float32
	var err error
	if r.Value, states, err = s.child(r.Pick, nil, nil); err != nil {
		return r, err
	}
	r.Start = r.Value
	for g := 1; g <= o.Generations; g++ {
		if err := s.ctx.Err(); err != nil {
			return r, err
		}
		name := fmt.Sprintf("%sgeneration-%04d.json", dir, g)
		var rec GenerationRecord
		ok, err := s.records.Load(name, &rec)
		if err != nil {
			return r, err
		}
		if ok {
			if r.Pick, err = s.Space.FromNames(rec.Parent); err != nil {
				return r, fmt.Errorf("%s: %w", name, err)
			}
			if b := s.Space.Bytes(r.Pick); b > budget {
				return r, fmt.Errorf("%s: its assignment takes %d bytes, over the budget of %d (a record of another accounting: delete %s)", name, b, budget, dir)
			}
			r.Value, states = rec.Value, nil
			if rec.Accepted {
				r.Accepted++
			}
			r.Generations = g
			if o.Progress != nil {
				o.Progress(g, o.Generations, r.Value)
			}
			continue
		}
		if states == nil {
			m, _, err := s.whole(r.Pick)
			if err != nil {
				return r, err
			}
			if _, states, err = s.held.score(m, 0, nil, true); err != nil {
				return r, err
			}
		}
		rng := rand.New(rand.NewPCG(uint64(o.Seed), uint64(g)))
		rec = GenerationRecord{Generation: g, Budget: budget}
		bestK, bestV := -1, r.Value
		var bestStates [][][]float32
		var children [][]int
		for c := 0; c < o.Offspring; c++ {
			child := s.mutate(rng, r.Pick, budget)
			if child == nil {
				continue
			}
			v, st, err := s.child(child, r.Pick, states)
			if err != nil {
				return r, err
			}
			rec.Offspring = append(rec.Offspring, v)
			children = append(children, child)
			if v < bestV {
				bestK, bestV, bestStates = len(children)-1, v, st
			}
		}
		if bestK >= 0 {
			r.Pick, r.Value, states = children[bestK], bestV, bestStates
			rec.Accepted = true
			r.Accepted++
		}
		rec.Parent, rec.Value, rec.Bytes = s.Space.Names(r.Pick), r.Value, s.Space.Bytes(r.Pick)
		if err := s.records.Save(name, rec); err != nil {
			return r, err
		}
		r.Generations = g
		if o.Progress != nil {
			o.Progress(g, o.Generations, r.Value)
		}
	}
	return r, nil
}

// child measures an assignment on the held-out windows, from the first
// block where it differs from parent (whose block inputs are states), and
// returns its block inputs too when it had to run.
func (s *Searcher) child(pick, parent []int, states [][][]float32) (float64, [][][]float32, error) {
	name := "evals/" + digest(s.Space.Key(pick)) + ".json"
	var rec EvalRecord
	if ok, err := s.records.Load(name, &rec); err != nil || ok {
		return rec.Value, nil, err
	}
	start := time.Now()
	m, _, err := s.whole(pick)
	if err != nil {
		return 0, nil, err
	}
	from, in := 0, [][]float32(nil)
	if parent != nil && states != nil {
		from = s.firstDifference(pick, parent)
		in = states[from]
	}
	v, st, err := s.held.score(m, from, in, true)
	if err != nil {
		return 0, nil, err
	}
	for l := 0; l < from; l++ { // the blocks before from are the parent's
		st[l] = states[l]
	}
	rec = EvalRecord{Objective: string(s.held.objective), Value: v, Bytes: s.Space.Bytes(pick), Seconds: time.Since(start).Seconds(), Formats: s.Space.Names(pick)}
	return v, st, s.records.Save(name, rec)
}

// firstDifference is the first block whose input differs between two
// assignments: 0 when the embedding differs, len(Blocks) when only lm_head.
func (s *Searcher) firstDifference(a, b []int) int {
	from := len(s.base.Blocks)
	for t := range a {
		if a[t] == b[t] {
			continue
		}
		from = min(from, s.startBlock(s.Space.Tensors[t].Param))
	}
	return from
}

// mutationVersion names the mutation scheme in the refinement's record
// directory: records of another scheme are never resumed from.
const mutationVersion = 2

// mutate raises one or two tensors a level (the next larger choice), lowers
// others until the assignment fits the budget, then raises untouched
// tensors while they fit. Each tensor to move is the best of three drawn at
// random, by the sensitivities' cost change per byte (the knapsack's
// currency): random enough to leave the additive model's optimum, guided
// enough that children stay near it. nil when no child fits.
func (s *Searcher) mutate(rng *rand.Rand, parent []int, budget int64) []int {
	child := append([]int(nil), parent...)
	n := len(child)
	touched := map[int]bool{}
	// move returns tensor t's choice one level up or down and the cost
	// change per byte of taking it (ok false at the end of its levels).
	move := func(t, dir int) (k int, rate float64, ok bool) {
		order := s.Space.Tensors[t].order
		pos := slices.Index(order, child[t])
		if pos+dir < 0 || pos+dir >= len(order) {
			return 0, 0, false
		}
		k = order[pos+dir]
		db := float64(s.Space.Tensors[t].Options[k].Bytes - s.Space.Tensors[t].Options[child[t]].Bytes)
		dc := s.costs[t][k] - s.costs[t][child[t]]
		if db == 0 {
			return k, dc, true
		}
		return k, dc / math.Abs(db), true
	}
	// pick draws three allowed tensors and returns the one whose move
	// in dir has the lowest cost per byte (-1 when none can move).
	pick := func(dir int, allowed func(int) bool) int {
		best, bestRate := -1, math.Inf(1)
		for draws, tries := 0, 0; draws < 3 && tries < 8*n; tries++ {
			t := rng.IntN(n)
			if !allowed(t) {
				continue
			}
			if _, rate, ok := move(t, dir); ok {
				draws++
				if rate < bestRate {
					best, bestRate = t, rate
				}
			}
		}
		return best
	}
	ups := 1 + rng.IntN(2)
	for u := 0; u < ups; u++ {
		if t := pick(+1, func(int) bool { return true }); t >= 0 {
			child[t], _, _ = move(t, +1)
			touched[t] = true
		}
	}
	raised := maps.Clone(touched)
	for tries := 0; s.Space.Bytes(child) > budget && tries < 4*n; tries++ {
		if t := pick(-1, func(t int) bool { return !raised[t] }); t >= 0 {
			child[t], _, _ = move(t, -1)
			touched[t] = true
		}
	}
	if s.Space.Bytes(child) > budget {
		return nil
	}
	for tries := 0; tries < 8; tries++ {
		t := pick(+1, func(t int) bool { return !touched[t] })
		if t < 0 {
			break
		}
		prev := child[t]
		child[t], _, _ = move(t, +1)
		touched[t] = true
		if s.Space.Bytes(child) > budget {
			child[t] = prev
		}
	}
	if slices.Equal(child, parent) {
		return nil
	}
	return child
}
