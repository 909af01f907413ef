package synapse

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/opentensor/bittensor-go/neuron/keys"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// ErrModalityNotSupported is wrapped by the error of a Synapse asked to run a
// modality its model does not implement. The Axon answers such requests with
// UNIMPLEMENTED.
var ErrModalityNotSupported = errors.New("modality not supported")

// Synapse is a model served on the network: the seed's Synapse class. A model
// implements any subset of the three forwards and embeds Base, which
// answers the others with ErrModalityNotSupported.
//
// The Axon calls the forwards concurrently, under torch.NoGrad for Forward
// requests and with autograd on for Backward requests. Input tensors arrive on
// the CPU (a model on a GPU moves them) and are freed when the request ends:
// a forward must not keep its inputs or anything computed from them. Each
// returns an output whose first dimension is the batch.
type Synapse interface {
	// Key returns the synapse's hex-encoded ed25519 public key (synapse_key).
	Key() string
	// ForwardText runs the model on a batch of strings.
	ForwardText(batch []string) (*torch.Tensor, error)
	// ForwardImage runs the model on a batch of images, [batch, channels, height, width].
	ForwardImage(images *torch.Tensor) (*torch.Tensor, error)
	// ForwardTensor runs the model on a batch of feature tensors.
	ForwardTensor(x *torch.Tensor) (*torch.Tensor, error)
}

// Trainable is a Synapse that lets the network train it: the Axon's Backward,
// besides returning the gradient of the inputs, applies the caller's gradient
// to the synapse's own parameters with the synapse's own optimizer.
type Trainable interface {
	Synapse
	// TrainStep runs pass, which recomputes the forward with autograd on and
	// back-propagates the caller's gradient into the synapse's parameters
	// (their Grad), and then applies those gradients with the synapse's
	// optimizer. TrainStep must start from cleared gradients, leave them
	// cleared, and hold whatever lock the synapse's own training loop holds
	// while it runs forward, backward and step, so the two never interleave.
	// If pass fails, TrainStep must not step and must return pass's error.
	TrainStep(pass func() error) error
}

// Guarded is a Synapse whose parameters its owner changes while it serves
// (a model that a Trainer trains). The Axon runs each request's forward, and
// for a Backward request the gradient computed from it, inside Guard, so that
// one request sees one set of parameters from start to end.
type Guarded interface {
	Synapse
	// Guard runs fn while the synapse's parameters cannot change. Calls may
	// run concurrently with each other.
	Guard(fn func() error) error
}

// NetworkLearner is a Guarded synapse that learns from the gradients its
// callers send with Backward without stepping while it serves: inside Guard,
// the Axon computes the gradient of the caller's loss with respect to
// LearnParameters and hands it to Learn, and the synapse's owner applies what
// was learnt at its next optimizer step (a Local collects them in a
// RemoteGrads, which its Trainer applies).
type NetworkLearner interface {
	Guarded
	// LearnParameters returns the parameters callers' gradients train, or
	// nil while the synapse does not learn from its callers.
	LearnParameters() []*torch.Tensor
	// Learn takes the gradients of caller's loss, grads[i] for
	// LearnParameters()[i] (nil where one got none). A gradient that is not
	// finite is refused with an error wrapping ErrGradientNotFinite.
	Learn(caller string, grads []*torch.Tensor) error
}

// InputSpec declares the inputs a synapse accepts for one modality: their
// wire dtype and shape. A dimension of -1 accepts any size; the first (the
// batch) always does.
type InputSpec struct {
	DType bittensorpb.DataType
	Shape []int64
}

// String writes the spec as, e.g., "FLOAT32 [batch 1 28 28]".
func (s InputSpec) String() string {
	dims := make([]string, len(s.Shape))
	for i, d := range s.Shape {
		switch {
		case i == 0:
			dims[i] = "batch"
		case d < 0:
			dims[i] = "any"
		default:
			dims[i] = strconv.FormatInt(d, 10)
		}
	}
	return fmt.Sprintf("%v [%s]", s.DType, strings.Join(dims, " "))
}

// Check reports whether the wire tensor w fits the spec, naming what was
// expected when it does not.
func (s InputSpec) Check(w *bittensorpb.Tensor) error {
	shape := w.GetShape()
	fits := w.GetDtype() == s.DType && len(shape) == len(s.Shape)
	for i := 1; fits && i < len(shape); i++ {
		fits = s.Shape[i] < 0 || s.Shape[i] == shape[i]
	}
	if !fits {
		return fmt.Errorf("inputs are %v %v, want %v", w.GetDtype(), shape, s)
	}
	return nil
}

