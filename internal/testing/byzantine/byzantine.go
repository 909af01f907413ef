// Package byzantine is a synapse that misbehaves on purpose, for tests and
// chaos runs of honest neurons. It has the method set of synapse.Synapse and
// synapse.Trainable without importing package neuron, so that neuron's own
// tests can serve it on a real Axon:
//
//	bad, err := byzantine.New(key.PublicHex(), byzantine.NaN, 1024)
//	…
//	n, err := neuron.StartNeuron(ctx, cfg, 1024, torch.CPU, bad)
//	defer bad.Close() // first: ends the slow answers the Axon waits for
//
// What it answers depends on its Mode; see the Mode constants. It answers
// IMAGE and TENSOR requests with outputs of [batch, outputDim] (or another
// shape in Shape mode) that depend on the inputs, so that the Axon's Backward,
// which recomputes the forward with autograd, returns input gradients as bad
// as the outputs. It refuses TEXT. Its definition announces the modality of
// WithModality (IMAGE by default) and outputDim: it claims to fit the honest
// neurons it attacks.
package byzantine

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// Mode is a way of misbehaving.
type Mode int

// The modes. A Forward request runs under no-grad; a Backward request, which
// the Axon sends through the same forward with autograd on, yields the
// gradient of that forward with respect to the inputs.
const (
	// NaN answers NaN everywhere; its input gradients are NaN.
	NaN Mode = iota
	// Inf answers ±Inf (alternating by column); its input gradients are ±Inf or NaN.
	Inf
	// Huge answers finite values of magnitude 1e30 and more, whose squares
	// overflow float32; its input gradients are about 1e30 too.
	Huge
	// Shape answers [batch, outputDim+1]: one column too many.
	Shape
	// Slow answers plausible outputs, but only after the delay (or Close).
	Slow
	// Drop answers every request with an error.
	Drop
	// GradNaN answers plausible, finite outputs to Forward and NaN input
	// gradients to Backward: the poison is only in the backward pass.
	GradNaN
	// Mixed cycles through the modes above, one request after another, and
	// answers every Backward with NaN input gradients.
	Mixed
)

var modeNames = [...]string{NaN: "nan", Inf: "inf", Huge: "huge", Shape: "shape", Slow: "slow",
	Drop: "drop", GradNaN: "gradnan", Mixed: "mixed"}

// String returns the mode's name, as ParseMode reads it.
func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// Modes returns every mode, Mixed last.
func Modes() []Mode {
	ms := make([]Mode, len(modeNames))
	for i := range ms {
		ms[i] = Mode(i)
	}
	return ms
}

