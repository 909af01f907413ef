package mnist

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
)

// prefetchBatches is how many batches the loader prepares ahead of training.
const prefetchBatches = 4

// Batch is a minibatch of MNIST examples ready to become tensors.
type Batch struct {
	// Index is the batch's position in its epoch, from 0.
	Index int
	// Images holds Size·Pixels grey levels scaled to [0, 1] (as torchvision's
	// ToTensor does), image after image; shape [Size, 1, Rows, Cols].
	Images []float32
	// Labels holds the Size digits.
	Labels []int64
}

// Size returns the number of examples in the batch.
func (b Batch) Size() int { return len(b.Labels) }

// Loader cuts a Dataset into minibatches, shuffled anew each epoch when asked,
// and prepares them on a goroutine ahead of the consumer.
type Loader struct {
	data      *Dataset
	batchSize int
	shuffle   bool
	seed      uint64
}

// NewLoader returns a loader of batchSize examples per batch (the last batch
// of an epoch may be smaller). With shuffle, epoch e visits the examples in
// an order drawn from (seed, e), so a resumed run sees the same order.
func NewLoader(data *Dataset, batchSize int, shuffle bool, seed uint64) (*Loader, error) {
	if batchSize < 1 {
		return nil, fmt.Errorf("mnist: batch size %d, want at least 1", batchSize)
	}
	if data.Len() == 0 || len(data.Pixels) != data.Len()*Pixels {
		return nil, fmt.Errorf("mnist: dataset holds %d labels and %d pixels, want n>0 labels and n·%d pixels",
			data.Len(), len(data.Pixels), Pixels)
	}
	return &Loader{data: data, batchSize: batchSize, shuffle: shuffle, seed: seed}, nil
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
			l.produce(ctx, l.order(epoch), batches)
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

// order returns the example indices of an epoch.
func (l *Loader) order(epoch int) []int {
	n := l.data.Len()
	if l.shuffle {
		return rand.New(rand.NewPCG(l.seed, uint64(epoch))).Perm(n)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// produce sends the batches of order until done or ctx ends.
func (l *Loader) produce(ctx context.Context, order []int, out chan<- Batch) {
	for i := 0; i*l.batchSize < len(order); i++ {
		idx := order[i*l.batchSize : min((i+1)*l.batchSize, len(order))]
		b := Batch{Index: i, Images: make([]float32, len(idx)*Pixels), Labels: make([]int64, len(idx))}
		for j, k := range idx {
			src := l.data.Pixels[k*Pixels : (k+1)*Pixels]
			dst := b.Images[j*Pixels : (j+1)*Pixels]
			for p, v := range src {
				dst[p] = greyLevel[v]
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

// greyLevel maps a pixel byte to its value in [0, 1].
var greyLevel = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()
