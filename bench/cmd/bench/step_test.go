package main

import (
	"errors"
	"slices"
	"testing"
)

// bestRates runs the rates one after another round by round and keeps the
// highest of each; an error ends it.
func TestBestRatesInterleavesAndKeepsTheBest(t *testing.T) {
	var calls []string
	rate := func(name string, values ...float64) func() (float64, error) {
		return func() (float64, error) {
			calls = append(calls, name)
			v := values[0]
			values = values[1:]
			return v, nil
		}
	}
	best, err := bestRates(3, rate("a", 1, 5, 2), rate("b", 7, 3, 4))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(best, []float64{5, 7}) {
		t.Fatalf("best %v, want [5 7]", best)
	}
	if want := []string{"a", "b", "a", "b", "a", "b"}; !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}

	calls = nil
	boom := errors.New("boom")
	_, err = bestRates(2, rate("a", 1, 1), func() (float64, error) { return 0, boom }, rate("c", 1, 1))
	if !errors.Is(err, boom) || !slices.Equal(calls, []string{"a"}) {
		t.Fatalf("error %v after calls %v, want boom after [a]", err, calls)
	}
}
