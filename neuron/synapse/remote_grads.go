package synapse

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/torch"
)

// ErrGradientNotFinite is wrapped by the error of a caller's gradient that
// holds a NaN or an infinity. The Axon answers it with INVALID_ARGUMENT and
// the gradient trains nothing.
var ErrGradientNotFinite = errors.New("gradient is not finite")

// RemoteGradConfig sets how a served model learns from the gradients its
// callers send with Backward. DefaultRemoteGradConfig documents the defaults.
//
// Each caller's gradients between two of the owner's steps are clipped
// together to a norm of MaxNorm: a caller whose budget is spent adds nothing
// more until the next step. At its step the owner adds Weight times the mean
// over callers of their clipped gradients to its own parameter gradients, so
// the network moves the parameters at most as far as one gradient of norm
// Weight·MaxNorm would, however many callers there are.
type RemoteGradConfig struct {
	// Enabled turns learning from callers on.
	Enabled bool
	// Weight scales the callers' mean gradient against the owner's own.
	Weight float64
	// MaxNorm bounds the 2-norm of each caller's gradients between two steps.
	MaxNorm float64
	// MaxAge is the staleness bound: gradients that waited longer than this
	// for the owner's next step are dropped instead of applied.
	MaxAge time.Duration
	// MaxCallers bounds how many callers' gradients are kept between two
	// steps; the gradients of callers past it are dropped.
	MaxCallers int
	// Now is the clock ages are measured with; nil means time.Now.
	Now func() time.Time
}

// DefaultRemoteGradConfig returns learning from callers switched on, with a
// weight of 1, each caller clipped to a norm of 1 per step, gradients older
// than 30 s dropped, and up to 1024 callers per step.
func DefaultRemoteGradConfig() RemoteGradConfig {
	return RemoteGradConfig{Enabled: true, Weight: 1, MaxNorm: 1, MaxAge: 30 * time.Second, MaxCallers: 1024}
}

func (c RemoteGradConfig) validate() error {
	switch {
	case !(c.Weight >= 0) || math.IsInf(c.Weight, 0):
		return fmt.Errorf("remote gradients: weight %v, want a finite value >= 0", c.Weight)
	case !(c.MaxNorm > 0) || math.IsInf(c.MaxNorm, 0):
		return fmt.Errorf("remote gradients: max norm %v, want a finite value > 0", c.MaxNorm)
	case c.MaxAge <= 0:
		return fmt.Errorf("remote gradients: max age %v, want > 0", c.MaxAge)
	case c.MaxCallers <= 0:
		return fmt.Errorf("remote gradients: max callers %d, want > 0", c.MaxCallers)
	}
	return nil
}

// RemoteGradStats counts what a RemoteGrads did with its callers' gradients.
type RemoteGradStats struct {
	// Accepted counts gradients added (Clipped of them scaled down to fit
	// their caller's budget); Refused the ones that were not finite;
	// Dropped the ones from callers out of budget or past MaxCallers, and
	// those that went stale.
	Accepted, Clipped, Refused, Dropped uint64
	// Steps counts the owner's steps that applied callers' gradients, and
	// Callers the callers whose gradients those steps applied.
	Steps, Callers uint64
}

// RemoteGrads collects the gradients callers' Backward requests compute for
// a model's parameters until the model's owner applies them at its next
// optimizer step (Apply). Adding never touches the parameters or their
// gradients, so it runs while the owner trains; Add and Apply may be called
// concurrently.
type RemoteGrads struct {
	params []*torch.Tensor
	now    func() time.Time

	mu      sync.Mutex
	cfg     RemoteGradConfig
	sum     []*torch.Tensor    // per parameter, with scale: scale[i]·sum[i] is the clipped gradients since the last step; nil until one arrives
	scale   []float64          // per parameter, the factor sum[i] is applied with (a clipped first gradient is kept unscaled)
	held    *torch.Scope       // owns the sums (out of the scopes of the requests they came from)
	used    map[string]float64 // per caller, the norm it added since the last step
	since   time.Time          // when the oldest gradient in sum arrived
	stats   RemoteGradStats
	pending chan struct{} // holds a token while gradients wait for a step
}

// NewRemoteGrads returns a collector of callers' gradients for params.
func NewRemoteGrads(params []*torch.Tensor, cfg RemoteGradConfig) (*RemoteGrads, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &RemoteGrads{
		params: params, now: now, cfg: cfg,
		sum: make([]*torch.Tensor, len(params)), scale: make([]float64, len(params)), used: make(map[string]float64), held: torch.NewScope(),
		pending: make(chan struct{}, 1),
	}, nil
}

