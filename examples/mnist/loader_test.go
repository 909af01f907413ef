package mnist

import (
	"context"
	"slices"
	"testing"
)

// The MNIST loader cuts its Dataset into batches of whole 1×28×28 images,
// their labels with them; the loading itself is prefetch's, tested there.
func TestLoaderCutsTheDatasetIntoImages(t *testing.T) {
	d := &Dataset{Pixels: make([]byte, 3*Pixels), Labels: []byte{7, 8, 9}}
	for i := range 3 {
		for p := range Pixels {
			d.Pixels[i*Pixels+p] = byte(i + p)
		}
	}
	l, err := NewLoader(d, 2, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Shape(); !slices.Equal(got, []int64{1, Rows, Cols}) {
		t.Fatalf("image shape %v, want [1 %d %d]", got, Rows, Cols)
	}
	var images []float32
	var labels []int64
	for b := range l.Epoch(context.Background(), 0) {
		images, labels = append(images, b.Images...), append(labels, b.Labels...)
	}
	if len(images) != len(d.Pixels) || !slices.Equal(labels, []int64{7, 8, 9}) {
		t.Fatalf("%d values and labels %v, want %d and 7 8 9", len(images), labels, len(d.Pixels))
	}
	for i, v := range images {
		if want := float32(d.Pixels[i]) / 255; v != want {
			t.Fatalf("value %d = %v, want %v", i, v, want)
		}
	}
	if _, err := NewLoader(&Dataset{Labels: []byte{1}, Pixels: make([]byte, Pixels-1)}, 4, false, 0); err == nil {
		t.Fatal("a dataset short of one pixel accepted")
	}
}
