package cifar

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"

	"github.com/opentensor/bittensor-go/neuron/trainer"
	"github.com/opentensor/bittensor-go/torch"
)

// prefetchBatches is how many batches the loader prepares ahead of training.
const prefetchBatches = 4

// cropPadding is how far a random crop may shift an image (torchvision's
// RandomCrop(32, padding=4)): the image is padded with zeros by 4 pixels on
// each side and a 32×32 window is cut out of it.
const cropPadding = 4

// augmentStream separates the augmentation's random stream from the order's.
const augmentStream = 0x9e3779b97f4a7c15

// Batch is a minibatch of examples ready to become tensors.
type Batch struct {
	// Index is the batch's position in its epoch, from 0.
	Index int
	// Images holds Size·Pixels values in [0, 1] (torchvision's ToTensor),
	// image after image, shape [Size, 3, 32, 32].
	Images []float32
	// Labels holds the Size classes.
	Labels []int64
}

// Size returns the number of examples in the batch.
func (b Batch) Size() int { return len(b.Labels) }

// Loader cuts a Dataset into minibatches, shuffled and augmented anew each
// epoch when asked, and prepares them on a goroutine ahead of the consumer.
type Loader struct {
	data      *Dataset
	batchSize int
	train     bool
	seed      uint64
}

// NewLoader returns a loader of batchSize examples per batch (the last batch
// of an epoch may be smaller). With train, epoch e visits the examples in an
// order drawn from (seed, e) and augments each (a random crop with padding 4
// and a horizontal flip with probability ½), so a resumed run sees the same
// batches; without it, the examples come in order as they are.
func NewLoader(data *Dataset, batchSize int, train bool, seed uint64) (*Loader, error) {
	if batchSize < 1 {
		return nil, fmt.Errorf("cifar: batch size %d, want at least 1", batchSize)
	}
	if data.Len() == 0 || len(data.Pixels) != data.Len()*Pixels {
		return nil, fmt.Errorf("cifar: dataset holds %d labels and %d pixels, want n>0 labels and n·%d pixels",
			data.Len(), len(data.Pixels), Pixels)
	}
	return &Loader{data: data, batchSize: batchSize, train: train, seed: seed}, nil
}

// Len returns the number of batches in an epoch.
func (l *Loader) Len() int { return (l.data.Len() + l.batchSize - 1) / l.batchSize }

// Examples returns the number of examples in an epoch.
func (l *Loader) Examples() int { return l.data.Len() }

// Epoch returns the batches of epoch e in order. A goroutine prepares up to
// prefetchBatches batches ahead; it ends when the sequence is exhausted, when
// the consumer stops ranging, or when ctx is done (the sequence then ends
// early: check ctx.Err() after the loop). Epoch waits for it before returning.
func (l *Loader) Epoch(ctx context.Context, epoch int) iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		ctx, cancel := context.WithCancel(ctx)
		batches := make(chan Batch, prefetchBatches)
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer close(batches)
			l.produce(ctx, epoch, batches)
		}()
		defer func() {
			cancel()
			<-done
		}()
		for b := range batches {
			if !yield(b) {
				return
			}
		}
	}
}

// produce sends the batches of an epoch until done or ctx ends.
func (l *Loader) produce(ctx context.Context, epoch int, out chan<- Batch) {
	n := l.data.Len()
	var order []int
	var rng *rand.Rand
	if l.train {
		order = rand.New(rand.NewPCG(l.seed, uint64(epoch))).Perm(n)
		rng = rand.New(rand.NewPCG(l.seed^augmentStream, uint64(epoch)))
	} else {
		order = make([]int, n)
		for i := range order {
			order[i] = i
		}
	}
	for i := 0; i*l.batchSize < n; i++ {
		idx := order[i*l.batchSize : min((i+1)*l.batchSize, n)]
		b := Batch{Index: i, Images: make([]float32, len(idx)*Pixels), Labels: make([]int64, len(idx))}
		for j, k := range idx {
			src := l.data.Pixels[k*Pixels : (k+1)*Pixels]
			dst := b.Images[j*Pixels : (j+1)*Pixels]
			if rng != nil {
				dx, dy := rng.IntN(2*cropPadding+1)-cropPadding, rng.IntN(2*cropPadding+1)-cropPadding
				augment(dst, src, dx, dy, rng.IntN(2) == 1)
			} else {
				for p, v := range src {
					dst[p] = level[v]
				}
			}
			b.Labels[j] = int64(l.data.Labels[k])
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
	}
}

// augment writes into dst the 32×32 window of src padded with zeros, shifted
// by (dx, dy), mirrored left to right when flip: dst(c, y, x) = src(c, y+dy,
// x'+dx) with x' = 31−x when flipped and x otherwise, 0 outside src.
func augment(dst []float32, src []byte, dx, dy int, flip bool) {
	for c := range Channels {
		plane, out := src[c*Rows*Cols:(c+1)*Rows*Cols], dst[c*Rows*Cols:(c+1)*Rows*Cols]
		for y := range Rows {
			sy := y + dy
			row := out[y*Cols : (y+1)*Cols]
			if sy < 0 || sy >= Rows {
				clear(row)
				continue
			}
			for x := range Cols {
				sx := x
				if flip {
					sx = Cols - 1 - x
				}
				sx += dx
				if sx < 0 || sx >= Cols {
					row[x] = 0
				} else {
					row[x] = level[plane[sy*Cols+sx]]
				}
			}
		}
	}
}

// level maps a pixel byte to its value in [0, 1].
var level = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// Tensors returns the loader's batches as tensors for a trainer.Trainer:
// images [batch, 3, 32, 32] float32 in [0, 1] and labels [batch] int64.
func (l *Loader) Tensors() trainer.Batches { return tensorBatches{l} }

// tensorBatches implements trainer.Batches over a Loader.
type tensorBatches struct{ l *Loader }

// Len returns the number of batches in an epoch.
func (b tensorBatches) Len() int { return b.l.Len() }

// Examples returns the number of examples in an epoch.
func (b tensorBatches) Examples() int { return b.l.Examples() }

// Epoch returns epoch e's batches as tensors, made as the consumer asks.
func (b tensorBatches) Epoch(ctx context.Context, e int) iter.Seq[trainer.Batch] {
	return func(yield func(trainer.Batch) bool) {
		for mb := range b.l.Epoch(ctx, e) {
			x := torch.FromFloat32(mb.Images, int64(mb.Size()), Channels, Rows, Cols)
			y := torch.FromInt64(mb.Labels)
			if !yield(trainer.Batch{Inputs: x, Targets: y}) {
				return
			}
		}
	}
}
