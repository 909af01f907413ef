package metagraph

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/opentensor/bittensor-go/neuron/internal/connpool"
	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// Gossip is the Metagraph backend with no chain (the default): a neuron's
// cache of the synapse definitions it knows (its own and its peers'), the
// metagraph peers it gossips with, and a weight per synapse that the training
// loop learns.
//
// Every Refresh it signs its local definitions again (new nonce, proof of
// work, signature); every Period it picks a random peer (or, to try an
// address it was told of, a candidate), sends it a GossipBatch of its live
// peers and synapses and sinks the answer; it answers peers' batches the same
// way. The rules for what is accepted, kept and forgotten are in state.go
// and peers.go.
//
//	mg, err := metagraph.NewGossip(cfg, key)
//	err = mg.Subscribe(metagraph.NewSynapseDefinition(synapseKey.PublicHex(), "10.0.0.5", 8091))
//	err = mg.Start(ctx)          // serves Metagraph.Gossip on cfg.Port and gossips
//	defer mg.Stop()
//	synapses := mg.GetSynapses(1000) // local first, then by weight
//
// All methods are safe for concurrent use.
type Gossip struct {
	cfg       Config
	key       *keys.Key
	transport Transport
	pool      *connpool.Pool // for the gRPC transport; nil makes its own
	onError   func(error)

	// round serializes gossip rounds and subscriptions, so that the proof of
	// work of a refresh runs without holding mu.
	round sync.Mutex

	// lockedState's mu also guards rng and addr.
	lockedState
	rng  *rand.Rand
	addr string

	life      sync.Mutex // guards the fields below
	listening bool
	cancel    context.CancelFunc
	loopDone  chan struct{}
	stopped   bool
}

// Option changes how NewGossip builds a Metagraph.
type Option func(*Gossip)

// WithTransport replaces the gRPC transport (e.g. with a MemoryNetwork's).
func WithTransport(t Transport) Option {
	return func(m *Gossip) { m.transport = t }
}

// WithConnPool makes the gRPC transport dial through pool, shared with
// others (a neuron's Dendrite); its owner closes it after the Metagraph stops.
func WithConnPool(pool *connpool.Pool) Option {
	return func(m *Gossip) { m.pool = pool }
}

// WithClock replaces time.Now for every rule that reads the time (tests pass a
// fake clock and drive rounds with GossipOnce).
func WithClock(now func() time.Time) Option {
	return func(m *Gossip) { m.now = now }
}

// WithRandSeed makes the choice of gossip partners reproducible.
func WithRandSeed(seed uint64) Option {
	return func(m *Gossip) { m.rng = rand.New(rand.NewPCG(seed, 0x6d657461677261)) }
}

// WithGossipErrors receives the error of every failed background gossip round
// (e.g. to log it). Without it such errors only show in peer backoff and Stats.
func WithGossipErrors(f func(error)) Option {
	return func(m *Gossip) { m.onError = f }
}

// NewGossip returns a gossip metagraph owned by the neuron key. It does not listen
// or gossip until Start (or Listen and GossipOnce).
func NewGossip(cfg Config, key *keys.Key, opts ...Option) (*Gossip, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, errors.New("metagraph: nil neuron key")
	}
	cfg.Bootstrap = append([]string(nil), cfg.Bootstrap...)
	m := &Gossip{cfg: cfg, key: key, lockedState: lockedState{now: time.Now}}
	for _, o := range opts {
		o(m)
	}
	if m.transport == nil {
		m.transport = newGRPCTransport(cfg, m.pool)
	}
	if m.rng == nil {
		m.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	m.state = newMetagraphState(cfg, m.now())
	return m, nil
}

// Subscribe publishes a local synapse (see NewSynapseDefinition). The
// metagraph becomes its owner: it sets the neuron key, signs it with a fresh
// nonce and proof of work now, and refreshes it every period. Subscribing the
// same synapse key again replaces its address and port.
func (m *Gossip) Subscribe(def *bittensorpb.Synapse) error {
	m.round.Lock()
	defer m.round.Unlock()
	_, err := m.subscribeLocal(def, m.key, m.cfg.PoWBits)
	return err
}

// Listen starts serving Metagraph.Gossip on the transport (for gRPC: cfg's
// host and port). Start calls it; tests that drive rounds by hand call it
// alone. Calling it again does nothing.
func (m *Gossip) Listen() error {
	m.life.Lock()
	defer m.life.Unlock()
	return m.listenLocked()
}

func (m *Gossip) listenLocked() error {
	if m.stopped {
		return errors.New("metagraph: listen: stopped")
	}
	if m.listening {
		return nil
	}
	addr, err := m.transport.Listen(m)
	if err != nil {
		return err
	}
	m.listening = true
	m.mu.Lock()
	m.addr = addr
	m.state.setSelf(addr)
	m.mu.Unlock()
	return nil
}

