package trainer

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"

	"github.com/opentensor/bittensor-go/torch"
)

// TensorBatches cuts a dataset held in two tensors into minibatches: the
// Batches of a small dataset that fits in memory, for a neuron of one's own.
type TensorBatches struct {
	inputs, targets *torch.Tensor
	n               int
	batchSize       int
	shuffle         bool
	seed            uint64
}

// NewTensorBatches returns the batches of inputs and targets (examples
// first, as many of each) of batchSize examples each; the last batch of an
// epoch may be smaller. With shuffle, epoch e visits the examples in an
// order drawn from (seed, e), so a resumed run sees the same order. The
// batches own inputs and targets from now on; each batch yielded is a new
// tensor pair, the consumer's to free (a Trainer step does).
func NewTensorBatches(inputs, targets *torch.Tensor, batchSize int, shuffle bool, seed uint64) (*TensorBatches, error) {
	if err := inputs.Err(); err != nil {
		return nil, fmt.Errorf("tensor batches: inputs: %w", err)
	}
	if err := targets.Err(); err != nil {
		return nil, fmt.Errorf("tensor batches: targets: %w", err)
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("tensor batches: batch size %d, want at least 1", batchSize)
	}
	in, tg := inputs.Shape(), targets.Shape()
	if len(in) == 0 || len(tg) == 0 || in[0] != tg[0] || in[0] == 0 {
		return nil, fmt.Errorf("tensor batches: inputs %v and targets %v, want as many examples (at least 1) first", in, tg)
	}
	return &TensorBatches{inputs: inputs, targets: targets, n: int(in[0]), batchSize: batchSize, shuffle: shuffle, seed: seed}, nil
}

// Len returns the number of batches in an epoch.
func (b *TensorBatches) Len() int { return (b.n + b.batchSize - 1) / b.batchSize }

// Examples returns the number of examples in an epoch.
func (b *TensorBatches) Examples() int { return b.n }

// Epoch returns the batches of epoch e, made as the consumer asks; it ends
// early when ctx ends.
func (b *TensorBatches) Epoch(ctx context.Context, e int) iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		order := make([]int64, b.n)
		for i := range order {
			order[i] = int64(i)
		}
		if b.shuffle {
			r := rand.New(rand.NewPCG(b.seed, uint64(e)))
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for start := 0; start < b.n; start += b.batchSize {
			if ctx.Err() != nil {
				return
			}
			idx := torch.FromInt64(order[start:min(start+b.batchSize, b.n)])
			batch := Batch{Inputs: b.inputs.IndexSelect(0, idx), Targets: b.targets.IndexSelect(0, idx)}
			idx.Free()
			if !yield(batch) {
				return
			}
		}
	}
}

// Batch is a minibatch: inputs and their targets, examples first.
type Batch struct {
	Inputs, Targets *torch.Tensor
	// Text holds the examples as strings, for a synapse of modality TEXT:
	// what the network is sent. Inputs is then what the model's Tokenize
	// makes of them.
	Text []string
}

// Batches is a dataset cut into minibatches.
type Batches interface {
	// Len returns the number of batches in an epoch.
	Len() int
	// Examples returns the number of examples in an epoch.
	Examples() int
	// Epoch returns the batches of epoch e; it ends early when ctx ends.
	Epoch(ctx context.Context, e int) iter.Seq[Batch]
}
