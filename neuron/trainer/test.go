package trainer

import (
	"context"
	"fmt"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Test classifies the test set through the local path and through the
// network path (routing to the synapses of the Metagraph), without learning,
// with the model in evaluation mode (nn.Eval) and back in training mode after.
func (t *Trainer) Test(ctx context.Context, test Batches) (TestResult, error) {
	nn.Eval(t.model)
	defer nn.Train(t.model)
	var loss, local, network float64
	n := 0
	var err error
	for b := range test.Epoch(ctx, 0) {
		size := int(b.Inputs.Size(0)) // before testBatch frees the batch
		torch.NoGrad(func() {
			var l, c1, c2 float64
			l, c1, c2, err = t.testBatch(ctx, b)
			loss, local, network = loss+l, local+c1, network+c2
		})
		if err != nil {
			return TestResult{}, err
		}
		n += size
	}
	if n == 0 {
		return TestResult{}, nil
	}
	return TestResult{Loss: loss / float64(n), LocalAccuracy: local / float64(n), NetworkAccuracy: network / float64(n)}, nil
}

// testBatch returns the batch's summed loss and its counts of right answers
// on the local and the network paths.
func (t *Trainer) testBatch(ctx context.Context, b Batch) (loss, local, network float64, err error) {
	s := torch.NewScope()
	defer s.Close()
	x, y := t.onDevice(s, b.Inputs), t.onDevice(s, b.Targets)
	synapses, err := t.fitting(x)
	if err != nil {
		return 0, 0, 0, err
	}
	encoding, forward := t.encode(x)
	q, err := t.query(ctx, s, t.callable(synapses), encoding, x, b.Text)
	if err != nil {
		return 0, 0, 0, err
	}
	defer q.dispatch.Close()
	out := forward(q.network, y)
	size := float64(x.Size(0))
	if loss, err = out.Loss.Item(); err != nil {
		return 0, 0, 0, fmt.Errorf("trainer: test: %w", err)
	}
	if local, err = out.LocalTarget.Argmax(1, false).Eq(y).Sum().Item(); err != nil {
		return 0, 0, 0, fmt.Errorf("trainer: test: %w", err)
	}
	if network, err = out.NetworkTarget.Argmax(1, false).Eq(y).Sum().Item(); err != nil {
		return 0, 0, 0, fmt.Errorf("trainer: test: %w", err)
	}
	return loss * size, local, network, nil
}