// Parameters returns the tensors the callers' gradients are for, or nil
// while learning from callers is switched off.
func (r *RemoteGrads) Parameters() []*torch.Tensor {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.cfg.Enabled {
		return nil
	}
	return r.params
}

// Configure replaces the settings; gradients already collected stay.
func (r *RemoteGrads) Configure(cfg RemoteGradConfig) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg = cfg
	if cfg.Now != nil {
		r.now = cfg.Now
	}
	return nil
}

// Pending receives a value when gradients are waiting for the owner's step.
func (r *RemoteGrads) Pending() <-chan struct{} { return r.pending }

// Stats returns a snapshot of the counters.
func (r *RemoteGrads) Stats() RemoteGradStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Add takes caller's gradients, grads[i] for Parameters()[i] (nil where a
// parameter got none). It clips them to what is left of the caller's budget
// and adds them to the sum the next Apply applies. A gradient that is not
// finite is refused with ErrGradientNotFinite; one from a caller out of
// budget, or from a caller past MaxCallers, is dropped without an error. Add
// may keep a gradient's storage (the first since a step), so the caller must
// not change grads afterwards.
func (r *RemoteGrads) Add(caller string, grads []*torch.Tensor) error {
	if len(grads) != len(r.params) {
		return fmt.Errorf("remote gradients: %d gradients for %d parameters", len(grads), len(r.params))
	}
	norm, err := jointNorm(grads)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		r.stats.Refused++
		return fmt.Errorf("remote gradients: from %s: %w", keys.Label(caller), ErrGradientNotFinite)
	}
	if norm == 0 {
		return nil // nothing to learn
	}
	used, known := r.used[caller]
	left := r.cfg.MaxNorm - used
	if !r.cfg.Enabled || left <= 0 || (!known && len(r.used) >= r.cfg.MaxCallers) {
		r.stats.Dropped++
		return nil
	}
	scale := 1.0
	if norm > left {
		scale = left / norm
		r.stats.Clipped++
	}
	for i, g := range grads {
		if g == nil {
			continue
		}
		if r.sum[i] == nil { // the first gradient since the step: keep it, no copy, scaled at Apply
			r.sum[i], r.scale[i] = r.held.Track(g.Detach()), scale
			if err := r.sum[i].Err(); err != nil {
				return fmt.Errorf("remote gradients: parameter %d: %w", i, err)
			}
			continue
		}
		if r.scale[i] != 1 { // a second caller's gradient: the sum becomes a tensor of its own
			kept := r.sum[i]
			r.sum[i], r.scale[i] = r.held.Track(kept.MulScalar(r.scale[i])), 1
			kept.Free()
		}
		if err := r.sum[i].AddInPlace(g, scale); err != nil {
			return fmt.Errorf("remote gradients: parameter %d: %w", i, err)
		}
	}
	if len(r.used) == 0 {
		r.since = r.now()
	}
	r.used[caller] = used + scale*norm
	r.stats.Accepted++
	select {
	case r.pending <- struct{}{}:
	default:
	}
	return nil
}

// Apply adds Weight times the callers' mean gradient to the parameters'
// gradients (creating those that are missing) and starts collecting afresh.
// The owner calls it at its optimizer step, before stepping, while nothing
// computes with the parameters. Gradients older than MaxAge are dropped
// instead. It returns how many callers' gradients it applied.
func (r *RemoteGrads) Apply() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.pending:
	default:
	}
	callers := len(r.used)
	if callers == 0 {
		return 0, nil
	}
	defer r.reset()
	if r.now().Sub(r.since) > r.cfg.MaxAge {
		r.stats.Dropped += uint64(callers)
		return 0, nil
	}
	alpha := r.cfg.Weight / float64(callers)
	for i, s := range r.sum {
		if s == nil {
			continue
		}
		if err := r.params[i].AccumulateGrad(s, alpha*r.scale[i]); err != nil {
			return 0, fmt.Errorf("remote gradients: apply to parameter %d: %w", i, err)
		}
	}
	r.stats.Steps++
	r.stats.Callers += uint64(callers)
	return callers, nil
}

// reset empties the sums and the callers' budgets.
func (r *RemoteGrads) reset() {
	r.held.Close()
	r.held = torch.NewScope()
	clear(r.sum)
	clear(r.used)
}

// jointNorm returns the 2-norm of all of grads together.
func jointNorm(grads []*torch.Tensor) (float64, error) {
	var sq float64
	for i, g := range grads {
		if g == nil {
			continue
		}
		t := g.Norm()
		n, err := t.Item()
		t.Free()
		if err != nil {
			return 0, fmt.Errorf("remote gradients: gradient %d: %w", i, err)
		}
		sq += n * n
	}
	return math.Sqrt(sq), nil
}
