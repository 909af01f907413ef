package dendrite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// Config configures a Dendrite. DefaultConfig documents every default.
type Config struct {
	// Timeout bounds each Forward call; BackwardTimeout each Backward call.
	Timeout, BackwardTimeout time.Duration
	// OutputDim is the width of every synapse's output: a call on a batch of
	// n examples must answer a float32 [n, OutputDim] tensor, and a failed
	// call yields zeros of that shape.
	OutputDim int64
	// MaxMessageBytes bounds a request and a response on the wire.
	MaxMessageBytes int
	// Limits bound each decoded response tensor.
	Limits wire.Limits
	// Device is where outputs and zeros are placed.
	Device torch.Device
	// MaxAbsValue bounds the magnitude of every value a peer answers (an
	// output or an input gradient); an answer beyond it, or not finite, is
	// a failed call.
	MaxAbsValue float64
	// Backoff sets how long a failing synapse is left alone (see Standing).
	Backoff BackoffConfig
	// MaxPeers bounds how many synapses' counters and standing are kept.
	MaxPeers int
	// MaxConns bounds the pooled connections to Axons; the least recently
	// used one is evicted to make room (closed once no call uses it), and
	// one unused for IdleTimeout is closed.
	MaxConns    int
	IdleTimeout time.Duration
	// Pool, when set, is the connection pool to use (shared with the
	// Metagraph, say) instead of one of MaxConns made for the Dendrite; the
	// Dendrite does not close it.
	Pool *ConnPool
	// Now is the clock nonces and backoffs are drawn from; nil means time.Now.
	Now func() time.Time
	// OnCall, when set, is told of every call made, once it has ended: the
	// synapse's key, whether it was a Backward, how long it took and its
	// outcome (metrics, say). It runs on the call's goroutine and must be quick.
	OnCall func(synapseKey string, backward bool, latency time.Duration, outcome Outcome)
}

// DefaultConfig returns a Dendrite configuration with the 2020
// network's output width of 512, 5 s per Forward and 10 s per Backward call,
// 64 MiB messages, DefaultLimits, outputs on the CPU, values up to 1e6 in
// magnitude, DefaultBackoffConfig, the standing of up to 10 000 synapses, and
// at most 256 pooled connections, each closed after 5 minutes unused.
func DefaultConfig() Config {
	return Config{
		Timeout:         5 * time.Second,
		BackwardTimeout: 10 * time.Second,
		OutputDim:       512,
		MaxMessageBytes: 64 << 20,
		Limits:          wire.DefaultLimits(),
		Device:          torch.CPU,
		MaxAbsValue:     1e6,
		Backoff:         DefaultBackoffConfig(),
		MaxPeers:        10_000,
		MaxConns:        256,
		IdleTimeout:     5 * time.Minute,
	}
}

// Dendrite calls the synapses of remote neurons as differentiable modules:
// the seed's Dendrite class. A call sends each synapse its inputs in
// parallel, each with its own deadline; a peer that fails, refuses or is too
// slow, or answers numbers that are not finite or absurd, yields zeros of the
// expected output shape and a recorded failure, never an error that stops
// training. A failing synapse is backed off (see Standing): Callable reports
// it, so that the caller routes around it until the backoff ends, and its
// pending Backward calls are not sent. The answers of one call form one node
// of the caller's autograd graph: its backward sends every peer its output
// gradient at once, waits at most BackwardTimeout, and feeds the returned
// input gradients into the caller's graph. Connections are pooled per
// endpoint, at most MaxConns of them, and closed by Close.
type Dendrite struct {
	key      *keys.Key
	cfg      Config
	pool     *ConnPool
	ownsPool bool
	callOpts []grpc.CallOption // the message size limits and the wire codec of every call
	bufs     mem.BufferPool    // the buffers of the requests: a BufferPool
	nonces   *wire.Nonces      // one source for every request: each nonce is used once
	// life bounds the Backward calls, which run from the caller's backward
	// pass after the Forward's context is gone; Close cancels it.
	life   context.Context
	cancel context.CancelFunc

	peers *peerBook

	localMu sync.RWMutex
	local   map[string]synapse.Synapse // synapses called in-process, by key
}

