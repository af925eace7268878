package experiments

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
)

// checkFiniteRun refuses an evaluated run whose perplexity, loss or KL
// statistics are not finite numbers: such a run measured nothing (the
// evaluation itself refuses non-finite logits; an infinite loss or an
// overflowing exp still gets here), and results.json must never hold one.
func checkFiniteRun(rr *RunResult) error {
	if field, v, ok := firstNonFinite(reflect.ValueOf(*rr), ""); ok {
		return fmt.Errorf("%s is %v, not a finite number: the run has no valid result and nothing of it is recorded", field, v)
	}
	return nil
}

// checkFiniteResults refuses results holding a NaN or an infinity anywhere
// (JSON cannot represent them and reports must not plot them), naming the
// run and the field.
func checkFiniteResults(r *Results) error {
	for _, run := range r.Runs {
		if field, v, ok := firstNonFinite(reflect.ValueOf(run), ""); ok {
			return fmt.Errorf("run %s: %s is %v; %s not written", run.Name, field, v, ResultsFile)
		}
	}
	rest := *r
	rest.Runs = nil
	if field, v, ok := firstNonFinite(reflect.ValueOf(rest), ""); ok {
		return fmt.Errorf("%s is %v; %s not written", field, v, ResultsFile)
	}
	return nil
}

// firstNonFinite walks a value and returns the JSON path of its first
// NaN or infinite float.
func firstNonFinite(v reflect.Value, path string) (string, float64, bool) {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return path, f, true
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return firstNonFinite(v.Elem(), path)
		}
	case reflect.Struct:
		return structNonFinite(v, path)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if p, f, ok := firstNonFinite(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, f, true
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			if p, f, ok := firstNonFinite(v.MapIndex(k), fmt.Sprintf("%s[%v]", path, k)); ok {
				return p, f, true
			}
		}
	}
	return "", 0, false
}

func structNonFinite(v reflect.Value, path string) (string, float64, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		p := path // embedded structs' fields are the parent's in JSON
		if !sf.Anonymous {
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "" {
				name = sf.Name
			}
			if p != "" {
				p += "."
			}
			p += name
		}
		if q, f, ok := firstNonFinite(v.Field(i), p); ok {
			return q, f, true
		}
	}
	return "", 0, false
}
