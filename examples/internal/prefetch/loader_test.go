package prefetch

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
)

// testShape is the shape of the test images: 2 channels of 3×4 pixels.
var testShape = []int64{2, 3, 4}

const testPixels = 2 * 3 * 4

// numbered returns n images of testShape whose image i has label i%10 and
// pixel p equal to (i + 3p) % 256, so that where a value came from can be
// told.
func numbered(n int) Images {
	im := Images{Shape: testShape, Pixels: make([]byte, n*testPixels), Labels: make([]byte, n)}
	for i := range n {
		im.Labels[i] = byte(i % 10)
		for p := range testPixels {
			im.Pixels[i*testPixels+p] = byte(i + 3*p)
		}
	}
	return im
}

func newLoader(t testing.TB, im Images, o Options) *Loader {
	t.Helper()
	l, err := NewLoader(im, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// visit returns the image ids of an epoch in order, checking that batches
// come numbered from 0, of the batch size but the last, with every image's
// values those of one image, scaled, and its label that image's.
func visit(t *testing.T, l *Loader, im Images, bs, epoch int) []int {
	t.Helper()
	var ids []int
	for b := range l.Epoch(context.Background(), epoch) {
		if b.Index != len(ids)/bs || (b.Size() != bs && len(ids)+b.Size() != l.Examples()) {
			t.Fatalf("batch %d of %d images after %d images, batch size %d", b.Index, b.Size(), len(ids), bs)
		}
		if len(b.Images) != b.Size()*testPixels {
			t.Fatalf("batch %d holds %d values for %d images", b.Index, len(b.Images), b.Size())
		}
		for j := range b.Size() {
			id := int(b.Images[j*testPixels]*255 + 0.5)
			for p := range testPixels {
				if want := float32(im.Pixels[id*testPixels+p]) / 255; b.Images[j*testPixels+p] != want {
					t.Fatalf("image %d value %d = %v, want %v", id, p, b.Images[j*testPixels+p], want)
				}
			}
			if b.Labels[j] != int64(im.Labels[id]) {
				t.Fatalf("image %d carries label %d, want %d", id, b.Labels[j], im.Labels[id])
			}
			ids = append(ids, id)
		}
	}
	return ids
}

func TestLoaderShufflesEveryImageOnceReproducibly(t *testing.T) {
	im := numbered(10)
	l := newLoader(t, im, Options{BatchSize: 3, Shuffle: true, Seed: 7})
	if l.Len() != 4 || l.Examples() != 10 {
		t.Fatalf("Len %d, Examples %d; want 4 batches (3,3,3,1) of 10", l.Len(), l.Examples())
	}
	e0, e1 := visit(t, l, im, 3, 0), visit(t, l, im, 3, 1)
	if !slices.Equal(slices.Sorted(slices.Values(e0)), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("epoch 0 visited %v, want each of 0..9 once", e0)
	}
	if slices.Equal(e0, e1) {
		t.Fatalf("epochs 0 and 1 have the same order %v", e0)
	}
	if again := visit(t, l, im, 3, 1); !slices.Equal(again, e1) {
		t.Fatalf("epoch 1 order is not reproducible: %v then %v", e1, again)
	}
	other := newLoader(t, im, Options{BatchSize: 3, Shuffle: true, Seed: 8})
	if slices.Equal(visit(t, other, im, 3, 1), e1) {
		t.Fatal("seeds 7 and 8 give epoch 1 the same order")
	}
}

func TestLoaderInOrderWithoutShuffle(t *testing.T) {
	im := numbered(5)
	l := newLoader(t, im, Options{BatchSize: 2, Seed: 9})
	for _, e := range []int{0, 3} {
		if got := visit(t, l, im, 2, e); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
			t.Fatalf("epoch %d visited %v, want 0..4 in order", e, got)
		}
	}
}

// Augment rewrites every image from the epoch's own random stream: the
// augmentations repeat for an epoch, change from epoch to epoch, and leave
// the order as it is without them.
func TestLoaderAugmentsReproduciblyApartFromTheOrder(t *testing.T) {
	im := numbered(20)
	// The augmentation adds one random number to every byte of an image.
	augment := func(dst, src []byte, rng *rand.Rand) {
		if len(dst) != testPixels || len(src) != testPixels {
			t.Errorf("Augment got %d and %d bytes, want one image of %d", len(dst), len(src), testPixels)
		}
		add := byte(rng.IntN(256))
		for p, v := range src {
			dst[p] = v + add
		}
	}
	opts := Options{BatchSize: 6, Shuffle: true, Seed: 3}
	plain := newLoader(t, im, opts)
	opts.Augment = augment
	l := newLoader(t, im, opts)
	epoch := func(l *Loader, e int) (labels []int64, images []float32) {
		for b := range l.Epoch(context.Background(), e) {
			labels, images = append(labels, b.Labels...), append(images, b.Images...)
		}
		return labels, images
	}
	var shifts [2][20]byte // by epoch and image id
	for e := range 2 {
		plainLabels, plainImages := epoch(plain, e)
		labels, images := epoch(l, e)
		againLabels, againImages := epoch(l, e)
		if !slices.Equal(labels, plainLabels) {
			t.Fatalf("epoch %d: augmenting changed the order: labels %v, without %v", e, labels, plainLabels)
		}
		if !slices.Equal(images, againImages) || !slices.Equal(labels, againLabels) {
			t.Fatalf("epoch %d is not reproducible", e)
		}
		// Each image is its plain self shifted by one byte value: the
		// augmentation saw the right image.
		for i := range len(labels) {
			shift := func(p int) byte {
				return byte(int(images[i*testPixels+p]*255+0.5) - int(plainImages[i*testPixels+p]*255+0.5))
			}
			for p := range testPixels {
				if shift(p) != shift(0) {
					t.Fatalf("epoch %d image %d: value %d shifted by %d, value 0 by %d", e, i, p, shift(p), shift(0))
				}
			}
			shifts[e][int(plainImages[i*testPixels]*255+0.5)] = shift(0)
		}
	}
	if shifts[0] == shifts[1] {
		t.Fatalf("epochs 0 and 1 augment every image alike: %v", shifts[0])
	}
	// In order too, each epoch draws its own augmentations.
	opts.Shuffle = false
	inOrder := newLoader(t, im, opts)
	_, img0 := epoch(inOrder, 0)
	_, img1 := epoch(inOrder, 1)
	if slices.Equal(img0, img1) {
		t.Fatal("unshuffled epochs 0 and 1 have the same augmentations")
	}
}

func TestLoaderShapeIsACopy(t *testing.T) {
	im := numbered(1)
	shape := slices.Clone(im.Shape)
	im.Shape = shape
	l := newLoader(t, im, Options{BatchSize: 1})
	shape[0] = 99
	got := l.Shape()
	got[1] = 99
	if !slices.Equal(l.Shape(), testShape) {
		t.Fatalf("Shape %v after changing the slices given and returned, want %v", l.Shape(), testShape)
	}
}

func TestLoaderRejectsBadArguments(t *testing.T) {
	for _, c := range []struct {
		name string
		im   Images
		bs   int
	}{
		{"batch size 0", numbered(5), 0},
		{"no image", Images{Shape: testShape}, 4},
		{"too few pixels", Images{Shape: testShape, Labels: []byte{1}, Pixels: make([]byte, testPixels-1)}, 4},
		{"too many pixels", Images{Shape: testShape, Labels: []byte{1}, Pixels: make([]byte, testPixels+1)}, 4},
		{"no dimension", Images{Labels: []byte{1}, Pixels: make([]byte, 1)}, 4},
		{"a dimension of 0", Images{Shape: []int64{2, 0}, Labels: []byte{1}}, 4},
	} {
		if _, err := NewLoader(c.im, Options{BatchSize: c.bs}); err == nil {
			t.Errorf("%s accepted", c.name)
		}
	}
}

// The preparing goroutine ends when the consumer stops early and when the
// context ends; synctest fails the test if any goroutine is left blocked.
func TestLoaderGoroutineEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, numbered(100), Options{BatchSize: 2, Shuffle: true, Seed: 1})
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

// BenchmarkLoaderEpoch prepares epochs of MNIST's size (60000 images of
// 28×28, batches of 64), shuffled.
func BenchmarkLoaderEpoch(b *testing.B) {
	const n, pixels = 60000, 28 * 28
	im := Images{Shape: []int64{1, 28, 28}, Pixels: make([]byte, n*pixels), Labels: make([]byte, n)}
	l := newLoader(b, im, Options{BatchSize: 64, Shuffle: true, Seed: 1})
	b.ResetTimer()
	for i := range b.N {
		for range l.Epoch(context.Background(), i) {
		}
	}
	b.ReportMetric(float64(b.N*l.Examples())/b.Elapsed().Seconds(), "samples/s")
}
