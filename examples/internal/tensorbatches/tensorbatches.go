// Package tensorbatches gives a prefetch.Loader's batches to the neuron's
// trainer as tensors. It is the one place the examples' image loaders meet
// the trainer's batch type.
package tensorbatches

import (
	"context"
	"iter"

	"github.com/opentensor/bittensor-go/examples/internal/prefetch"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	"github.com/opentensor/bittensor-go/torch"
)

// Of returns l's batches as the trainer takes them: each batch's Inputs are
// its images, float32 of shape [batch, l.Shape()...] with values in [0, 1],
// and its Targets its labels, int64 of shape [batch]. Each batch yielded is
// a new tensor pair, the consumer's to free (a Trainer step does).
func Of(l *prefetch.Loader) trainer.Batches { return batches{l: l, shape: l.Shape()} }

// batches implements trainer.Batches over a Loader.
type batches struct {
	l     *prefetch.Loader
	shape []int64 // one image's
}

// Len returns the number of batches in an epoch.
func (b batches) Len() int { return b.l.Len() }

// Examples returns the number of examples in an epoch.
func (b batches) Examples() int { return b.l.Examples() }

// Epoch returns epoch e's batches as tensors, each made when the consumer
// asks for it; it ends early when ctx ends.
func (b batches) Epoch(ctx context.Context, e int) iter.Seq[trainer.Batch] {
	return func(yield func(trainer.Batch) bool) {
		for mb := range b.l.Epoch(ctx, e) {
			x := torch.FromFloat32(mb.Images, append([]int64{int64(mb.Size())}, b.shape...)...)
			y := torch.FromInt64(mb.Labels)
			if !yield(trainer.Batch{Inputs: x, Targets: y}) {
				return
			}
		}
	}
}
