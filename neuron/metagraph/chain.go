package metagraph

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// ChainConfig says where the chain is and bounds what is read from it.
// Start from DefaultChainConfig.
type ChainConfig struct {
	// Endpoints are the etcd members' client addresses, host:port (see
	// ParseChainEndpoint); the client fails over between them.
	Endpoints []string
	// Prefix is the etcd key prefix of this network ("/bittensor/"): every
	// member of one network must use the same.
	Prefix string
	// DialTimeout bounds how long NewChain waits for an etcd member to answer.
	DialTimeout time.Duration
	// CallTimeout is the deadline of every other etcd call.
	CallTimeout time.Duration
	// MaxValueBytes caps a value read from etcd; longer ones are ignored.
	MaxValueBytes int
	// MaxWeights caps the entries of a weights record, published or read.
	MaxWeights int
}

// DefaultChainConfig returns the settings of a neuron on a real network,
// with no endpoint yet: 5 s to dial, 5 s per call, values up to 256 KiB,
// weights records of up to 1000 entries.
func DefaultChainConfig() ChainConfig {
	return ChainConfig{
		Prefix:        "/bittensor/",
		DialTimeout:   5 * time.Second,
		CallTimeout:   5 * time.Second,
		MaxValueBytes: 256 << 10,
		MaxWeights:    defaultMaxWeights,
	}
}

// Validate reports the first setting that cannot work.
func (c ChainConfig) Validate() error {
	switch {
	case len(c.Endpoints) == 0:
		return errors.New("metagraph: chain config: no etcd endpoint")
	case len(c.Endpoints) > maxChainEndpoints:
		return fmt.Errorf("metagraph: chain config: %d endpoints, limit %d", len(c.Endpoints), maxChainEndpoints)
	case !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") || len(c.Prefix) > 256:
		return fmt.Errorf("metagraph: chain config: prefix %.64q, want /…/ of at most 256 bytes", c.Prefix)
	case c.DialTimeout <= 0 || c.CallTimeout <= 0:
		return fmt.Errorf("metagraph: chain config: dial timeout %v and call timeout %v must be positive", c.DialTimeout, c.CallTimeout)
	case c.MaxValueBytes < 1024 || c.MaxValueBytes > maxChainValueBytes:
		return fmt.Errorf("metagraph: chain config: max value bytes %d, want 1024..%d", c.MaxValueBytes, maxChainValueBytes)
	case c.MaxWeights < 1 || weightsHeaderLen+c.MaxWeights*weightsEntryLen+64 > c.MaxValueBytes:
		return fmt.Errorf("metagraph: chain config: max weights %d, want at least 1 and a record within %d bytes", c.MaxWeights, c.MaxValueBytes)
	}
	for _, e := range c.Endpoints {
		if err := validateHostPort(e); err != nil {
			return fmt.Errorf("metagraph: chain config: endpoint: %w", err)
		}
	}
	return nil
}

const (
	// maxChainValueBytes is etcd's own default request limit (1.5 MiB).
	maxChainValueBytes = 3 << 19
	// listPage is how many keys one listing call reads.
	listPage = 32
	// maxChainRecvBytes bounds one etcd answer: a page of the largest values.
	maxChainRecvBytes = (listPage + 1) * maxChainValueBytes
)

// Chain is the Metagraph backend on etcd (--chain_endpoint etcd://…): the
// neuron's signed definitions and weights are put under one lease whose TTL
// is the definitions' lifetime, and every member lists and watches the
// prefix, judging each value it reads by the rules of chain_rules.go and
// state.go. Joins and deaths show as they happen (a watch event), not a
// gossip round later.
//
//	mg, err := metagraph.NewChain(ctx, cfg, chainCfg, key) // dials within chainCfg.DialTimeout
//	err = mg.Subscribe(metagraph.NewSynapseDefinition(synapseKey.PublicHex(), "10.0.0.5", 8091))
//	err = mg.Start(ctx)  // lease, put, list, watch
//	defer mg.Stop()      // revokes the lease: the definitions leave at once
//
// All methods are safe for concurrent use.
type Chain struct {
	cfg     Config
	chain   ChainConfig
	key     *keys.Key
	onError func(error)
	onEvent func(ChainEvent)
	client  *clientv3.Client

	// round serializes subscriptions and refreshes, so that proof of work
	// runs without holding mu.
	round sync.Mutex
	lease clientv3.LeaseID // guarded by round
	// leaseLost is set when the current lease's keep-alive ends before Stop
	// or etcd no longer knows it.
	leaseLost atomic.Bool
	current   atomic.Int64 // the current lease's id, for its keep-alive goroutine

	// lockedState's mu also guards the fields below.
	lockedState
	weights        weightBook
	weightsDirty   bool
	weightsPutAt   time.Time
	lastWeightsPut int64 // nonce of our last published record

	life    sync.Mutex // guards the fields below
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
	stopped bool
}

