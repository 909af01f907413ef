package neuron

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/opentensor/bittensor-go/proto"
)

// nonceBook keeps the Dendrite's nonce source per endpoint, so that the
// requests in flight to one Axon are numbered closely together, well within
// the reordering its ReplayGuard tolerates. It is independent of the
// connection pool: evicting or discarding a connection never resets a source.
//
// It holds at most max sources. Making room forgets the source whose last
// nonce is the smallest (nonces follow the clock, so that is the endpoint
// called longest ago) and raises a floor to that nonce; every new source
// starts above the floor. So the nonces toward one endpoint increase for the
// Dendrite's whole life, even when the clock stands still (an injected one)
// and an endpoint is forgotten and met again.
type nonceBook struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	sources map[string]*Nonces
	floor   int64
}

func newNonceBook(max int, now func() time.Time) *nonceBook {
	return &nonceBook{now: now, max: max, sources: make(map[string]*Nonces), floor: minNonce}
}

// next returns the next nonce toward endpoint.
func (b *nonceBook) next(endpoint string) int64 {
	b.mu.Lock()
	n, ok := b.sources[endpoint]
	if !ok {
		if len(b.sources) >= b.max {
			b.forgetOldestLocked()
		}
		n = NewNonces(b.now)
		n.last.Store(b.floor)
		b.sources[endpoint] = n
	}
	b.mu.Unlock()
	return n.Next()
}

// forgetOldestLocked drops the source with the smallest last nonce, raising
// the floor to it.
func (b *nonceBook) forgetOldestLocked() {
	var oldest string
	var last int64
	for e, n := range b.sources {
		if l := n.last.Load(); oldest == "" || l < last {
			oldest, last = e, l
		}
	}
	delete(b.sources, oldest)
	b.floor = max(b.floor, last)
}

// endpointOf returns the host:port of a synapse definition after checking that
// it names a host and a port number.
func endpointOf(s *bittensorpb.Synapse) (string, error) {
	if s == nil {
		return "", errors.New("dendrite: nil synapse")
	}
	if s.GetAddress() == "" {
		return "", fmt.Errorf("dendrite: synapse %s has no address", shortKey(s.GetSynapseKey()))
	}
	port, err := strconv.ParseUint(s.GetPort(), 10, 16)
	if err != nil || port == 0 {
		return "", fmt.Errorf("dendrite: synapse %s has port %q, want 1-65535", shortKey(s.GetSynapseKey()), s.GetPort())
	}
	return net.JoinHostPort(s.GetAddress(), s.GetPort()), nil
}