// Addr returns the address peers reach this metagraph at ("" before Listen).
// With Port 0 it tells which port was picked.
func (m *Gossip) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// Start listens (if not yet) and runs the gossip loop until ctx ends or Stop:
// one round at once, then one every Period.
func (m *Gossip) Start(ctx context.Context) error {
	m.life.Lock()
	defer m.life.Unlock()
	if m.loopDone != nil {
		return errors.New("metagraph: start: already started")
	}
	if err := m.listenLocked(); err != nil {
		return err
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.loopDone = make(chan struct{})
	go m.loop(ctx, m.loopDone)
	return nil
}

func (m *Gossip) loop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(m.cfg.Period)
	defer ticker.Stop()
	for {
		if err := m.GossipOnce(ctx); err != nil && ctx.Err() == nil && m.onError != nil {
			m.onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Stop ends the gossip loop (waiting for it), stops serving and closes every
// connection. The metagraph cannot be started again.
func (m *Gossip) Stop() error {
	m.life.Lock()
	if m.stopped {
		m.life.Unlock()
		return nil
	}
	m.stopped = true
	cancel, done := m.cancel, m.loopDone
	m.life.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return m.transport.Close()
}

// GossipOnce runs one round: drop what expired, refresh local definitions
// that are due, exchange a batch with one random peer or candidate (within
// GossipTimeout) and sink its answer. An exchange that succeeds makes a
// candidate a live peer. With nobody to ask it does only the first two. The
// error tells why the exchange failed; the peer is then backed off (a
// candidate is dropped).
func (m *Gossip) GossipOnce(ctx context.Context) error {
	m.round.Lock()
	defer m.round.Unlock()

	now := m.now()
	m.mu.Lock()
	m.state.stats.Rounds++
	m.state.expire(now)
	due := m.state.dueLocal(now)
	m.mu.Unlock()
	if err := m.refreshLocal(due, m.key, m.cfg.PoWBits); err != nil {
		return err
	}

	m.mu.Lock()
	peer, ok := m.state.pickPeer(now, m.rng)
	out := m.state.batch(now)
	m.mu.Unlock()
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.GossipTimeout)
	defer cancel()
	in, err := m.transport.Exchange(ctx, peer, out) // the transport's errors name the peer
	if err == nil {
		if bad := m.cfg.checkBatch(in); bad != nil {
			err = fmt.Errorf("metagraph: gossip %s: answer refused: %w", peer, bad)
		}
	}
	now = m.now()
	m.mu.Lock()
	if err == nil && m.state.answeredBySelf(in) {
		err = fmt.Errorf("metagraph: gossip %s: the answer is our own: the address is another name of ours", peer)
	}
	if err != nil {
		m.state.stats.FailedRounds++
		m.state.peerFailed(peer, now)
		m.mu.Unlock()
		return err
	}
	m.state.peerReached(peer, now)
	m.mu.Unlock()
	m.sink(in, now)
	return nil
}

// Gossip answers a peer's exchange (the Metagraph.Gossip RPC): it sinks the
// peer's batch and returns our own. A batch of an unknown version or over the
// limits is refused with INVALID_ARGUMENT or RESOURCE_EXHAUSTED; bad entries
// inside an acceptable batch are skipped one by one.
func (m *Gossip) Gossip(_ context.Context, in *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error) {
	if err := m.cfg.checkBatch(in); err != nil {
		return nil, err
	}
	// The caller's first peer is its claim about its own address: like every
	// address in the batch it is only a candidate until it answers us.
	now := m.now()
	m.sink(in, now)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.batch(now), nil
}

// sink takes a received batch: cheap rules under the lock, signature and
// proof-of-work checks outside it, then the survivors stored.
func (m *Gossip) sink(in *bittensorpb.GossipBatch, now time.Time) {
	m.mu.Lock()
	fresh := m.state.screenBatch(in, now, m.rng)
	m.mu.Unlock()
	verified := make([]bool, len(fresh))
	for i, d := range fresh {
		verified[i] = verifyWorkAndSignature(d, m.cfg.PoWBits) == nil
	}
	m.mu.Lock()
	m.state.admitBatch(fresh, verified, now)
	m.mu.Unlock()
}

// GetPeers returns up to n live peers (metagraph addresses that answered an
// exchange we started within the TTL, and whose last exchange succeeded),
// most recently reached first. Addresses only announced by others, the
// callers' claims about themselves included, are candidates and not listed.
func (m *Gossip) GetPeers(n int) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.peerList(n, m.now())
}

// SetWeights sets the weight of each synapse; synapses the metagraph no
// longer holds are skipped. The lengths must match and weights be finite.
func (m *Gossip) SetWeights(synapses []*bittensorpb.Synapse, weights []float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.setWeights(synapses, weights)
}