// ChainEvent is a definition joining or leaving this member's view of the
// chain (see WithChainEvents).
type ChainEvent struct {
	// Joined is true for a definition taken for the first time, false for one
	// whose etcd key was deleted (its owner stopped or died).
	Joined bool
	// Neuron and Synapse are the definition's keys.
	Neuron, Synapse string
	// At is when this member saw it.
	At time.Time
}

// ChainOption changes how NewChain builds a Chain.
type ChainOption func(*Chain)

// WithChainClock replaces time.Now for every rule that reads the time.
func WithChainClock(now func() time.Time) ChainOption { return func(c *Chain) { c.now = now } }

// WithChainErrors receives the errors of the background work (a refused
// value, a failed refresh, a broken watch), e.g. to log them.
func WithChainErrors(f func(error)) ChainOption { return func(c *Chain) { c.onError = f } }

// WithChainEvents receives every join and leave this member sees, on the
// watching goroutine, with no lock held (f must return quickly).
func WithChainEvents(f func(ChainEvent)) ChainOption { return func(c *Chain) { c.onEvent = f } }

// NewChain connects to the etcd cluster of chain.Endpoints and checks within
// chain.DialTimeout that etcd answers there; an error wrapping
// ErrChainUnreachable says it did not. The metagraph is owned by the neuron
// key; it puts and watches nothing until Start.
func NewChain(ctx context.Context, cfg Config, chain ChainConfig, key *keys.Key, opts ...ChainOption) (*Chain, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := chain.Validate(); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, errors.New("metagraph: nil neuron key")
	}
	chain.Endpoints = append([]string(nil), chain.Endpoints...)
	m := &Chain{cfg: cfg, chain: chain, key: key, lockedState: lockedState{now: time.Now}, weights: newWeightBook(cfg.Size)}
	for _, o := range opts {
		o(m)
	}
	m.state = newMetagraphState(cfg, m.now())
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            chain.Endpoints,
		DialTimeout:          chain.DialTimeout,
		DialKeepAliveTime:    max(chain.CallTimeout, time.Second),
		DialKeepAliveTimeout: chain.CallTimeout,
		MaxCallRecvMsgSize:   maxChainRecvBytes,
		MaxCallSendMsgSize:   maxChainValueBytes + 4096,
		Logger:               zap.NewNop(),
		Context:              context.WithoutCancel(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("metagraph: %w: %s: %v", ErrChainUnreachable, m.Addr(), err)
	}
	m.client = client
	pctx, cancel := context.WithTimeout(ctx, chain.DialTimeout)
	defer cancel()
	if _, err := client.Get(pctx, chain.Prefix+synapsesDir, clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		client.Close()
		return nil, fmt.Errorf("metagraph: %w: no etcd member answered at %s within %v: %v",
			ErrChainUnreachable, m.Addr(), chain.DialTimeout, err)
	}
	return m, nil
}

// Addr returns the chain endpoint, etcd://host:port[,host:port…].
func (m *Chain) Addr() string { return ChainEndpointScheme + strings.Join(m.chain.Endpoints, ",") }

// Subscribe publishes a local synapse: the metagraph signs it now (nonce,
// proof of work, signature), puts it under its lease once started, and signs
// and puts it again every Refresh. Subscribing the same synapse key again
// replaces its address and port.
func (m *Chain) Subscribe(def *bittensorpb.Synapse) error {
	m.round.Lock()
	defer m.round.Unlock()
	d, err := m.subscribeLocal(def, m.key, m.cfg.PoWBits)
	if err != nil || m.lease == 0 {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.chain.CallTimeout)
	defer cancel()
	return m.put(ctx, []*bittensorpb.Synapse{d})
}

