package neuron_test

import (
	"context"
	"fmt"
	"os"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// signModel is a synapse model of one's own: it learns whether the 8
// features of an example sum above zero, distilling what the network
// answers into a student, as the seed's models do.
type signModel struct {
	nn.Base
	student, encoder, classifier *nn.Linear
}

const features, width = 8, 16

func newSignModel() (synapse.Model, error) {
	m := &signModel{}
	m.student = nn.Register(m, "student", nn.NewLinear(features, width, true))
	m.encoder = nn.Register(m, "encoder", nn.NewLinear(features+width, width, true))
	m.classifier = nn.Register(m, "classifier", nn.NewLinear(width, 2, true))
	return m, nil
}

func (m *signModel) encode(x, context *torch.Tensor) *torch.Tensor {
	return m.encoder.Forward(torch.Cat([]*torch.Tensor{x, context}, 1)).Tanh()
}

// Encode is what the synapse serves its peers: [batch, width].
func (m *signModel) Encode(x *torch.Tensor) *torch.Tensor {
	return m.encode(x, m.student.Forward(x).Tanh())
}

// Inputs declares the inputs Encode takes: float32 [batch, 8].
func (m *signModel) Inputs() synapse.InputSpec {
	return synapse.InputSpec{DType: bittensorpb.DataType_FLOAT32, Shape: []int64{-1, features}}
}

// Forward computes the seed's three losses from the local path (the
// student's context) and the network path (the peers' joined answer).
func (m *signModel) Forward(x, network, targets *torch.Tensor) *synapse.Output {
	student := m.student.Forward(x).Tanh()
	out := &synapse.Output{LocalOutput: m.encode(x, student)}
	out.LocalTarget = m.classifier.Forward(out.LocalOutput).LogSoftmax(1)
	if network != nil {
		out.NetworkOutput = m.encode(x, network)
		out.NetworkTarget = m.classifier.Forward(out.NetworkOutput).LogSoftmax(1)
		out.DistillationLoss = torch.MSELoss(student, network.Detach(), torch.ReduceMean)
	}
	return out.WithLosses(targets)
}

// signData draws n examples and their labels: whether they sum above zero.
func signData(n int64) (x, y *torch.Tensor) {
	x = torch.Randn([]int64{n, features})
	return x, x.Sum(1).GtScalar(0).ToDType(torch.Int64)
}

// A model of one's own runs as a neuron with neuron.Run: it is served to
// peers (announcing TENSOR [8] → 16, so that only neurons asking that call
// it), and it trains with the peers that fit it. Start a second one with
// cfg.Bootstrap set to the first one's metagraph address to train them
// together.
func Example_ownNeuron() {
	logs, _ := os.MkdirTemp("", "sign-neuron-")
	defer os.RemoveAll(logs)
	cfg := neuron.DefaultConfig() // free ports on 127.0.0.1, no bootstrap peer
	cfg.Epochs, cfg.BatchSize, cfg.LogDir, cfg.Seed = 1, 32, logs, 1

	err := neuron.Run(context.Background(), cfg, neuron.Spec{
		Name:      "sign",
		Modality:  bittensorpb.Modality_TENSOR,
		OutputDim: width,
		NewModel:  newSignModel,
		Data: func(_ context.Context, cfg neuron.Config, seed uint64) (train, test trainer.Batches, err error) {
			x, y := signData(1024)
			if train, err = trainer.NewTensorBatches(x, y, cfg.BatchSize, true, seed); err != nil {
				return nil, nil, err
			}
			x, y = signData(256)
			test, err = trainer.NewTensorBatches(x, y, cfg.BatchSize, false, 0)
			return train, test, err
		},
	})
	fmt.Println("trained one epoch:", err == nil)
	// Output: trained one epoch: true
}
