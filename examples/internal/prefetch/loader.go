package prefetch

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
)

// augmentStream separates the augmentation's random stream from the order's.
const augmentStream = 0x9e3779b97f4a7c15

// Images is a labelled image dataset held as bytes, for a Loader to cut
// into batches.
type Images struct {
	// Shape is one image's shape, such as [channels, rows, cols]: at least
	// one dimension, each at least 1.
	Shape []int64
	// Pixels holds the images one after another: len(Labels) images of
	// ∏Shape bytes each.
	Pixels []byte
	// Labels holds each image's class, at least one image.
	Labels []byte
}

// Options say how a Loader cuts its images into batches.
type Options struct {
	// BatchSize is the number of images per batch, at least 1; the last
	// batch of an epoch may be smaller.
	BatchSize int
	// Shuffle makes epoch e visit the images in an order drawn from
	// (Seed, e), so that a resumed run sees the same order; without it
	// every epoch visits them in order.
	Shuffle bool
	// Seed seeds the order and the augmentation.
	Seed uint64
	// Augment, when not nil, rewrites every image before it is scaled: it
	// writes into dst an augmented copy of src (each one image, ∏Shape
	// bytes), drawing what it needs from rng, epoch e's stream drawn from
	// (Seed, e) apart from the order's, so that epoch e's augmentations
	// repeat too. It runs on the goroutine that prepares an epoch (on
	// several at once when several epochs are ranged at once) and must not
	// keep dst, src or rng.
	Augment func(dst, src []byte, rng *rand.Rand)
}

// Batch is a minibatch of labelled images ready to become tensors.
type Batch struct {
	// Index is the batch's position in its epoch, from 0.
	Index int
	// Images holds Size images of the loader's Shape one after another,
	// each byte v scaled to v/255 in [0, 1] (as torchvision's ToTensor does).
	Images []float32
	// Labels holds the Size classes.
	Labels []int64
}

// Size returns the number of images in the batch.
func (b Batch) Size() int { return len(b.Labels) }

// Loader cuts Images into minibatches, shuffled and augmented anew each
// epoch when its Options ask, and prepares them on a goroutine ahead of the
// consumer (see Seq). It only reads the Images it was given, which must not
// change while it is in use; it is safe for concurrent use.
type Loader struct {
	images Images
	size   int // bytes per image
	opts   Options
}

// NewLoader returns a loader of images cut as o says. It refuses a batch
// size below 1, a shape with no dimension or one below 1, no images, and
// pixels that are not len(images.Labels) images of the shape.
func NewLoader(images Images, o Options) (*Loader, error) {
	if o.BatchSize < 1 {
		return nil, fmt.Errorf("loader: batch size %d, want at least 1", o.BatchSize)
	}
	if len(images.Shape) == 0 {
		return nil, errors.New("loader: an image shape with no dimension")
	}
	size := int64(1)
	for _, d := range images.Shape {
		if d < 1 {
			return nil, fmt.Errorf("loader: image shape %v, want every dimension at least 1", images.Shape)
		}
		size *= d
	}
	n := len(images.Labels)
	if n == 0 || int64(len(images.Pixels)) != int64(n)*size {
		return nil, fmt.Errorf("loader: %d labels and %d pixels, want n>0 labels and n·%d pixels",
			n, len(images.Pixels), size)
	}
	images.Shape = slices.Clone(images.Shape)
	return &Loader{images: images, size: int(size), opts: o}, nil
}

// Len returns the number of batches in an epoch.
func (l *Loader) Len() int { return (l.Examples() + l.opts.BatchSize - 1) / l.opts.BatchSize }

// Examples returns the number of images in an epoch.
func (l *Loader) Examples() int { return len(l.images.Labels) }

// Shape returns one image's shape; the caller may change the slice.
func (l *Loader) Shape() []int64 { return slices.Clone(l.images.Shape) }

// Epoch returns the batches of epoch e in order, prepared ahead as Seq
// does: the sequence ends early when ctx ends (check ctx.Err() after the
// loop), and the range waits for the preparing goroutine before it returns.
func (l *Loader) Epoch(ctx context.Context, e int) iter.Seq[Batch] {
	return Seq(ctx, func(_ context.Context, send func(Batch) bool) { l.produce(e, send) }, nil)
}

// produce sends the batches of epoch e until they are done or send refuses one.
func (l *Loader) produce(e int, send func(Batch) bool) {
	n, size, bs := l.Examples(), l.size, l.opts.BatchSize
	var order []int
	if l.opts.Shuffle {
		order = rand.New(rand.NewPCG(l.opts.Seed, uint64(e))).Perm(n)
	} else {
		order = make([]int, n)
		for i := range order {
			order[i] = i
		}
	}
	var rng *rand.Rand
	var augmented []byte
	if l.opts.Augment != nil {
		rng = rand.New(rand.NewPCG(l.opts.Seed^augmentStream, uint64(e)))
		augmented = make([]byte, size)
	}
	for i := 0; i*bs < n; i++ {
		idx := order[i*bs : min((i+1)*bs, n)]
		b := Batch{Index: i, Images: make([]float32, len(idx)*size), Labels: make([]int64, len(idx))}
		for j, k := range idx {
			src := l.images.Pixels[k*size : (k+1)*size]
			if rng != nil {
				l.opts.Augment(augmented, src, rng)
				src = augmented
			}
			dst := b.Images[j*size : (j+1)*size]
			for p, v := range src {
				dst[p] = level[v]
			}
			b.Labels[j] = int64(l.images.Labels[k])
		}
		if !send(b) {
			return
		}
	}
}

// level maps a pixel byte v to v/255.
var level = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()