// Start grants the lease (kept alive from now on), puts the local
// definitions under it, reads what the chain holds and watches it for
// changes, refreshing the local definitions and publishing changed weights
// every Period, until ctx ends or Stop.
func (m *Chain) Start(ctx context.Context) error {
	m.life.Lock()
	defer m.life.Unlock()
	switch {
	case m.stopped:
		return errors.New("metagraph: start: stopped")
	case m.started:
		return errors.New("metagraph: start: already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	m.round.Lock()
	err := m.renewLease(ctx)
	m.round.Unlock()
	if err != nil {
		cancel()
		return err
	}
	rev, err := m.load(ctx)
	if err != nil {
		cancel()
		return err
	}
	m.started, m.cancel = true, cancel
	m.wg.Add(2)
	go m.watchLoop(ctx, rev)
	go m.refreshLoop(ctx)
	return nil
}

// Read reads what the chain holds now (every definition and weights record
// under the prefix, judged as always) without registering or watching: for
// tools that look at a network, such as `bittensor peers`.
func (m *Chain) Read(ctx context.Context) error {
	_, err := m.load(ctx)
	return err
}

// renewLease grants a new lease, keeps it alive and puts every local
// definition (signed afresh) and the weights under it. The caller holds round.
func (m *Chain) renewLease(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, m.chain.CallTimeout)
	defer cancel()
	ttl := int64(math.Ceil(m.cfg.TTL.Seconds()))
	grant, err := m.client.Grant(cctx, ttl)
	if err != nil {
		return fmt.Errorf("metagraph: chain: grant a lease of %ds: %w", ttl, err)
	}
	alive, err := m.client.KeepAlive(ctx, grant.ID)
	if err != nil {
		return fmt.Errorf("metagraph: chain: keep the lease alive: %w", err)
	}
	m.lease = grant.ID
	m.current.Store(int64(grant.ID))
	m.leaseLost.Store(false)
	m.wg.Add(1)
	go func(id clientv3.LeaseID) {
		defer m.wg.Done()
		for range alive { // the client sends a keep-alive every TTL/3
		}
		if ctx.Err() == nil && m.current.Load() == int64(id) {
			m.leaseLost.Store(true)
			m.report(errors.New("metagraph: chain: the lease expired (etcd unreachable for a TTL); granting a new one"))
		}
	}(grant.ID)
	now := m.now()
	m.mu.Lock()
	defs := m.state.resignLocal(now)
	republish := m.lastWeightsPut != 0 // the old lease took our weights with it
	m.weightsDirty = m.weightsDirty || republish
	if republish {
		m.weightsPutAt = time.Time{}
	}
	m.mu.Unlock()
	if err := m.refreshLocal(defs, m.key, m.cfg.PoWBits); err != nil {
		return err
	}
	if err := m.put(cctx, defs); err != nil {
		return err
	}
	return m.publishWeights(cctx, now)
}

// put writes signed local definitions under the lease, in one transaction.
func (m *Chain) put(ctx context.Context, defs []*bittensorpb.Synapse) error {
	if len(defs) == 0 {
		return nil
	}
	ops := make([]clientv3.Op, 0, len(defs))
	for _, d := range defs {
		b, err := marshalSynapse(d)
		if err != nil {
			return err
		}
		ops = append(ops, clientv3.OpPut(synapseKeyPath(m.chain.Prefix, idOf(d)), string(b), clientv3.WithLease(m.lease)))
	}
	if _, err := m.client.Txn(ctx).Then(ops...).Commit(); err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			m.leaseLost.Store(true)
		}
		return fmt.Errorf("metagraph: chain: put %d definitions: %w", len(defs), err)
	}
	return nil
}

// publishWeights puts a signed record of the weights when SetWeights changed
// them since the last one and that one is at least Refresh old (or went with
// a lost lease).
func (m *Chain) publishWeights(ctx context.Context, now time.Time) error {
	m.mu.Lock()
	due := m.weightsDirty && now.Sub(m.weightsPutAt) >= m.cfg.Refresh
	entries := m.state.weightEntries()
	nonce := max(now.UnixMilli(), m.lastWeightsPut+1)
	m.mu.Unlock()
	if !due || len(entries) == 0 {
		return nil
	}
	rec, err := encodeWeights(m.key, nonce, entries, m.chain.MaxWeights)
	if err != nil {
		return err
	}
	if _, err := m.client.Put(ctx, weightsKeyPath(m.chain.Prefix, m.key.PublicHex()), string(rec), clientv3.WithLease(m.lease)); err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			m.leaseLost.Store(true)
		}
		return fmt.Errorf("metagraph: chain: publish weights: %w", err)
	}
	m.mu.Lock()
	m.weightsDirty, m.weightsPutAt, m.lastWeightsPut = false, now, nonce
	m.mu.Unlock()
	return nil
}

// refreshLoop refreshes every Period until ctx ends.
func (m *Chain) refreshLoop(ctx context.Context) {
	defer m.wg.Done()
	ticker := time.NewTicker(m.cfg.Period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := m.RefreshOnce(ctx); err != nil && ctx.Err() == nil {
			m.report(err)
		}
	}
}