// ParseMode returns the mode named s (nan, inf, huge, shape, slow, drop,
// gradnan, mixed).
func ParseMode(s string) (Mode, error) {
	for i, name := range modeNames {
		if s == name {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("byzantine: unknown mode %q, want one of %s", s, strings.Join(modeNames[:], ", "))
}

// DefaultDelay is how long Slow waits before answering: longer than the
// Dendrite's default Forward deadline of 5 s.
const DefaultDelay = 8 * time.Second

// ErrDropped is the error of a request a Drop synapse refuses.
var ErrDropped = errors.New("byzantine: request dropped")

// Synapse is a misbehaving synapse. It is safe for concurrent use.
type Synapse struct {
	key       string
	mode      Mode
	outputDim int64
	delay     time.Duration
	modality  bittensorpb.Modality

	calls     atomic.Uint64 // requests seen, for Mixed's rotation
	done      chan struct{} // closed by Close: slow answers end
	closeOnce sync.Once
}

// Option changes a Synapse.
type Option func(*Synapse)

// WithDelay sets how long Slow answers wait (DefaultDelay otherwise).
func WithDelay(d time.Duration) Option { return func(s *Synapse) { s.delay = d } }

// WithModality sets the modality the synapse announces (IMAGE by default); it
// answers IMAGE and TENSOR requests alike.
func WithModality(m bittensorpb.Modality) Option { return func(s *Synapse) { s.modality = m } }

// New returns a synapse with the hex public key key that misbehaves by mode
// and otherwise answers outputDim features per example.
func New(key string, mode Mode, outputDim int64, opts ...Option) (*Synapse, error) {
	if mode < 0 || mode > Mixed {
		return nil, fmt.Errorf("byzantine: mode %d out of range", int(mode))
	}
	if outputDim < 1 {
		return nil, fmt.Errorf("byzantine: output dim %d, want at least 1", outputDim)
	}
	s := &Synapse{key: key, mode: mode, outputDim: outputDim, delay: DefaultDelay, done: make(chan struct{}),
		modality: bittensorpb.Modality_IMAGE}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Key returns the synapse's hex public key.
func (s *Synapse) Key() string { return s.key }

// Modality returns the modality the synapse announces.
func (s *Synapse) Modality() bittensorpb.Modality { return s.modality }

// Mode returns the synapse's mode.
func (s *Synapse) Mode() Mode { return s.mode }

// Calls returns how many IMAGE and TENSOR requests the synapse has seen.
func (s *Synapse) Calls() uint64 { return s.calls.Load() }

// Close ends the waits of slow answers (they then answer at once); call it
// before stopping the Axon that serves s, which waits for its forwards.
func (s *Synapse) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}

// ForwardText refuses text.
func (s *Synapse) ForwardText([]string) (*torch.Tensor, error) {
	return nil, errors.New("byzantine: TEXT is not served")
}

// ForwardImage misbehaves on a batch of images.
func (s *Synapse) ForwardImage(x *torch.Tensor) (*torch.Tensor, error) { return s.forward(x) }

// ForwardTensor misbehaves on a batch of feature tensors.
func (s *Synapse) ForwardTensor(x *torch.Tensor) (*torch.Tensor, error) { return s.forward(x) }

// TrainStep runs pass, so that every Backward request reaches the synapse
// (and misbehaves) even when the caller asks for no input gradient; the
// synapse has no parameters to learn.
func (s *Synapse) TrainStep(pass func() error) error { return pass() }

// modeFor returns the mode of the next request: a backward recomputation
// when grad is on.
func (s *Synapse) modeFor(backward bool) Mode {
	n := s.calls.Add(1) - 1
	if s.mode != Mixed {
		return s.mode
	}
	if backward {
		return GradNaN
	}
	return Mode(n % uint64(Mixed))
}

func (s *Synapse) forward(x *torch.Tensor) (*torch.Tensor, error) {
	backward := torch.GradEnabled()
	mode := s.modeFor(backward)
	batch := x.Size(0)
	// p is one number per example that depends on every input, so that the
	// output's gradient reaches the inputs; ones(p) is never 0.
	p := x.ToDType(torch.Float32).Flatten(1, -1).MeanKeepDim(1) // [batch, 1]
	wide := p.Expand(batch, s.outputDim)
	ones := p.Abs().AddScalar(1).Expand(batch, s.outputDim)
	sign := torch.Arange(0, float64(s.outputDim), 1, torch.WithDevice(x.Device())).
		Remainder(torch.Scalar(2)).MulScalar(2).SubScalar(1) // -1, 1, -1 …
	var out *torch.Tensor
	switch mode {
	case NaN:
		out = wide.MulScalar(math.NaN())
	case Inf:
		out = ones.MulScalar(math.Inf(1)).Mul(sign)
	case Huge:
		out = ones.MulScalar(1e30).Mul(sign)
	case Shape:
		out = p.Expand(batch, s.outputDim+1).Tanh()
	case Slow:
		select {
		case <-time.After(s.delay):
		case <-s.done:
		}
		out = wide.Tanh()
	case Drop:
		return nil, ErrDropped
	case GradNaN:
		if backward {
			out = wide.MulScalar(math.NaN())
		} else {
			out = wide.Tanh()
		}
	}
	if err := out.Err(); err != nil {
		return nil, fmt.Errorf("byzantine: %v: %w", mode, err)
	}
	return out, nil
}
