package mnist

import (
	"github.com/opentensor/bittensor-go/neuron/synapse"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Model sizes and the normalisation of MNIST pixels (their mean and
// standard deviation over the training set).
const (
	ContextDim = 1024
	pixelMean  = 0.1307
	pixelStd   = 0.3081
)

// Model is the seed's MNIST synapse. A student network (784→1024→1024)
// learns to imitate the network's context; a forward network
// ((784+1024)→1024→1024) encodes an image together with a context (the
// student's, or the network's); a target network (1024→512→256→10, with
// log-softmax and no ReLU on the logits) classifies the encoding.
// ModelOptions may add a linear read-out of the network context.
type Model struct {
	nn.Base
	student1, student2        *nn.Linear
	forward1, forward2        *nn.Linear
	target1, target2, target3 *nn.Linear
	readout                   *nn.Linear // nil unless ModelOptions.ContextReadout
}

// ModelOptions are the departures from the seed's MNIST synapse that a
// neuron may choose. The zero value is the seed's model; `bittensor run
// mnist` runs with DefaultModelOptions.
type ModelOptions struct {
	// ContextReadout adds a linear read-out of the network context
	// (ContextDim→10), trained on its own loss, whose log-probabilities
	// are added to the classifier's on the network path (see
	// ForwardNetwork), so that a newcomer can use a trained peer's
	// encoding from its first steps, before its own encoder and classifier
	// have learnt to read it. The local path, what the synapse serves and
	// the gradients of the seed's layers are unchanged.
	ContextReadout bool
}

// DefaultModelOptions are the options of `bittensor run mnist`, Run and
// Spec: the context read-out, with which a newcomer learns from trained
// peers in half the steps a lone neuron needs (see the README's "Learning
// together").
func DefaultModelOptions() ModelOptions { return ModelOptions{ContextReadout: true} }

// NewModel returns the seed's Model (the zero ModelOptions) initialised
// from the torch random generator.
func NewModel() *Model {
	return NewModelWith(ModelOptions{})
}

// NewModelWith returns a Model with the options o, initialised from the
// torch random generator (the seed's layers are drawn first, in the same
// order as NewModel's).
func NewModelWith(o ModelOptions) *Model {
	m := &Model{}
	m.student1 = nn.Register(m, "student1", nn.NewLinear(Pixels, ContextDim, true))
	m.student2 = nn.Register(m, "student2", nn.NewLinear(ContextDim, ContextDim, true))
	m.forward1 = nn.Register(m, "forward1", nn.NewLinear(Pixels+ContextDim, ContextDim, true))
	m.forward2 = nn.Register(m, "forward2", nn.NewLinear(ContextDim, ContextDim, true))
	m.target1 = nn.Register(m, "target1", nn.NewLinear(ContextDim, 512, true))
	m.target2 = nn.Register(m, "target2", nn.NewLinear(512, 256, true))
	m.target3 = nn.Register(m, "target3", nn.NewLinear(256, Classes, true))
	if o.ContextReadout {
		// Named after the flag, so that a checkpoint made with the other
		// choice fails to load with an error that names it.
		m.readout = nn.Register(m, "context_readout", nn.NewLinear(ContextDim, Classes, true))
	}
	return m
}

// flatten normalises images ([batch, 1, 28, 28] or [batch, 784], grey
// levels in [0, 1]) into [batch, 784].
func flatten(images *torch.Tensor) *torch.Tensor {
	return images.Reshape(-1, Pixels).SubScalar(pixelMean).DivScalar(pixelStd)
}

func (m *Model) student(x *torch.Tensor) *torch.Tensor {
	return m.student2.Forward(m.student1.Forward(x).Relu()).Relu()
}

func (m *Model) encode(x, context *torch.Tensor) *torch.Tensor {
	h := torch.Cat([]*torch.Tensor{x, context}, 1)
	return m.forward2.Forward(m.forward1.Forward(h).Relu()).Relu()
}

// target classifies an encoding h into log-probabilities.
func (m *Model) target(h *torch.Tensor) *torch.Tensor {
	h = m.target2.Forward(m.target1.Forward(h).Relu()).Relu()
	return m.target3.Forward(h).LogSoftmax(1)
}

// Encode returns the encoding of images with the student's context: what
// the synapse serves to peers, [batch, ContextDim].
func (m *Model) Encode(images *torch.Tensor) *torch.Tensor {
	x := flatten(images)
	return m.encode(x, m.student(x))
}

// Inputs declares what Encode accepts from the network: float32 images of
// [batch, 1, 28, 28]. The Axon refuses other inputs with INVALID_ARGUMENT.
func (m *Model) Inputs() synapse.InputSpec {
	return synapse.InputSpec{DType: bittensorpb.DataType_FLOAT32, Shape: []int64{-1, 1, Rows, Cols}}
}

var _ synapse.SharedEncodingModel = (*Model)(nil)

// Forward computes the seed's outputs: the local path (student context),
// and, when network is given, the network path and the distillation loss
// (mean squared error of the student against the detached network
// context). With labels it computes the NLL losses and their sum.
func (m *Model) Forward(images, network, labels *torch.Tensor) *synapse.Output {
	return m.ForwardNetwork(m.ForwardLocal(images), images, network, labels)
}

// ForwardLocal computes the local path of Forward: LocalOutput, which is
// Encode(images), its LocalTarget, and the student's LocalContext. The
// Trainer routes with its LocalOutput (see synapse.SharedEncodingModel).
func (m *Model) ForwardLocal(images *torch.Tensor) *synapse.Output {
	x := flatten(images)
	out := &synapse.Output{LocalContext: m.student(x)}
	out.LocalOutput = m.encode(x, out.LocalContext)
	out.LocalTarget = m.target(out.LocalOutput)
	return out
}

// ForwardNetwork completes out, the ForwardLocal of images, as Forward
// does: the network path and the distillation loss when network is given,
// the losses when labels are.
//
// With the context read-out the network path's prediction is the product
// of two experts, the classifier of the encoding and the linear read-out of
// the context: NetworkTarget = log_softmax(classifier + read-out), both as
// log-probabilities. Each expert is trained on its own NLL, so the seed's
// layers get the gradients the seed's model gives them and the read-out
// learns as a linear probe of the context; NetworkTargetLoss is the NLL of
// the product, which the neuron reports.
func (m *Model) ForwardNetwork(out *synapse.Output, images, network, labels *torch.Tensor) *synapse.Output {
	if network == nil {
		return out.WithLosses(labels)
	}
	out.NetworkOutput = m.encode(flatten(images), network)
	classified := m.target(out.NetworkOutput)
	out.NetworkTarget = classified
	out.DistillationLoss = torch.MSELoss(out.LocalContext, network.Detach(), torch.ReduceMean)
	if m.readout == nil {
		return out.WithLosses(labels)
	}
	read := m.readout.Forward(network).LogSoftmax(1)
	out.NetworkTarget = classified.Add(read).LogSoftmax(1)
	out.WithLosses(labels)
	if labels != nil {
		out.Loss = out.LocalTargetLoss.
			Add(torch.NLLLoss(classified, labels, torch.ReduceMean)).
			Add(torch.NLLLoss(read, labels, torch.ReduceMean)).
			Add(out.DistillationLoss)
	}
	return out
}
