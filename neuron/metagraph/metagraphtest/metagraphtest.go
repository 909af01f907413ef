// Package metagraphtest holds what the tests and benchmarks of metagraph
// networks share: a clock moved by hand, for metagraph.WithClock and
// metagraph.WithChainClock, and neuron keys drawn from labels, so that a
// network of members is the same from run to run.
package metagraphtest

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"
)

// Clock is a clock that moves only when told: Now returns the start time
// plus every Advance so far. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that reads start until advanced.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d (back, when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// LabelKey returns the key pair whose seed is label's SHA-256: the same
// label gives the same key, different labels different keys.
func LabelKey(label string) (*keys.Key, error) {
	seed := sha256.Sum256([]byte(label))
	k, err := keys.KeyFromSeed(seed[:])
	if err != nil {
		return nil, fmt.Errorf("metagraphtest: key of %q: %w", label, err)
	}
	return k, nil
}
