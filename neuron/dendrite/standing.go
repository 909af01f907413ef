package dendrite

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The rules of peer standing.
//
// Every call a Dendrite makes to a synapse ends in one Outcome: a success, a
// timeout (the deadline passed), a bad answer (an answer that is not finite,
// absurd in magnitude, or of the wrong shape or type), or another failure
// (refused, unreachable, an error status). A synapse's Standing counts them.
//
// A failure of any kind puts the synapse in backoff: it is not called until
// the backoff ends. The first failure in a row backs off for BackoffBase; each
// further one in a row doubles it, up to BackoffMax; each backoff is scaled by
// a random factor in [1-BackoffJitter, 1+BackoffJitter), so peers that failed
// together are not all probed again at once. A success ends the run of
// failures. When a backoff ends, the next call is a probe: it succeeds and the
// synapse is called as before, or fails and the next, longer backoff starts.
// A dead or stalled peer thus costs a training step its deadline once, and is
// then left alone, probed at growing intervals.
//
// A synapse the trainer does not call gets no gate, so its weight decays:
// a peer that keeps failing loses its weight.

// Outcome classifies the end of one call to a synapse.
type Outcome int

// The outcomes of a call.
const (
	// Success is an answer that passed every check.
	Success Outcome = iota
	// Failure is a refusal, an unreachable peer or any other error.
	Failure
	// Timeout is a call whose deadline passed.
	Timeout
	// BadAnswer is an answer whose numbers, shape or type are wrong.
	BadAnswer
)

// String returns the outcome's name: success, failure, timeout or bad_answer.
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Timeout:
		return "timeout"
	case BadAnswer:
		return "bad_answer"
	}
	return "failure"
}

// outcomeOf classifies err, the result of a call.
func outcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return Success
	case errors.Is(err, wire.ErrBadNumbers), errors.Is(err, errBadAnswer):
		return BadAnswer
	case errors.Is(err, context.DeadlineExceeded), status.Code(err) == codes.DeadlineExceeded:
		return Timeout
	}
	return Failure
}

// errBadAnswer is wrapped by the errors of answers of the wrong shape or type.
var errBadAnswer = errors.New("bad answer")

// BackoffConfig sets how failing synapses are backed off.
// DefaultBackoffConfig documents every default.
type BackoffConfig struct {
	// BackoffBase is the first backoff after a failure; BackoffMax bounds
	// the doubling ones after it.
	BackoffBase, BackoffMax time.Duration
	// BackoffJitter is the relative spread of each backoff, in [0, 1).
	BackoffJitter float64
}

// DefaultBackoffConfig returns a second after a first failure, doubling up
// to 30 s, with ±25 % jitter.
func DefaultBackoffConfig() BackoffConfig {
	return BackoffConfig{BackoffBase: time.Second, BackoffMax: 30 * time.Second, BackoffJitter: 0.25}
}

// Standing is what a Dendrite knows of one synapse's behaviour.
type Standing struct {
	// Successes, Failures, Timeouts and BadAnswers count calls by outcome.
	Successes, Failures, Timeouts, BadAnswers uint64
	// InARow is the number of failed calls since the last success.
	InARow int
	// BackoffUntil is when the synapse may be called again; zero if it may
	// be called now.
	BackoffUntil time.Time
}

// record returns s after a call ending in o at now; u in [0, 1) draws the jitter.
func (s Standing) record(o Outcome, now time.Time, cfg BackoffConfig, u float64) Standing {
	switch o {
	case Success:
		s.Successes++
		s.InARow = 0
		s.BackoffUntil = time.Time{}
		return s
	case Timeout:
		s.Timeouts++
	case BadAnswer:
		s.BadAnswers++
	default:
		s.Failures++
	}
	s.InARow++
	s.BackoffUntil = now.Add(backoff(s.InARow, cfg, u))
	return s
}

// backoff returns the backoff after the n-th failure in a row (n ≥ 1).
func backoff(n int, cfg BackoffConfig, u float64) time.Duration {
	d := cfg.BackoffBase
	for i := 1; i < n && d < cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, cfg.BackoffMax)
	return time.Duration(float64(d) * (1 + cfg.BackoffJitter*(2*u-1)))
}

// Callable reports whether the synapse may be called at now.
func (s Standing) Callable(now time.Time) bool { return !now.Before(s.BackoffUntil) }

// peerBook keeps the counters and the Standing of every synapse a Dendrite
// called, at most max of them: when full, a synapse that may be called now
// is forgotten (a backed-off one only when none may), so that a flood of new
// synapses cannot launder a failing one's backoff away. It is safe for
// concurrent use.
type peerBook struct {
	cfg BackoffConfig
	now func() time.Time
	max int

	mu    sync.Mutex
	rand  *rand.Rand
	peers map[string]PeerStats
}

func newPeerBook(cfg BackoffConfig, now func() time.Time, maxEntries int, seed uint64) *peerBook {
	if now == nil {
		now = time.Now
	}
	return &peerBook{
		cfg: cfg, now: now, max: max(maxEntries, 1),
		rand:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		peers: make(map[string]PeerStats),
	}
}

// record counts a call to synapse key, its latency and its outcome.
func (b *peerBook) record(key string, backward bool, latency time.Duration, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.peers[key]
	if !ok && len(b.peers) >= b.max {
		b.forgetOne()
	}
	if backward {
		s.Backwards++
	} else {
		s.Forwards++
	}
	switch {
	case err != nil && backward:
		s.BackwardFailures++
		s.LastError = err
	case err != nil:
		s.ForwardFailures++
		s.LastError = err
	case !backward:
		s.LastLatency = latency
	}
	s.Standing = s.Standing.record(outcomeOf(err), b.now(), b.cfg, b.rand.Float64())
	b.peers[key] = s
}

// forgetOne drops one entry; the caller holds b.mu.
func (b *peerBook) forgetOne() {
	now := b.now()
	victim := ""
	for k, s := range b.peers { // map order: a random victim
		victim = k
		if s.Standing.Callable(now) {
			break
		}
	}
	delete(b.peers, victim)
}

// callable reports whether synapse key may be called now.
func (b *peerBook) callable(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peers[key].Standing.Callable(b.now())
}

// snapshot returns a copy of every entry.
func (b *peerBook) snapshot() map[string]PeerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]PeerStats, len(b.peers))
	for k, s := range b.peers {
		out[k] = s
	}
	return out
}

// len returns the number of entries.
func (b *peerBook) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.peers)
}
