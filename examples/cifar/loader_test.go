package cifar

import (
	"context"
	"slices"
	"testing"
)

// numbered returns a dataset whose example i has label i%10 and pixel
// (c, y, x) equal to (i + c + y + x) % 256, so that where a pixel came
// from can be told.
func numbered(n int) *Dataset {
	d := &Dataset{Pixels: make([]byte, n*Pixels), Labels: make([]byte, n)}
	for i := range n {
		d.Labels[i] = byte(i % Classes)
		for c := range Channels {
			for y := range Rows {
				for x := range Cols {
					d.Pixels[i*Pixels+c*Rows*Cols+y*Cols+x] = byte(i + 3*c + 5*y + 7*x)
				}
			}
		}
	}
	return d
}

// The augmentation is a crop of the zero-padded image and a mirror: check
// it against the definition, pixel by pixel.
func TestAugment(t *testing.T) {
	src := numbered(1).Pixels
	dst := make([]byte, Pixels)
	for _, c := range []struct {
		dx, dy int
		flip   bool
	}{{0, 0, false}, {0, 0, true}, {4, -4, false}, {-3, 2, true}, {-4, 4, true}} {
		augment(dst, src, c.dx, c.dy, c.flip)
		for ch := range Channels {
			for y := range Rows {
				for x := range Cols {
					sx := x
					if c.flip {
						sx = Cols - 1 - x
					}
					sx, sy := sx+c.dx, y+c.dy
					want := byte(0)
					if sx >= 0 && sx < Cols && sy >= 0 && sy < Rows {
						want = src[ch*Rows*Cols+sy*Cols+sx]
					}
					if got := dst[ch*Rows*Cols+y*Cols+x]; got != want {
						t.Fatalf("shift (%d,%d) flip %v: pixel (%d,%d,%d) = %v, want %v", c.dx, c.dy, c.flip, ch, y, x, got, want)
					}
				}
			}
		}
	}
}

// The test loader gives every image as it is, scaled, in order, whatever
// the epoch.
func TestTestLoaderInOrderUnchanged(t *testing.T) {
	d := numbered(7)
	l, err := NewLoader(d, 3, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 3 || l.Examples() != 7 {
		t.Fatalf("Len %d, Examples %d; want 3 batches of 7", l.Len(), l.Examples())
	}
	seen := 0
	for b := range l.Epoch(context.Background(), 5) {
		for j := range b.Size() {
			img := b.Images[j*Pixels : (j+1)*Pixels]
			for p, v := range img {
				if want := float32(d.Pixels[seen*Pixels+p]) / 255; v != want {
					t.Fatalf("example %d pixel %d = %v, want %v (no augmentation)", seen, p, v, want)
				}
			}
			if b.Labels[j] != int64(seen%Classes) {
				t.Fatalf("example %d has label %d", seen, b.Labels[j])
			}
			seen++
		}
	}
	if seen != 7 {
		t.Fatalf("visited %d examples, want 7", seen)
	}
}

// The training loader visits every example once per epoch, in an order
// and with augmentations that change from epoch to epoch and repeat for the
// same epoch (a resumed run sees the same batches).
func TestTrainLoaderShufflesAndAugmentsReproducibly(t *testing.T) {
	d := &Dataset{Pixels: make([]byte, 50*Pixels), Labels: make([]byte, 50)}
	for i := range 50 {
		d.Labels[i] = byte(i % Classes)
		// Every pixel of image i is i+1: the crop's zero border cannot hide
		// which image it is, and the label must match it.
		for p := range Pixels {
			d.Pixels[i*Pixels+p] = byte(i + 1)
		}
	}
	l, err := NewLoader(d, 8, true, 11)
	if err != nil {
		t.Fatal(err)
	}
	epoch := func(e int) (ids []int, images []float32) {
		for b := range l.Epoch(context.Background(), e) {
			for j := range b.Size() {
				img := b.Images[j*Pixels : (j+1)*Pixels]
				id := int(slices.Max(img)*255+0.5) - 1
				if int64(id%Classes) != b.Labels[j] {
					t.Fatalf("image %d carries label %d", id, b.Labels[j])
				}
				ids = append(ids, id)
			}
			images = append(images, b.Images...)
		}
		return ids, images
	}
	e0, img0 := epoch(0)
	e1, img1 := epoch(1)
	again, imgAgain := epoch(1)
	if !slices.Equal(slices.Sorted(slices.Values(e0)), func() []int {
		all := make([]int, 50)
		for i := range all {
			all[i] = i
		}
		return all
	}()) {
		t.Fatalf("epoch 0 visited %v, want each of 0..49 once", e0)
	}
	if slices.Equal(e0, e1) {
		t.Fatal("epochs 0 and 1 visit the examples in the same order")
	}
	if !slices.Equal(e1, again) || !slices.Equal(img1, imgAgain) {
		t.Fatal("epoch 1 is not reproducible")
	}
	// Some crops shift: zeros appear at the borders of some images.
	zeros := 0
	for _, v := range img0 {
		if v == 0 {
			zeros++
		}
	}
	if zeros == 0 {
		t.Fatal("no image of epoch 0 was shifted by the random crop")
	}
}

// BenchmarkLoaderEpoch prepares shuffled, augmented epochs of 10000 images
// in batches of BatchSize.
func BenchmarkLoaderEpoch(b *testing.B) {
	l, err := NewLoader(numbered(10000), BatchSize, true, 1)
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
