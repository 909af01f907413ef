package cifar

import (
	"errors"
	"fmt"

	"github.com/opentensor/bittensor-go/neuron/synapse"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Classes is the number of CIFAR-10 (and Fashion-MNIST) classes.
const Classes = 10

// The per-channel mean and standard deviation of CIFAR-10's training
// images, which the model subtracts and divides by.
var (
	channelMean = [Channels]float64{0.4914, 0.4822, 0.4465}
	channelStd  = [Channels]float64{0.2470, 0.2435, 0.2616}
)

// Model is the seed's CIFAR synapse, a Dual Path Network, with the
// network's context really used:
//
//   - the trunk, a DPN, maps an image to features [FeatureDim] (9728 for DPN26);
//   - the student, a second DPN of the same shape, maps the image to a
//     context of the same size, and learns to imitate the network's
//     context (the distillation loss, MSE against the detached network
//     answer);
//   - the encoding of an image with a context is features + context: what
//     the synapse serves (with the student's context) and what the logit
//     MLP (FeatureDim→512→256→10, log-softmax) classifies.
//
// So the local path classifies features + student context and the network
// path features + the network's context, as in the MNIST synapse.
//
// # Batch norm and serving
//
// The model is served (Encode, by the Axon and in-process by the neuron's
// own step) while its Trainer trains it, from other goroutines. Encode
// always normalises with the running statistics (evaluation mode): an
// answer depends on its image alone, not on the rest of a caller's batch,
// and a served forward never writes the model's state. Forward follows the
// module's mode (nn.Train, nn.Eval): in training mode it normalises with the
// batch's statistics and computes new running statistics into copies, which
// CommitState installs; the Trainer calls it inside the synapse's Update,
// after the optimizer step, so served forwards never read half-written
// statistics. A step skipped for a non-finite loss commits nothing.
type Model struct {
	nn.Base
	cfg                    DPNConfig
	trunk, student         *trunk
	logit1, logit2, logit3 *nn.Linear
	norms                  norms
}

// NewModel returns a DPN26 Model initialised from the torch random generator.
func NewModel() *Model {
	m, err := NewModelWith(DPN26())
	if err != nil {
		panic(err) // DPN26 is valid
	}
	return m
}

// NewModelWith returns a Model of the given shape (smaller ones serve tests).
func NewModelWith(c DPNConfig) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := &Model{cfg: c}
	m.trunk = nn.Register(m, "trunk", newTrunk(&m.norms, c))
	m.student = nn.Register(m, "student", newTrunk(&m.norms, c))
	m.logit1 = nn.Register(m, "logit1", nn.NewLinear(c.FeatureDim(), 512, true))
	m.logit2 = nn.Register(m, "logit2", nn.NewLinear(512, 256, true))
	m.logit3 = nn.Register(m, "logit3", nn.NewLinear(256, Classes, true))
	return m, nil
}

// ContextDim returns the size of the context the model serves per image.
func (m *Model) ContextDim() int64 { return m.cfg.FeatureDim() }

// normalize subtracts each channel's mean and divides by its deviation;
// images are [N, 3, 32, 32] in [0, 1].
func normalize(images *torch.Tensor) *torch.Tensor {
	chans := make([]*torch.Tensor, Channels)
	for c := range chans {
		chans[c] = images.Narrow(1, int64(c), 1).SubScalar(channelMean[c]).DivScalar(channelStd[c])
	}
	return torch.Cat(chans, 1)
}

func (m *Model) logits(encoding *torch.Tensor) *torch.Tensor {
	h := m.logit2.Forward(m.logit1.Forward(encoding).Relu()).Relu()
	return m.logit3.Forward(h).LogSoftmax(1)
}

// Encode returns what the synapse serves for images [N, 3, 32, 32]: the
// trunk's features plus the student's context, [N, ContextDim], computed
// with the running batch-norm statistics (see the type's doc).
func (m *Model) Encode(images *torch.Tensor) *torch.Tensor {
	x := normalize(images)
	return m.trunk.forward(x, useRunning).Add(m.student.forward(x, useRunning))
}

// Inputs declares what Encode accepts from the network: float32 images of
// [batch, 3, 32, 32]. The Axon refuses other inputs with INVALID_ARGUMENT.
func (m *Model) Inputs() synapse.InputSpec {
	return synapse.InputSpec{DType: bittensorpb.DataType_FLOAT32, Shape: []int64{-1, Channels, Rows, Cols}}
}

// Forward computes the seed's outputs: the local path (student context),
// and, when network is given, the network path and the distillation loss
// (mean squared error of the student against the detached network
// context). With labels it computes the NLL losses and their sum. In
// training mode batch norm uses the batch's statistics (see the type's doc).
func (m *Model) Forward(images, network, labels *torch.Tensor) *synapse.Output {
	mode := useRunning
	if m.IsTraining() {
		mode = useBatch
	}
	x := normalize(images)
	features := m.trunk.forward(x, mode)
	student := m.student.forward(x, mode)
	out := &synapse.Output{}
	out.LocalOutput = features.Add(student)
	out.LocalTarget = m.logits(out.LocalOutput)
	if network != nil {
		out.NetworkOutput = features.Add(network)
		out.NetworkTarget = m.logits(out.NetworkOutput)
		out.DistillationLoss = torch.MSELoss(student, network.Detach(), torch.ReduceMean)
	}
	return out.WithLosses(labels)
}

// CommitState installs the batch-norm running statistics computed by the
// last training Forward. The Trainer calls it after each optimizer step,
// while no served forward runs.
func (m *Model) CommitState() error {
	var errs []error
	for _, b := range m.norms {
		if err := b.commit(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cifar: batch norm statistics: %w", err)
	}
	return nil
}
