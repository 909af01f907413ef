package metagraph

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// lockedState is what Chain and Gossip keep of the network alike: the
// metagraph state, the lock that guards it, the clock its rules read, the
// signing of local definitions, and the Metagraph methods both backends
// answer from the state alone. Each backend embeds it; mu also guards the
// fields the embedding backend says it guards.
type lockedState struct {
	now   func() time.Time
	mu    sync.Mutex // guards state
	state *metagraphState
}

// subscribeLocal makes def a local definition owned by key: a copy of it
// with the metagraph's version and key as its neuron, signed with the next
// nonce and a proof of work of bits leading zero bits, and stored. It
// returns the stored copy. The proof of work runs without holding mu; the
// caller holds its round lock, so that no refresh signs the same definition
// meanwhile. A nil def is refused.
func (m *lockedState) subscribeLocal(def *bittensorpb.Synapse, key *keys.Key, bits int) (*bittensorpb.Synapse, error) {
	if def == nil {
		return nil, errors.New("metagraph: subscribe: nil synapse")
	}
	d := copySynapse(def)
	d.Version = MetagraphVersion
	d.NeuronKey = key.PublicHex()
	m.mu.Lock()
	nonce := m.state.nextNonce(idOf(d), m.now())
	m.mu.Unlock()
	if err := SignSynapse(d, key, nonce, bits); err != nil {
		return nil, fmt.Errorf("metagraph: subscribe: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.state.subscribe(d); err != nil {
		return nil, err
	}
	return d, nil
}

// refreshLocal signs again, with key and a proof of work of bits leading
// zero bits, the local definitions defs (from dueLocal or resignLocal, their
// new nonces set) and stores each; it stops at the first that fails. As in
// subscribeLocal, the caller holds its round lock and mu is not held while
// the work is done.
func (m *lockedState) refreshLocal(defs []*bittensorpb.Synapse, key *keys.Key, bits int) error {
	for _, d := range defs {
		if err := SignSynapse(d, key, d.GetNonce(), bits); err != nil {
			return fmt.Errorf("metagraph: refresh: %w", err)
		}
		m.mu.Lock()
		err := m.state.subscribe(d)
		m.mu.Unlock()
		if err != nil {
			return fmt.Errorf("metagraph: refresh: %w", err)
		}
	}
	return nil
}

// GetSynapses returns up to n live synapse definitions: local ones first (in
// subscription order), then remote ones by weight, highest first. The
// messages are copies the caller may keep.
func (m *lockedState) GetSynapses(n int) []*bittensorpb.Synapse {
	return m.GetSynapsesWhere(n, nil)
}

// GetSynapsesWhere is GetSynapses over the definitions keep accepts (all
// when keep is nil): up to n of them, in the same order, so that those a
// caller cannot use never crowd out those it can. keep runs under the
// metagraph's lock: it must be quick, must not call the Metagraph and must
// not keep or change the definition.
func (m *lockedState) GetSynapsesWhere(n int, keep func(*bittensorpb.Synapse) bool) []*bittensorpb.Synapse {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.synapseCopiesWhere(n, m.now(), keep)
}

// Weights returns the weight of each synapse (by neuron and synapse key), 0
// for synapses the metagraph does not hold.
func (m *lockedState) Weights(synapses []*bittensorpb.Synapse) []float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.weights(synapses)
}

// Stats returns counters of accepted and refused values and the current
// sizes of the cache and, for Gossip, of the peer table and the candidates.
func (m *lockedState) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.snapshot(m.now())
}