// Responses are the answers to one Dendrite call: per synapse, in the order
// given, the output and the reason the call failed.
type Responses struct {
	// Outputs holds one [batch, OutputDim] tensor per synapse: the peer's
	// output attached to the caller's graph, or zeros where the call failed.
	Outputs []*torch.Tensor
	// Errs holds nil where the call succeeded and its failure otherwise.
	Errs []error
}

// Failed returns how many calls failed.
func (r Responses) Failed() int {
	n := 0
	for _, err := range r.Errs {
		if err != nil {
			n++
		}
	}
	return n
}

// PeerStats counts the calls a Dendrite made to one synapse.
type PeerStats struct {
	// Forwards and Backwards count calls; the Failures fields the failed ones.
	Forwards, ForwardFailures, Backwards, BackwardFailures uint64
	// LastError is the most recent failure, nil if none.
	LastError error
	// LastLatency is the duration of the most recent successful Forward.
	LastLatency time.Duration
	// Standing holds the outcomes of the calls and the synapse's backoff.
	Standing Standing
}

// New returns a Dendrite that signs its requests with key.
func New(key *keys.Key, cfg Config) (*Dendrite, error) {
	if key == nil {
		return nil, errors.New("dendrite: nil key")
	}
	switch {
	case cfg.Timeout <= 0 || cfg.BackwardTimeout <= 0:
		return nil, fmt.Errorf("dendrite: timeouts %v and %v, want > 0", cfg.Timeout, cfg.BackwardTimeout)
	case cfg.OutputDim < 0:
		return nil, fmt.Errorf("dendrite: OutputDim is %d, want >= 0", cfg.OutputDim)
	case cfg.MaxMessageBytes <= 0:
		return nil, fmt.Errorf("dendrite: MaxMessageBytes is %d, want > 0", cfg.MaxMessageBytes)
	case !(cfg.MaxAbsValue > 0):
		return nil, fmt.Errorf("dendrite: MaxAbsValue is %v, want > 0", cfg.MaxAbsValue)
	case cfg.Backoff.BackoffBase < 0 || cfg.Backoff.BackoffMax < cfg.Backoff.BackoffBase ||
		!(cfg.Backoff.BackoffJitter >= 0 && cfg.Backoff.BackoffJitter < 1):
		return nil, fmt.Errorf("dendrite: backoff %+v: want 0 <= base <= max and jitter in [0, 1)", cfg.Backoff)
	case cfg.MaxConns <= 0 || cfg.IdleTimeout <= 0:
		return nil, fmt.Errorf("dendrite: MaxConns %d and IdleTimeout %v, want > 0", cfg.MaxConns, cfg.IdleTimeout)
	}
	pool, owned := cfg.Pool, cfg.Pool == nil
	if owned {
		pool = NewConnPool(cfg.MaxConns, cfg.IdleTimeout)
	}
	life, cancel := context.WithCancel(context.Background())
	return &Dendrite{
		key:      key,
		cfg:      cfg,
		pool:     pool,
		ownsPool: owned,
		callOpts: append(messageSizes(cfg.MaxMessageBytes), grpc.ForceCodecV2(wire.NewCodec())),
		bufs:     new(wire.BufferPool),
		nonces:   wire.NewNonces(cfg.Now),
		life:     life,
		cancel:   cancel,
		peers:    newPeerBook(cfg.Backoff, cfg.Now, cfg.MaxPeers, uint64(time.Now().UnixNano())),
		local:    make(map[string]synapse.Synapse),
	}, nil
}

// Close cancels the calls in flight and closes the pooled connections,
// unless the pool was given in the configuration.
func (d *Dendrite) Close() error {
	d.cancel()
	if !d.ownsPool {
		return nil
	}
	if err := d.pool.Close(); err != nil {
		return fmt.Errorf("dendrite: close: %w", err)
	}
	return nil
}

