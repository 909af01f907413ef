package mnist

import (
	"context"
	"iter"

	"github.com/opentensor/bittensor-go/neuron/trainer"
	"github.com/opentensor/bittensor-go/torch"
)

// Tensors returns the loader's batches as tensors for a trainer.Trainer:
// images [batch, 1, 28, 28] float32 in [0, 1] and labels [batch] int64.
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
			n := int64(mb.Size())
			x := torch.FromFloat32(mb.Images, n, 1, Rows, Cols)
			y := torch.FromInt64(mb.Labels)
			if !yield(trainer.Batch{Inputs: x, Targets: y}) {
				return
			}
		}
	}
}
