package prefetch

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
)

// counting sends 0, 1, 2, … up to n values, records which send accepted,
// and reports when it has returned.
type counting struct {
	n        int
	accepted []int
	refused  []int
	returned bool
}

func (c *counting) produce(_ context.Context, send func(int) bool) {
	defer func() { c.returned = true }()
	for v := range c.n {
		if !send(v) {
			c.refused = append(c.refused, v)
			return
		}
		c.accepted = append(c.accepted, v)
	}
}

func TestSeqYieldsWhatIsSentInOrder(t *testing.T) {
	c := &counting{n: 10}
	var got []int
	for v := range Seq(context.Background(), c.produce, func(int) { t.Error("discarded a value the consumer took") }) {
		got = append(got, v)
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(got, want) || !c.returned {
		t.Fatalf("yielded %v (producer returned: %v), want %v", got, c.returned, want)
	}
}

// The producer runs at most Depth values ahead of a consumer that is busy
// with a value.
func TestSeqPreparesDepthAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &counting{n: 100}
		for range Seq(context.Background(), c.produce, nil) {
			synctest.Wait() // the producer is blocked: the queue is full
			if len(c.accepted) != 1+Depth {
				t.Fatalf("%d values sent while the consumer holds the first, want 1+%d", len(c.accepted), Depth)
			}
			break
		}
	})
}

// A consumer that stops early ends the producer, and every value sent but
// not taken goes to discard exactly once; synctest fails the test if a
// goroutine is left blocked.
func TestSeqDiscardsWhatTheConsumerLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &counting{n: 100}
		var taken, discarded []int
		for v := range Seq(context.Background(), c.produce, func(v int) { discarded = append(discarded, v) }) {
			if taken = append(taken, v); len(taken) == 3 {
				break
			}
		}
		if !c.returned {
			t.Fatal("the range returned before the producer")
		}
		all := slices.Sorted(slices.Values(append(slices.Clone(taken), discarded...)))
		sent := append(slices.Clone(c.accepted), c.refused...)
		if !slices.Equal(all, sent) {
			t.Fatalf("taken %v and discarded %v, want each of the values sent %v once", taken, discarded, sent)
		}
		if len(sent) == c.n {
			t.Fatal("the producer ran to the end although the consumer stopped")
		}
	})
}

// When ctx ends the producer's context ends too and the sequence stops early.
func TestSeqEndsWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		producerSaw := false
		produce := func(ctx context.Context, send func(int) bool) {
			for v := 0; send(v); v++ {
			}
			producerSaw = ctx.Err() != nil
		}
		n := 0
		for range Seq(ctx, produce, nil) {
			if n++; n == 3 {
				cancel()
			}
		}
		if ctx.Err() == nil || n > 3+Depth || !producerSaw {
			t.Fatalf("cancelled after 3 values: yielded %d (want at most 3+%d), producer saw the end: %v", n, Depth, producerSaw)
		}
	})
}