// RefreshOnce drops what expired, signs and puts the local definitions that
// are due, publishes changed weights, and grants a new lease (putting
// everything again) when the old one was lost. Start's loop calls it every
// Period.
func (m *Chain) RefreshOnce(ctx context.Context) error {
	m.round.Lock()
	defer m.round.Unlock()
	if m.leaseLost.Load() {
		return m.renewLease(ctx)
	}
	now := m.now()
	m.mu.Lock()
	m.state.expire(now)
	due := m.state.dueLocal(now)
	m.mu.Unlock()
	if err := m.refreshLocal(due, m.key, m.cfg.PoWBits); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, m.chain.CallTimeout)
	defer cancel()
	if err := m.put(cctx, due); err != nil {
		return err
	}
	return m.publishWeights(cctx, now)
}

// load reads every definition and weights record under the prefix, in pages
// of listPage keys at one revision and at most Size keys of each kind,
// forgets the remote definitions no longer there, and returns the revision
// read (the watch starts after it).
func (m *Chain) load(ctx context.Context) (int64, error) {
	var rev int64
	seen := make(map[synapseID]bool)
	complete := true
	for _, dir := range []string{synapsesDir, weightsDir} {
		from, end := m.chain.Prefix+dir, clientv3.GetPrefixRangeEnd(m.chain.Prefix+dir)
		read := 0
		for {
			opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPage)}
			if rev != 0 {
				opts = append(opts, clientv3.WithRev(rev))
			}
			cctx, cancel := context.WithTimeout(ctx, m.chain.CallTimeout)
			resp, err := m.client.Get(cctx, from, opts...)
			cancel()
			if err != nil {
				return 0, fmt.Errorf("metagraph: chain: list %s: %w", dir, err)
			}
			if rev == 0 {
				rev = resp.Header.Revision
			}
			for _, kv := range resp.Kvs {
				if kind, id := parseChainKey(m.chain.Prefix, string(kv.Key)); kind == chainKeySynapse {
					seen[id] = true
				}
				m.take(string(kv.Key), kv.Value)
			}
			read += len(resp.Kvs)
			if !resp.More || len(resp.Kvs) == 0 {
				break
			}
			if read >= m.cfg.Size {
				complete = false
				break
			}
			from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	}
	if complete {
		m.mu.Lock()
		var gone []synapseID
		for id, e := range m.state.synapses {
			if !e.local && !seen[id] && m.state.forget(id) {
				gone = append(gone, id)
			}
		}
		m.mu.Unlock()
		for _, id := range gone {
			m.event(ChainEvent{Joined: false, Neuron: id.neuron, Synapse: id.synapse, At: m.now()})
		}
	}
	return rev, nil
}

// watchLoop applies the chain's changes after revision rev until ctx ends.
// A broken watch (a compaction, the member lost its leader, every member
// unreachable for a while) is followed by a fresh listing and a new watch.
func (m *Chain) watchLoop(ctx context.Context, rev int64) {
	defer m.wg.Done()
	retry := time.NewTimer(0)
	defer retry.Stop()
	<-retry.C
	for {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range m.client.Watch(wctx, m.chain.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if err := resp.Err(); err != nil {
				m.report(fmt.Errorf("metagraph: chain: watch: %w", err))
				break
			}
			for _, ev := range resp.Events {
				switch ev.Type {
				case mvccpb.PUT:
					m.take(string(ev.Kv.Key), ev.Kv.Value)
				case mvccpb.DELETE:
					m.drop(string(ev.Kv.Key))
				}
			}
			rev = max(rev, resp.Header.Revision)
		}
		cancel()
		for {
			retry.Reset(min(m.cfg.Period, time.Second))
			select {
			case <-ctx.Done():
				return
			case <-retry.C:
			}
			r, err := m.load(ctx)
			if err == nil {
				rev = r
				break
			}
			m.report(err)
		}
	}
}

