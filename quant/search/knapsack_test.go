package search

import (
	"slices"
	"strings"
	"testing"
)

// The hand-computed case: three tensors, budget 9. Enumerating every
// assignment by hand, the fitting ones and their costs are
//
//	A2 B1 C2: 5 bytes, 23   A2 B1 C5: 8, 19   A2 B3 C2: 7, 17
//	A4 B1 C2: 7, 16         A4 B3 C2: 9, 10   A6 B1 C2: 9, 13
//
// so the optimum at 9 bytes is A4 B3 C2 (cost 10), and at 8 bytes A4 B1 C2
// (cost 16).
var handItems = [][]Option{
	{{2, 10}, {4, 3}, {6, 0}},
	{{1, 8}, {3, 2}},
	{{2, 5}, {5, 1}},
}

func TestKnapsackHandComputed(t *testing.T) {
	for _, c := range []struct {
		budget, unit int64
		want         []int
		cost         float64
	}{
		{9, 1, []int{1, 1, 0}, 10},
		{8, 1, []int{1, 0, 0}, 16},
		{5, 1, []int{0, 0, 0}, 23},
		{100, 1, []int{2, 1, 1}, 3},
		// Units of 2 bytes above each item's smallest option: A 0/1/2, B 0/1,
		// C 0/2 units, 2 units for the 4 bytes above the 5 of all-smallest:
		// A4 B3 C2 (1 + 1 + 0 units), the optimum.
		{9, 2, []int{1, 1, 0}, 10},
		// Units of 3: A 0/1/2, B 0/1, C 0/1, 1 unit for those 4 bytes: the
		// program affords one step, A2 -> A4 (it saves the most, 7: 7 bytes,
		// cost 16), and the greedy fill spends the 2 bytes left on B1 -> B3.
		{9, 3, []int{1, 1, 0}, 10},
	} {
		got, err := Knapsack(handItems, c.budget, c.unit)
		if err != nil {
			t.Fatalf("budget %d unit %d: %v", c.budget, c.unit, err)
		}
		if !slices.Equal(got, c.want) || totalCost(handItems, got) != c.cost {
			t.Errorf("budget %d unit %d: picked %v (cost %g, %d bytes), want %v (cost %g)", c.budget, c.unit, got, totalCost(handItems, got), totalBytes(handItems, got), c.want, c.cost)
		}
		if b := totalBytes(handItems, got); b > c.budget {
			t.Errorf("budget %d: picked %d bytes", c.budget, b)
		}
	}
}

// TestKnapsackAgainstEnumeration checks the program against every
// assignment of a larger random case, at unit 1.
func TestKnapsackAgainstEnumeration(t *testing.T) {
	items := make([][]Option, 7)
	seed := uint64(12345)
	next := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	for i := range items {
		for k := 0; k < 2+next(3); k++ {
			items[i] = append(items[i], Option{Bytes: int64(1 + next(20)), Cost: float64(next(1000)) / 10})
		}
	}
	for _, budget := range []int64{20, 35, 50, 80} {
		best, bestCost := []int(nil), 0.0
		pick := make([]int, len(items))
		var walk func(i int)
		walk = func(i int) {
			if i == len(items) {
				if b := totalBytes(items, pick); b <= budget {
					if c := totalCost(items, pick); best == nil || c < bestCost {
						best, bestCost = slices.Clone(pick), c
					}
				}
				return
			}
			for k := range items[i] {
				pick[i] = k
				walk(i + 1)
			}
		}
		walk(0)
		got, err := Knapsack(items, budget, 1)
		if best == nil {
			if err == nil {
				t.Errorf("budget %d: nothing fits, but the knapsack picked %v", budget, got)
			}
			continue
		}
		if err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		if c := totalCost(items, got); c > bestCost+1e-9 || totalBytes(items, got) > budget {
			t.Errorf("budget %d: cost %g in %d bytes, the enumeration's best is %g", budget, c, totalBytes(items, got), bestCost)
		}
	}
}

// TestKnapsackNearTheSmallest: a budget just above the all-smallest
// assignment is always met, however coarse the unit (the sizes count
// above each item's smallest option).
func TestKnapsackNearTheSmallest(t *testing.T) {
	items := make([][]Option, 46)
	for i := range items {
		items[i] = []Option{{1001, 2}, {2001, 1}}
	}
	got, err := Knapsack(items, 46*1001+500, 31)
	if err != nil {
		t.Fatal(err)
	}
	if b := totalBytes(items, got); b != 46*1001 {
		t.Errorf("%d bytes", b)
	}
}

func TestKnapsackErrors(t *testing.T) {
	if _, err := Knapsack(handItems, 4, 1); err == nil || !strings.Contains(err.Error(), "smallest choice") {
		t.Errorf("budget under the smallest assignment: %v", err)
	}
	if _, err := Knapsack([][]Option{{}}, 4, 1); err == nil {
		t.Error("an item without options was accepted")
	}
	if _, err := Knapsack(handItems, 9, 0); err == nil {
		t.Error("unit 0 was accepted")
	}
}
