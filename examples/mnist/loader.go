package mnist

import (
	"fmt"

	"github.com/opentensor/bittensor-go/examples/internal/prefetch"
	"github.com/opentensor/bittensor-go/examples/internal/tensorbatches"
	"github.com/opentensor/bittensor-go/neuron/trainer"
)

// Loader cuts a Dataset into minibatches of images of [1, Rows, Cols],
// shuffled anew each epoch when asked, and prepares them on a goroutine
// ahead of the consumer: it is a prefetch.Loader, whose methods it has.
type Loader struct{ *prefetch.Loader }

// NewLoader returns a loader of batchSize examples per batch (at least 1;
// the last batch of an epoch may be smaller) of data, which must hold at
// least one example and Pixels bytes for each. With shuffle, epoch e
// visits the examples in an order drawn from (seed, e), so a resumed run
// sees the same order.
func NewLoader(data *Dataset, batchSize int, shuffle bool, seed uint64) (*Loader, error) {
	l, err := prefetch.NewLoader(
		prefetch.Images{Shape: []int64{1, Rows, Cols}, Pixels: data.Pixels, Labels: data.Labels},
		prefetch.Options{BatchSize: batchSize, Shuffle: shuffle, Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	return &Loader{l}, nil
}

// Tensors returns the loader's batches as tensors for a trainer.Trainer:
// images [batch, 1, 28, 28] float32 in [0, 1] and labels [batch] int64.
func (l *Loader) Tensors() trainer.Batches { return tensorbatches.Of(l.Loader) }
