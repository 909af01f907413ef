package synapse

import (
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Model is a local model that a Trainer trains with the network, as the
// seed's Synapse subclasses are: it encodes its inputs into a context, the
// answer it serves to peers and the router's input, and computes its
// outputs and losses from the inputs, the network's joined answer and the
// targets.
type Model interface {
	nn.Module
	// Encode returns the model's context for inputs (its local_output).
	Encode(inputs *torch.Tensor) *torch.Tensor
	// Forward runs the model on inputs with the network's answer (nil
	// computes the local path only) and targets (nil computes no loss).
	Forward(inputs, network, targets *torch.Tensor) *Output
}

// TextModel is a Model that serves text: Tokenize turns a batch of strings
// into the inputs tensor its Encode and Forward take (token ids, say), and
// must accept any strings. A Local of modality TEXT needs one.
type TextModel interface {
	Model
	// Tokenize returns the inputs tensor of batch, examples first.
	Tokenize(batch []string) (*torch.Tensor, error)
}

// Output is what Model.Forward computes, named as in the seed's
// SynapseOutput. Fields the call could not compute are nil.
type Output struct {
	// LocalOutput encodes the inputs with the student's context.
	LocalOutput *torch.Tensor
	// LocalContext is the student's context that LocalOutput encodes, for
	// a model whose ForwardNetwork needs it (see SharedEncodingModel).
	LocalContext *torch.Tensor
	// LocalTarget holds the target predictions (log-probabilities) from
	// LocalOutput.
	LocalTarget *torch.Tensor
	// LocalTargetLoss is the target loss of LocalTarget.
	LocalTargetLoss *torch.Tensor
	// NetworkOutput encodes the inputs with the network's context.
	NetworkOutput *torch.Tensor
	// NetworkTarget holds the target predictions from NetworkOutput.
	NetworkTarget *torch.Tensor
	// NetworkTargetLoss is the target loss of NetworkTarget.
	NetworkTargetLoss *torch.Tensor
	// DistillationLoss is the student's error against the (detached)
	// network context.
	DistillationLoss *torch.Tensor
	// Loss is the sum of the losses computed: what training minimises.
	Loss *torch.Tensor
}

// SharedEncodingModel is a Model whose local path encodes its inputs
// exactly as Encode does, in training and in evaluation mode alike, so that
// a step computes that encoding once: the Trainer routes with the
// LocalOutput of ForwardLocal instead of calling Encode, and one backward
// pass carries the router's gradient and the local losses' gradients through
// it. The neuron's own synapse, when the router picks it, answers with the
// routed rows of that encoding too, instead of an in-process call encoding
// them again; it learns from their gradient through the same graph, after
// the step's backward, as it would from the call's backward. The
// parameters' gradients are those of Encode and Forward computed apart. A
// model whose Encode differs from its local path (batch norm with running
// statistics in Encode and batch statistics in training, dropout in one of
// them) must not implement it.
type SharedEncodingModel interface {
	Model
	// ForwardLocal computes the local path of Forward for inputs:
	// LocalOutput (equal to Encode(inputs)), LocalTarget and whatever
	// ForwardNetwork needs of it (LocalContext, say).
	ForwardLocal(inputs *torch.Tensor) *Output
	// ForwardNetwork completes local, the ForwardLocal of the same inputs,
	// as Forward(inputs, network, targets) would, and returns it.
	ForwardNetwork(local *Output, inputs, network, targets *torch.Tensor) *Output
}

// WithLosses completes o with the seed's losses for labels (the classes
// of the log-probabilities in LocalTarget and NetworkTarget): the local
// target loss and, with a network path, the network target loss; Loss is
// their sum plus DistillationLoss. Without labels it leaves o as it is. It
// returns o, so that a model's Forward can end with it.
func (o *Output) WithLosses(labels *torch.Tensor) *Output {
	if labels == nil {
		return o
	}
	o.LocalTargetLoss = torch.NLLLoss(o.LocalTarget, labels, torch.ReduceMean)
	o.Loss = o.LocalTargetLoss
	if o.NetworkTarget != nil {
		o.NetworkTargetLoss = torch.NLLLoss(o.NetworkTarget, labels, torch.ReduceMean)
		o.Loss = o.Loss.Add(o.NetworkTargetLoss).Add(o.DistillationLoss)
	}
	return o
}

// StatefulModel is a Model whose training Forward computes state besides
// its parameters' gradients (batch-norm running statistics, say), which
// must change only while no served forward reads it. The Trainer calls
// CommitState after each optimizer step, inside the synapse's Update.
type StatefulModel interface {
	Model
	// CommitState installs the state computed by the last training Forward.
	CommitState() error
}
