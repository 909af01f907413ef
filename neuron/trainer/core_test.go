package trainer

import (
	"math"
	"slices"
	"testing"
)

// The expected figures below are worked out by hand from the rules in
// core.go, not computed with the functions under test.

func TestRoutableKeepsOwnAndCallable(t *testing.T) {
	keys := []string{"a", "own", "b", "c"}
	backedOff := map[string]bool{"a": true, "own": true, "c": true}
	got := routable(keys, "own", func(k string) bool { return !backedOff[k] })
	// "own" is routed although the Dendrite backs it off; "b" is callable.
	if want := []int{1, 2}; !slices.Equal(got, want) {
		t.Errorf("routable = %v, want %v", got, want)
	}
	if got := routable(nil, "own", func(string) bool { return true }); len(got) != 0 {
		t.Errorf("routable of no synapses = %v", got)
	}
}

func TestFinite(t *testing.T) {
	for _, c := range []struct {
		vs   []float64
		want bool
	}{
		{nil, true},
		{[]float64{0, -1e300, 2.5}, true},
		{[]float64{1, math.NaN()}, false},
		{[]float64{math.Inf(-1)}, false},
		{[]float64{math.Inf(1), 0}, false},
	} {
		if got := finite(c.vs...); got != c.want {
			t.Errorf("finite(%v) = %v, want %v", c.vs, got, c.want)
		}
	}
}

func TestStepGatesZeroTheFailed(t *testing.T) {
	gates := stepGates([]string{"a", "b", "c"}, []float32{0.5, 0.25, 0.25}, map[string]bool{"b": true})
	if len(gates) != 2 || gates["a"] != 0.5 || gates["c"] != 0.25 {
		t.Errorf("gates = %v, want a 0.5 and c 0.25 (b failed)", gates)
	}
	if g, ok := gates["b"]; ok {
		t.Errorf("a failed synapse has gate %v, want none (0)", g)
	}
}

func TestNextWeightsMoveTowardTheGates(t *testing.T) {
	// a: routed, gate 0.5: 0.99·0.2 + 0.01·0.5 = 0.198 + 0.005 = 0.203.
	// b: not routed (backed off), no gate: 0.99·0.5 = 0.495.
	// c: new, weight 0, gate 1: 0.01.
	got := nextWeights([]string{"a", "b", "c"}, []float64{0.2, 0.5, 0}, map[string]float64{"a": 0.5, "c": 1})
	want := []float64{0.203, 0.495, 0.01}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("weight %d = %v, want %v", i, got[i], want[i])
		}
	}
	// A peer that fails every step loses its weight geometrically: after
	// 100 steps at gate 0 a weight of 1 is 0.99^100 ≈ 0.36603.
	w := []float64{1}
	for range 100 {
		w = nextWeights([]string{"p"}, w, nil)
	}
	if math.Abs(w[0]-0.36603234127322950) > 1e-12 {
		t.Errorf("after 100 failed steps the weight is %v, want 0.99^100", w[0])
	}
}
