package synapse

import (
	"fmt"
	"sync"

	"github.com/opentensor/bittensor-go/neuron/keys"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Local serves a Model on the Axon while a Trainer trains the very
// same Model, so peers always get the current parameters. It is Guarded: the
// Axon runs each request (the model's Encode, and for a Backward the gradient
// computed from it) inside Guard, under a read lock, so requests run
// concurrently; the Trainer changes the parameters (optimizer step,
// checkpoint load) only through Update, which waits for the requests in
// progress.
//
// The network trains the model: a Local is a NetworkLearner. The
// Axon's Backward computes the parameter gradients of each caller's loss
// with torch.Grad, which leaves the parameters' own Grad alone, and the
// synapse collects them (clipped per caller, see RemoteGradConfig) in its
// RemoteGrads; the Trainer applies them at its next step, inside Update. So a
// Backward never waits for the Trainer's step, and can run while the Trainer
// back-propagates, as it must: a neuron calls its own synapse from inside its
// own training step.
//
// A model that implements InputModel declares the inputs it accepts, and the
// synapse passes the declaration on to the Axon (InputDeclarer).
type Local struct {
	Base
	model    Model
	modality bittensorpb.Modality
	remote   *RemoteGrads
	mu       sync.RWMutex
}

// NewLocal serves model under key for modality (IMAGE, TENSOR, or
// TEXT for a TextModel), learning from its callers with
// DefaultRemoteGradConfig.
func NewLocal(key *keys.Key, model Model, modality bittensorpb.Modality) (*Local, error) {
	switch modality {
	case bittensorpb.Modality_IMAGE, bittensorpb.Modality_TENSOR:
	case bittensorpb.Modality_TEXT:
		if _, ok := model.(TextModel); !ok {
			return nil, fmt.Errorf("local synapse: a %T cannot tokenize text (want a neuron.TextModel): %w", model, ErrModalityNotSupported)
		}
	default:
		return nil, fmt.Errorf("local synapse: modality %v: %w", modality, ErrModalityNotSupported)
	}
	remote, err := NewRemoteGrads(nn.Parameters(model), DefaultRemoteGradConfig())
	if err != nil {
		return nil, fmt.Errorf("local synapse: %w", err)
	}
	return &Local{Base: NewBase(key), model: model, modality: modality, remote: remote}, nil
}

// RemoteGrads returns the collector of the gradients callers send: its
// owner configures it, and applies it at each optimizer step.
func (s *Local) RemoteGrads() *RemoteGrads { return s.remote }

// LearnParameters returns the model's parameters while the synapse learns
// from its callers, and nil otherwise.
func (s *Local) LearnParameters() []*torch.Tensor { return s.remote.Parameters() }

// Learn adds a caller's parameter gradients to those the owner applies at
// its next step.
func (s *Local) Learn(caller string, grads []*torch.Tensor) error {
	if err := s.remote.Add(caller, grads); err != nil {
		return fmt.Errorf("local synapse: %w", err)
	}
	return nil
}

// InputModel is a Model that declares the inputs its Encode accepts.
type InputModel interface {
	Model
	// Inputs returns the spec of the inputs Encode accepts.
	Inputs() InputSpec
}

// Model returns the served model.
func (s *Local) Model() Model { return s.model }

// Modality returns the modality the synapse serves.
func (s *Local) Modality() bittensorpb.Modality { return s.modality }

// ForwardText tokenizes and encodes a batch of strings, when the synapse
// serves text.
func (s *Local) ForwardText(batch []string) (*torch.Tensor, error) {
	m, ok := s.model.(TextModel)
	if s.modality != bittensorpb.Modality_TEXT || !ok {
		return s.Base.ForwardText(batch)
	}
	if len(batch) == 0 {
		return nil, fmt.Errorf("local synapse: an empty batch of text")
	}
	// The tokens and the activations computed from them are freed on
	// return (the answer's graph keeps what a backward needs); only the
	// answer outlives the call.
	scope := torch.NewScope()
	defer scope.Close()
	x, err := m.Tokenize(batch)
	if err != nil {
		return nil, fmt.Errorf("local synapse: tokenize: %w", err)
	}
	out, err := s.encode(scope.Track(x))
	return scope.Keep(out), err
}

// ForwardImage encodes a batch of images, when the synapse serves images.
func (s *Local) ForwardImage(images *torch.Tensor) (*torch.Tensor, error) {
	if s.modality != bittensorpb.Modality_IMAGE {
		return s.Base.ForwardImage(images)
	}
	return s.encode(images)
}

// ForwardTensor encodes a batch of feature tensors, when the synapse serves them.
func (s *Local) ForwardTensor(x *torch.Tensor) (*torch.Tensor, error) {
	if s.modality != bittensorpb.Modality_TENSOR {
		return s.Base.ForwardTensor(x)
	}
	return s.encode(x)
}

// Inputs returns the model's declared inputs for the modality the synapse
// serves, when the model is an InputModel.
func (s *Local) Inputs(modality bittensorpb.Modality) (InputSpec, bool) {
	m, ok := s.model.(InputModel)
	if !ok || modality != s.modality {
		return InputSpec{}, false
	}
	return m.Inputs(), true
}

// Guard runs fn, a request that reads the model's parameters, while Update
// cannot change them. The forwards must run inside it.
func (s *Local) Guard(fn func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn()
}

func (s *Local) encode(x *torch.Tensor) (*torch.Tensor, error) {
	out := s.model.Encode(x)
	if err := out.Err(); err != nil {
		return nil, fmt.Errorf("local synapse: %w", err)
	}
	return out, nil
}

// Update runs fn, which may change the model's parameters, while no request
// (see Guard) reads them.
func (s *Local) Update(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn()
}
