package observe

import (
	"slices"
	"testing"
)

func TestRingKeepsTheLastValuesOldestFirst(t *testing.T) {
	r := newRing[int](3)
	if got := r.values(); got == nil || len(got) != 0 {
		t.Fatalf("empty ring: %v, want an empty, non-nil slice (JSON [])", got)
	}
	for i := range 2 {
		r.add(i)
	}
	if got := r.values(); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("after 2: %v", got)
	}
	for i := 2; i < 8; i++ {
		r.add(i)
	}
	if got := r.values(); !slices.Equal(got, []int{5, 6, 7}) {
		t.Fatalf("after 8: %v, want [5 6 7]", got)
	}
}

// A series keeps the run's first value, evenly spaced values, and never
// more than its capacity, however long the run.
func TestSeriesThinsEvenlyWithinItsCapacity(t *testing.T) {
	s := newSeries[int](8)
	for i := range 1000 {
		s.add(i)
		got := s.values()
		if len(got) > 8 {
			t.Fatalf("after %d values: %d kept, want at most 8", i+1, len(got))
		}
		if got[0] != 0 {
			t.Fatalf("after %d values: the first kept is %d, want 0", i+1, got[0])
		}
		for j := 1; j < len(got); j++ {
			if got[j]-got[j-1] != int(s.stride) {
				t.Fatalf("after %d values: kept %v, want a spacing of %d", i+1, got, s.stride)
			}
		}
		// The latest kept value is within one stride of the latest added.
		if last := got[len(got)-1]; i-last >= int(s.stride) {
			t.Fatalf("after %d values: latest kept %d, stride %d", i+1, last, s.stride)
		}
	}
	if s.stride != 128 || len(s.values()) != 8 {
		t.Fatalf("after 1000: stride %d and %d kept %v, want 128 and 8", s.stride, len(s.values()), s.values())
	}
}
