package tensorbatches

import (
	"context"
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/examples/internal/prefetch"
	"github.com/opentensor/bittensor-go/torch"
)

// Each batch becomes images of [batch, shape...] float32 holding the
// loader's values and labels of [batch] int64, the last batch smaller.
func TestOfMakesTheLoadersBatchesTensors(t *testing.T) {
	shape := []int64{1, 2, 3}
	im := prefetch.Images{Shape: shape, Pixels: make([]byte, 5*6), Labels: []byte{4, 3, 2, 1, 0}}
	for i := range im.Pixels {
		im.Pixels[i] = byte(i)
	}
	l, err := prefetch.NewLoader(im, prefetch.Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := Of(l)
	if b.Len() != 3 || b.Examples() != 5 {
		t.Fatalf("Len %d, Examples %d; want 3 batches of 5 examples", b.Len(), b.Examples())
	}
	var want []prefetch.Batch
	for mb := range l.Epoch(context.Background(), 0) {
		want = append(want, mb)
	}
	i := 0
	for batch := range b.Epoch(context.Background(), 0) {
		x, y := batch.Inputs, batch.Targets
		n := int64(want[i].Size())
		if got := x.Shape(); x.DType() != torch.Float32 || !slices.Equal(got, []int64{n, 1, 2, 3}) {
			t.Fatalf("batch %d: inputs %v %v, want float32 [%d 1 2 3]", i, x.DType(), got, n)
		}
		if got := y.Shape(); y.DType() != torch.Int64 || !slices.Equal(got, []int64{n}) {
			t.Fatalf("batch %d: targets %v %v, want int64 [%d]", i, y.DType(), got, n)
		}
		images, err := x.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		labels, err := y.Int64s()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(images, want[i].Images) || !slices.Equal(labels, want[i].Labels) {
			t.Fatalf("batch %d holds %v and %v, want the loader's %v and %v", i, images, labels, want[i].Images, want[i].Labels)
		}
		x.Free()
		y.Free()
		i++
	}
	if i != 3 {
		t.Fatalf("%d batches, want 3", i)
	}
}

// The batches end when the consumer stops ranging (Go panics when a range
// function yields again after its loop body has returned false).
func TestOfStopsWithTheConsumer(t *testing.T) {
	im := prefetch.Images{Shape: []int64{1}, Pixels: make([]byte, 10), Labels: make([]byte, 10)}
	l, err := prefetch.NewLoader(im, prefetch.Options{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for batch := range Of(l).Epoch(context.Background(), 0) {
		batch.Inputs.Free()
		batch.Targets.Free()
		if n++; n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("%d batches taken, want 2", n)
	}
}