// take judges one value read from the chain and stores it when it passes.
func (m *Chain) take(key string, value []byte) {
	kind, id := parseChainKey(m.chain.Prefix, key)
	now := m.now()
	switch kind {
	case chainKeySynapse:
		def, err := decodeChainSynapse(id, value, m.chain.MaxValueBytes)
		if err == nil {
			m.mu.Lock()
			err = m.state.screen(def, now)
			m.mu.Unlock()
		}
		if err == nil {
			err = verifyWorkAndSignature(def, m.cfg.PoWBits)
		}
		joined := false
		if err == nil {
			m.mu.Lock()
			_, held := m.state.synapses[id]
			err = m.state.admit(def, now)
			joined = err == nil && !held
			m.state.trim()
			m.mu.Unlock()
		}
		m.mu.Lock()
		m.state.count(err)
		m.mu.Unlock()
		if err != nil {
			if !errors.Is(err, ErrStaleSynapse) {
				m.report(fmt.Errorf("metagraph: chain: refused %s: %w", key, err))
			}
			return
		}
		if joined {
			m.event(ChainEvent{Joined: true, Neuron: id.neuron, Synapse: id.synapse, At: now})
		}
	case chainKeyWeights:
		err := error(nil)
		var rec *WeightsRecord
		if len(value) > m.chain.MaxValueBytes {
			err = fmt.Errorf("metagraph: chain weights: %w: %d bytes, limit %d", ErrOversizeValue, len(value), m.chain.MaxValueBytes)
		} else if rec, err = decodeWeights(value, m.chain.MaxWeights); err == nil && rec.Neuron != id.neuron {
			err = fmt.Errorf("metagraph: chain weights: %w: neuron %s's record under neuron %s's key", ErrBadChainKey, keys.Label(rec.Neuron), keys.Label(id.neuron))
		}
		if err != nil {
			m.mu.Lock()
			m.state.stats.Rejected++
			m.mu.Unlock()
			m.report(fmt.Errorf("metagraph: chain: refused %s: %w", key, err))
			return
		}
		m.mu.Lock()
		m.weights.take(rec)
		m.mu.Unlock()
	default:
		m.mu.Lock()
		m.state.stats.Rejected++
		m.mu.Unlock()
		m.report(fmt.Errorf("metagraph: chain: %w: %.80q", ErrBadChainKey, key))
	}
}

// drop applies a deleted key: a remote definition or a weights record leaves.
func (m *Chain) drop(key string) {
	kind, id := parseChainKey(m.chain.Prefix, key)
	m.mu.Lock()
	left := false
	switch kind {
	case chainKeySynapse:
		left = m.state.forget(id)
	case chainKeyWeights:
		m.weights.forget(id.neuron)
	}
	m.mu.Unlock()
	if left {
		m.event(ChainEvent{Joined: false, Neuron: id.neuron, Synapse: id.synapse, At: m.now()})
	}
}

func (m *Chain) report(err error) {
	if m.onError != nil {
		m.onError(err)
	}
}

func (m *Chain) event(ev ChainEvent) {
	if m.onEvent != nil {
		m.onEvent(ev)
	}
}

// Stop ends the loops (waiting for them), revokes the lease so that the
// definitions and weights leave the chain at once, and closes the client.
// The metagraph cannot be started again.
func (m *Chain) Stop() error {
	return m.stop(true)
}

// stop ends the loops and closes the client; with revoke false the lease is
// left to expire, as when the process dies (tests).
func (m *Chain) stop(revoke bool) error {
	m.life.Lock()
	if m.stopped {
		m.life.Unlock()
		return nil
	}
	m.stopped = true
	cancel := m.cancel
	m.life.Unlock()
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
	var errs []error
	m.round.Lock()
	lease := m.lease
	m.round.Unlock()
	if revoke && lease != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), m.chain.CallTimeout)
		defer cancel()
		if _, err := m.client.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			errs = append(errs, fmt.Errorf("metagraph: chain: revoke the lease: %w", err))
		}
	}
	if err := m.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
		errs = append(errs, fmt.Errorf("metagraph: chain: close: %w", err))
	}
	return errors.Join(errs...)
}

// GetPeers returns up to n keys of the other neurons that own a live
// definition on the chain, by key.
func (m *Chain) GetPeers(n int) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.owners(n, m.key.PublicHex(), m.now())
}

// SetWeights sets the weight of each synapse held; the next refresh at
// least Refresh after the last publication puts them on the chain.
func (m *Chain) SetWeights(synapses []*bittensorpb.Synapse, weights []float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.state.setWeights(synapses, weights); err != nil {
		return err
	}
	m.weightsDirty = true
	return nil
}

// WeightMatrix returns the newest verified weights record of every neuron
// that published one (this one's included, as read back), by neuron key:
// the network's weight matrix, one row per neuron.
func (m *Chain) WeightMatrix() []*WeightsRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := m.weights.list()
	out := make([]*WeightsRecord, len(rows))
	for i, r := range rows {
		c := *r
		c.Weights = append([]SynapseWeight(nil), r.Weights...)
		out[i] = &c
	}
	return out
}