// CallInProcess makes the Dendrite call s, a synapse this process serves,
// in-process whenever a call names its key: no serialization, signature or
// socket. The answers and gradients are the ones the Axon would give: the
// forward runs inside s's Guard without a graph, the backward recomputes it
// with autograd and lets a NetworkLearner learn from the caller's gradient,
// with the Dendrite's key as the caller, and answers are checked as a peer's
// are.
func (d *Dendrite) CallInProcess(s synapse.Synapse) {
	d.localMu.Lock()
	defer d.localMu.Unlock()
	d.local[s.Key()] = s
}

// InProcess returns the synapse called in-process for key, nil if none.
func (d *Dendrite) InProcess(key string) synapse.Synapse {
	d.localMu.RLock()
	defer d.localMu.RUnlock()
	return d.local[key]
}

// Stats returns a copy of the per-synapse counters, keyed by synapse key.
func (d *Dendrite) Stats() map[string]PeerStats { return d.peers.snapshot() }

// OutputDim returns the width of the answer the Dendrite expects per example.
func (d *Dendrite) OutputDim() int64 { return d.cfg.OutputDim }

// Record counts a call to synapse key in the standing of its peer and tells
// OnCall of it.
func (d *Dendrite) Record(key string, backward bool, latency time.Duration, err error) {
	d.peers.record(key, backward, latency, err)
	if d.cfg.OnCall != nil {
		d.cfg.OnCall(key, backward, latency, outcomeOf(err))
	}
}

// Callable reports whether the synapse with the given key may be called now:
// false while it is backed off after failures.
func (d *Dendrite) Callable(synapseKey string) bool { return d.peers.callable(synapseKey) }

// ForwardText sends inputs[i], a batch of strings, to synapses[i], for every i
// in parallel.
func (d *Dendrite) ForwardText(ctx context.Context, synapses []*bittensorpb.Synapse, inputs [][]string) (Responses, error) {
	if len(inputs) != len(synapses) {
		return Responses{}, fmt.Errorf("dendrite: %d inputs for %d synapses", len(inputs), len(synapses))
	}
	calls := make([]remoteCall, len(synapses))
	for i, batch := range inputs {
		w, err := wire.EncodeText(batch)
		if err != nil {
			return Responses{}, fmt.Errorf("dendrite: input %d: %w", i, err)
		}
		calls[i] = remoteCall{synapse: synapses[i], modality: bittensorpb.Modality_TEXT, wire: w, batch: int64(len(batch)),
			text: batch, local: d.InProcess(synapses[i].GetSynapseKey())}
	}
	return d.forward(ctx, calls), nil
}

// ForwardImage sends inputs[i], a batch of images, to synapses[i], for every i
// in parallel.
func (d *Dendrite) ForwardImage(ctx context.Context, synapses []*bittensorpb.Synapse, inputs []*torch.Tensor) (Responses, error) {
	return d.forwardTensors(ctx, synapses, inputs, bittensorpb.Modality_IMAGE)
}

// ForwardTensor sends inputs[i], a batch of feature tensors, to synapses[i],
// for every i in parallel.
func (d *Dendrite) ForwardTensor(ctx context.Context, synapses []*bittensorpb.Synapse, inputs []*torch.Tensor) (Responses, error) {
	return d.forwardTensors(ctx, synapses, inputs, bittensorpb.Modality_TENSOR)
}

func (d *Dendrite) forwardTensors(ctx context.Context, synapses []*bittensorpb.Synapse,
	inputs []*torch.Tensor, modality bittensorpb.Modality) (Responses, error) {
	if len(inputs) != len(synapses) {
		return Responses{}, fmt.Errorf("dendrite: %d inputs for %d synapses", len(inputs), len(synapses))
	}
	calls := make([]remoteCall, len(synapses))
	for i, x := range inputs {
		if err := x.Err(); err != nil {
			return Responses{}, fmt.Errorf("dendrite: input %d: %w", i, err)
		}
		if x.Dim() == 0 {
			return Responses{}, fmt.Errorf("dendrite: input %d is a scalar, want a batch", i)
		}
		if _, err := wire.DTypeOf(x.DType()); err != nil {
			return Responses{}, fmt.Errorf("dendrite: input %d: %w", i, err)
		}
		// Serialized by the call's own goroutine, in parallel with the others.
		calls[i] = remoteCall{synapse: synapses[i], modality: modality, batch: x.Shape()[0], input: x,
			local: d.InProcess(synapses[i].GetSynapseKey())}
	}
	return d.forward(ctx, calls), nil
}

