package search

import (
	"fmt"
	"math/rand/v2"
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
	Evaluated   int // assignments measured (records read back included)
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
	dir := fmt.Sprintf("budget-%d/", budget)
	r := Refinement{Pick: append([]int(nil), start...)}
	// states are the parent's block inputs on the held-out windows, when known.
	var states [][][]float32
	var err error
	if r.Value, states, err = s.child(r.Pick, nil, nil, &r); err != nil {
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
			v, st, err := s.child(child, r.Pick, states, &r)
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
func (s *Searcher) child(pick, parent []int, states [][][]float32, r *Refinement) (float64, [][][]float32, error) {
	r.Evaluated++
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
	if from > 0 { // the blocks before from are the parent's
		for l := 0; l < from; l++ {
			st[l] = states[l]
		}
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
		p := s.Space.Tensors[t].Param
		switch {
		case p.Layer >= 0:
			from = min(from, p.Layer)
		case p.Name != s.lmHead():
			from = 0 // the embedding
		}
	}
	return from
}

func (s *Searcher) lmHead() string {
	for name, sl := range s.slots {
		if sl.Layer < 0 {
			return name
		}
	}
	return ""
}

// mutate raises one or two tensors a level (the next larger choice), lowers
// others chosen at random until the assignment fits the budget, then raises
// untouched tensors at random while they fit. nil when no child fits.
func (s *Searcher) mutate(rng *rand.Rand, parent []int, budget int64) []int {
	child := append([]int(nil), parent...)
	level := func(t int) (pos int, order []int) {
		order = s.Space.Tensors[t].order
		for i, k := range order {
			if k == child[t] {
				return i, order
			}
		}
		return 0, order
	}
	touched := map[int]bool{}
	step := func(t, dir int) bool {
		pos, order := level(t)
		if pos+dir < 0 || pos+dir >= len(order) {
			return false
		}
		child[t] = order[pos+dir]
		touched[t] = true
		return true
	}
	n := len(child)
	ups := 1 + rng.IntN(2)
	for u, tries := 0, 0; u < ups && tries < 8*n; tries++ {
		if step(rng.IntN(n), +1) {
			u++
		}
	}
	up := map[int]bool{}
	for t := range touched {
		up[t] = true
	}
	for tries := 0; s.Space.Bytes(child) > budget && tries < 16*n; tries++ {
		if t := rng.IntN(n); !up[t] {
			step(t, -1)
		}
	}
	if s.Space.Bytes(child) > budget {
		return nil
	}
	for tries := 0; tries < n; tries++ {
		t := rng.IntN(n)
		if touched[t] {
			continue
		}
		pos, order := level(t)
		if pos+1 < len(order) {
			prev := child[t]
			child[t] = order[pos+1]
			if s.Space.Bytes(child) > budget {
				child[t] = prev
			}
		}
	}
	same := true
	for t := range child {
		same = same && child[t] == parent[t]
	}
	if same {
		return nil
	}
	return child
}
