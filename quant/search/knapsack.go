package search

import (
	"fmt"
	"math"
	"sort"
)

// Option is one choice for one item of a multiple-choice knapsack: its exact
// size and its cost under the additive model.
type Option struct {
	Bytes int64
	Cost  float64
}

// Knapsack picks one option per item so that the total bytes are at most
// budget and the total cost is least: the multiple-choice knapsack, solved
// by dynamic programming over sizes counted in units of unit bytes above
// each item's smallest option, rounded up to whole units. Rounding up only
// overstates sizes, so the choice always fits the budget in exact bytes
// (and some choice fits whenever the smallest options do); with unit 1 it
// is the exact optimum. The bytes the rounding left unused are then spent
// greedily: the upgrade with the largest cost saved per byte that still fits,
// until none fits. It returns the option index of every item.
func Knapsack(items [][]Option, budget, unit int64) ([]int, error) {
	if unit < 1 {
		return nil, fmt.Errorf("knapsack unit %d is not positive", unit)
	}
	// Sizes are counted above each item's smallest option, so the
	// all-smallest choice takes 0 units and fits whatever the rounding.
	floor := make([]int64, len(items))
	var least int64
	for i, opts := range items {
		if len(opts) == 0 {
			return nil, fmt.Errorf("item %d has no options", i)
		}
		m := opts[0].Bytes
		for _, o := range opts {
			if o.Bytes < 0 || math.IsNaN(o.Cost) || math.IsInf(o.Cost, 0) {
				return nil, fmt.Errorf("item %d has an option of %d bytes and cost %v", i, o.Bytes, o.Cost)
			}
			m = min(m, o.Bytes)
		}
		floor[i] = m
		least += m
	}
	if least > budget {
		return nil, fmt.Errorf("the smallest choice for every tensor takes %d bytes, more than the budget of %d", least, budget)
	}
	units := func(i int, b int64) int64 { return (b - floor[i] + unit - 1) / unit }
	capacity := (budget - least) / unit
	if capacity > 1<<24 {
		return nil, fmt.Errorf("knapsack of %d units is too large; use a larger unit", capacity)
	}
	c := int(capacity)
	inf := math.Inf(1)
	// best[w]: least cost of the items so far in at most w units.
	best := make([]float64, c+1)
	choice := make([][]int16, len(items)) // choice[i][w]: option of item i at w
	next := make([]float64, c+1)
	for i, opts := range items {
		choice[i] = make([]int16, c+1)
		for w := range next {
			next[w] = inf
			for k, o := range opts {
				u := units(i, o.Bytes)
				if u > int64(w) || best[w-int(u)] == inf {
					continue
				}
				if v := best[w-int(u)] + o.Cost; v < next[w] {
					next[w], choice[i][w] = v, int16(k)
				}
			}
		}
		best, next = next, best
	}
	pick := make([]int, len(items))
	w := c
	for i := len(items) - 1; i >= 0; i-- {
		k := int(choice[i][w])
		pick[i] = k
		w -= int(units(i, items[i][k].Bytes))
	}
	fill(items, pick, budget)
	return pick, nil
}

// fill spends unused bytes on the upgrades that save the most cost per byte.
func fill(items [][]Option, pick []int, budget int64) {
	used := totalBytes(items, pick)
	for {
		bi, bk, bestRate := -1, -1, 0.0
		for i, opts := range items {
			cur := opts[pick[i]]
			for k, o := range opts {
				db, dc := o.Bytes-cur.Bytes, cur.Cost-o.Cost
				if dc <= 0 || used+db > budget {
					continue
				}
				rate := math.Inf(1)
				if db > 0 {
					rate = dc / float64(db)
				}
				if rate > bestRate {
					bi, bk, bestRate = i, k, rate
				}
			}
		}
		if bi < 0 {
			return
		}
		used += items[bi][bk].Bytes - items[bi][pick[bi]].Bytes
		pick[bi] = bk
	}
}

func totalBytes(items [][]Option, pick []int) int64 {
	var b int64
	for i, k := range pick {
		b += items[i][k].Bytes
	}
	return b
}

func totalCost(items [][]Option, pick []int) float64 {
	var c float64
	for i, k := range pick {
		c += items[i][k].Cost
	}
	return c
}

// byBytes returns the option indices of one item ordered by size, then cost.
func byBytes(opts []Option) []int {
	idx := make([]int, len(opts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if opts[idx[a]].Bytes != opts[idx[b]].Bytes {
			return opts[idx[a]].Bytes < opts[idx[b]].Bytes
		}
		return opts[idx[a]].Cost < opts[idx[b]].Cost
	})
	return idx
}