// forward runs every call's network part in parallel and waits for all of
// them (each ends by its own deadline at the latest). It then attaches the
// answers to the autograd graph, as one node, here on the caller's
// goroutine, so that a caller inside torch.NoGrad gets detached outputs.
func (d *Dendrite) forward(ctx context.Context, calls []remoteCall) Responses {
	res := Responses{Outputs: make([]*torch.Tensor, len(calls)), Errs: make([]error, len(calls))}
	withGraph := torch.GradEnabled() // of the caller's thread; the calls run on others
	run := func(i int) {
		start := time.Now()
		if calls[i].local != nil {
			res.Outputs[i], res.Errs[i] = d.localForward(&calls[i], withGraph)
		} else {
			res.Outputs[i], res.Errs[i] = d.remoteForward(ctx, &calls[i])
		}
		d.Record(calls[i].synapse.GetSynapseKey(), false, time.Since(start), res.Errs[i])
	}
	if len(calls) == 1 && calls[0].local == nil { // nothing to overlap with
		run(0)
	} else {
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() { run(i) })
		}
		wg.Wait()
	}
	var answered []int
	for i, err := range res.Errs {
		if err == nil {
			answered = append(answered, i)
		} else {
			calls[i].release()
		}
	}
	if err := d.attach(calls, answered, res.Outputs); err != nil {
		for _, i := range answered {
			res.Errs[i] = err
		}
	}
	for i := range calls {
		if res.Errs[i] != nil {
			res.Outputs[i] = torch.Zeros([]int64{calls[i].batch, d.cfg.OutputDim}, torch.WithDevice(d.cfg.Device))
		}
	}
	return res
}

// call signs and sends one request, the given tensors in order, to a
// synapse with a deadline of timeout, and decodes the answer into resp.
func (d *Dendrite) call(ctx context.Context, syn *bittensorpb.Synapse, backward bool, timeout time.Duration,
	resp *wire.Incoming, tensors ...wire.Encoded) error {
	endpoint, err := endpointOf(syn)
	if err != nil {
		return err
	}
	conn, err := d.pool.pool.Get(endpoint)
	if err != nil {
		return fmt.Errorf("dendrite: %s: %w", endpoint, err)
	}
	defer conn.Release()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := wire.EncodeMessage(wire.Header{SynapseKey: syn.GetSynapseKey()}, tensors, d.key, d.nonces.Next())
	defer req.Free()
	method := bittensorpb.Bittensor_Forward_FullMethodName
	if backward {
		method = bittensorpb.Bittensor_Backward_FullMethodName
	}
	if err := conn.Invoke(ctx, method, req, resp, d.callOpts...); err != nil {
		resp.Free()
		return fmt.Errorf("dendrite: %s: %w", endpoint, err)
	}
	return nil
}

// newAnswer returns the decoding target of an answer: the Dendrite's
// Limits and MaxAbsValue, and expect, which refuses an answer from its
// metadata before anything is allocated for it.
func (d *Dendrite) newAnswer(expect func(*wire.Incoming) error) *wire.Incoming {
	return wire.NewIncoming(d.cfg.Limits, d.cfg.MaxAbsValue, expect)
}

// Device returns where the Dendrite places outputs and zeros.
func (d *Dendrite) Device() torch.Device { return d.cfg.Device }

// Pool returns the connection pool the Dendrite dials through.
func (d *Dendrite) Pool() *ConnPool { return d.pool }
