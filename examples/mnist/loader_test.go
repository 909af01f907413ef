package mnist

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
)

// numbered returns a dataset whose example i has label i%10 and every pixel i%256.
func numbered(n int) *Dataset {
	d := &Dataset{Pixels: make([]byte, n*Pixels), Labels: make([]byte, n)}
	for i := range n {
		d.Labels[i] = byte(i % Classes)
		for p := range Pixels {
			d.Pixels[i*Pixels+p] = byte(i)
		}
	}
	return d
}

// visit returns the example ids (first pixel) of an epoch in order.
func visit(t *testing.T, l *Loader, epoch int) []int {
	t.Helper()
	var ids []int
	for b := range l.Epoch(context.Background(), epoch) {
		if b.Index != len(ids)/3 && b.Size() == 3 {
			t.Fatalf("batch index %d after %d examples", b.Index, len(ids))
		}
		for j := range b.Size() {
			id := int(b.Images[j*Pixels]*255 + 0.5)
			if int64(id%Classes) != b.Labels[j] {
				t.Fatalf("example %d carries label %d", id, b.Labels[j])
			}
			if b.Images[j*Pixels+Pixels-1] != b.Images[j*Pixels] {
				t.Fatalf("example %d: pixels of different images mixed", id)
			}
			ids = append(ids, id)
		}
	}
	return ids
}

func TestLoaderVisitsEveryExampleOnce(t *testing.T) {
	l, err := NewLoader(numbered(10), 3, true, 7)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 4 {
		t.Fatalf("Len = %d, want 4 batches of 3,3,3,1", l.Len())
	}
	e0, e1 := visit(t, l, 0), visit(t, l, 1)
	if !slices.Equal(slices.Sorted(slices.Values(e0)), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("epoch 0 visited %v, want each of 0..9 once", e0)
	}
	if slices.Equal(e0, e1) {
		t.Fatalf("epochs 0 and 1 have the same order %v", e0)
	}
	if again := visit(t, l, 1); !slices.Equal(again, e1) {
		t.Fatalf("epoch 1 order is not reproducible: %v then %v", e1, again)
	}
}

func TestLoaderInOrderWithoutShuffle(t *testing.T) {
	l, err := NewLoader(numbered(5), 2, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := visit(t, l, 3); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("got %v, want 0..4 in order", got)
	}
}

func TestLoaderRejectsBadArguments(t *testing.T) {
	if _, err := NewLoader(numbered(5), 0, false, 0); err == nil {
		t.Fatal("batch size 0 accepted")
	}
	if _, err := NewLoader(&Dataset{}, 4, false, 0); err == nil {
		t.Fatal("empty dataset accepted")
	}
}

// The prefetching goroutine ends when the consumer stops early and when the
// context ends; synctest fails the test if any goroutine is left blocked.
func TestLoaderGoroutineEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := NewLoader(numbered(100), 2, true, 1)
		if err != nil {
			t.Fatal(err)
		}
		for b := range l.Epoch(context.Background(), 0) {
			if b.Index == 1 {
				break
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := 0
		for range l.Epoch(ctx, 0) {
			if n++; n == 3 {
				cancel()
			}
		}
		if ctx.Err() == nil || n >= l.Len() {
			t.Fatalf("cancelled epoch yielded %d of %d batches", n, l.Len())
		}
	})
}

func BenchmarkLoaderEpoch(b *testing.B) {
	l, err := NewLoader(numbered(60000), 64, true, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		for range l.Epoch(context.Background(), i) {
		}
	}
	b.ReportMetric(float64(b.N*l.Examples())/b.Elapsed().Seconds(), "samples/s")
}