// InputDeclarer is a Synapse that declares the inputs it accepts. The Axon
// answers a request whose inputs do not fit with INVALID_ARGUMENT, before the
// synapse sees them.
type InputDeclarer interface {
	Synapse
	// Inputs returns the spec of the inputs accepted for modality, and
	// false when the synapse declares none for it.
	Inputs(modality bittensorpb.Modality) (InputSpec, bool)
}

// Stepper is the part of an optimizer that StepWith uses; a
// torch/optim.Optimizer is one.
type Stepper interface {
	ZeroGrad() error
	Step() error
}

// StepWith is a complete Trainable.TrainStep for a synapse trained by opt:
// holding lock (the lock the synapse's own training loop holds around its
// steps), it clears the gradients, runs pass, applies the gradients with opt
// and clears them again. A model implements Trainable with
//
//	func (m *Model) TrainStep(pass func() error) error { return neuron.StepWith(&m.mu, m.opt, pass) }
func StepWith(lock sync.Locker, opt Stepper, pass func() error) error {
	lock.Lock()
	defer lock.Unlock()
	if err := opt.ZeroGrad(); err != nil {
		return fmt.Errorf("synapse: train step: %w", err)
	}
	if err := pass(); err != nil {
		if zerr := opt.ZeroGrad(); zerr != nil {
			return errors.Join(err, fmt.Errorf("synapse: train step: %w", zerr))
		}
		return err
	}
	if err := opt.Step(); err != nil {
		return fmt.Errorf("synapse: train step: %w", err)
	}
	if err := opt.ZeroGrad(); err != nil {
		return fmt.Errorf("synapse: train step: %w", err)
	}
	return nil
}

// Base is embedded by models to supply Key and to answer every modality
// the model does not implement with ErrModalityNotSupported.
type Base struct {
	key string
}

// NewBase returns a base for a synapse identified by key.
func NewBase(key *keys.Key) Base { return Base{key: key.PublicHex()} }

// Key returns the synapse's hex public key.
func (b Base) Key() string { return b.key }

// ForwardText reports that the model does not take text.
func (Base) ForwardText([]string) (*torch.Tensor, error) {
	return nil, fmt.Errorf("synapse: %v: %w", bittensorpb.Modality_TEXT, ErrModalityNotSupported)
}

// ForwardImage reports that the model does not take images.
func (Base) ForwardImage(*torch.Tensor) (*torch.Tensor, error) {
	return nil, fmt.Errorf("synapse: %v: %w", bittensorpb.Modality_IMAGE, ErrModalityNotSupported)
}

// ForwardTensor reports that the model does not take feature tensors.
func (Base) ForwardTensor(*torch.Tensor) (*torch.Tensor, error) {
	return nil, fmt.Errorf("synapse: %v: %w", bittensorpb.Modality_TENSOR, ErrModalityNotSupported)
}

// CallForward dispatches inputs to s's forward for modality (the seed's
// call_forward): inputs is a []string for TEXT and a *torch.Tensor for IMAGE
// and TENSOR. A forward that returns neither an output nor an error, or an
// output carrying an error, yields an error.
func CallForward(s Synapse, inputs any, modality bittensorpb.Modality) (*torch.Tensor, error) {
	var out *torch.Tensor
	var err error
	switch modality {
	case bittensorpb.Modality_TEXT:
		batch, ok := inputs.([]string)
		if !ok {
			return nil, fmt.Errorf("synapse: TEXT inputs are %T, want []string", inputs)
		}
		out, err = s.ForwardText(batch)
	case bittensorpb.Modality_IMAGE, bittensorpb.Modality_TENSOR:
		x, ok := inputs.(*torch.Tensor)
		if !ok || x == nil {
			return nil, fmt.Errorf("synapse: %v inputs are %T, want a *torch.Tensor", modality, inputs)
		}
		if modality == bittensorpb.Modality_IMAGE {
			out, err = s.ForwardImage(x)
		} else {
			out, err = s.ForwardTensor(x)
		}
	default:
		return nil, fmt.Errorf("synapse: modality %d: %w", int32(modality), ErrModalityNotSupported)
	}
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("synapse: %v forward returned no output", modality)
	}
	if err := out.Err(); err != nil {
		return nil, fmt.Errorf("synapse: %v forward: %w", modality, err)
	}
	return out, nil
}
