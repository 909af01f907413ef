package axon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// Axon serves a neuron's local synapses to the network over gRPC: the seed's
// Axon class. Forward runs a synapse on the caller's inputs without building a
// graph; Backward recomputes the forward with autograd, returns the gradient of
// the caller's loss with respect to its float inputs, and lets the synapse
// learn from that gradient: a NetworkLearner collects its parameter gradient
// for its owner's next step, a Trainable one steps at once.
//
// Every request passes, in order: admission (bounded concurrency,
// RESOURCE_EXHAUSTED past the queue), decoding by the wire codec (see
// Codec: every tensor's metadata is checked against the Limits before
// anything is allocated for it, and nothing is allocated for a synapse not
// served), the synapse lookup (NOT_FOUND), the Limits (INVALID_ARGUMENT),
// authentication (signature and nonce, UNAUTHENTICATED), and the checks of
// the values and the request's shape (INVALID_ARGUMENT). gRPC itself refuses
// messages over the size limit with RESOURCE_EXHAUSTED. A refused request
// never affects the requests after it.
type Axon struct {
	cfg     Config
	pool    *wire.BufferPool // the buffers of the answers
	metrics *axonMetrics
	guard   *replayGuard
	server  *grpc.Server

	mu       sync.RWMutex
	synapses map[string]synapse.Synapse
	lis      net.Listener
	served   chan error // receives Serve's result once the server stops
	stopped  bool
}

// New returns an Axon configured by cfg, serving no synapse yet.
func New(cfg Config) (*Axon, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &Axon{
		cfg:      cfg,
		pool:     new(wire.BufferPool),
		metrics:  new(axonMetrics),
		guard:    newReplayGuard(cfg.ReplayWindow, cfg.Now),
		synapses: make(map[string]synapse.Synapse),
	}
	served := func(key string) error { _, err := a.synapse(key); return err }
	opts := append(cfg.serverOptions(a.metrics, newAdmission(cfg.MaxConcurrent, cfg.MaxQueued), served, a.guard),
		grpc.ForceServerCodecV2(wire.NewCodec()))
	a.server = grpc.NewServer(opts...)
	a.server.RegisterService(&axonServiceDesc, axonService{a: a})
	return a, nil
}

// Serve adds s to the synapses this Axon serves (the seed's Axon.serve). It
// may be called before or after Start.
func (a *Axon) Serve(s synapse.Synapse) error {
	key := s.Key()
	if _, err := keys.ParsePublicKey(key); err != nil {
		return fmt.Errorf("axon: serve: synapse key: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.synapses[key]; ok {
		return fmt.Errorf("axon: serve: synapse %s is already served", keys.Label(key))
	}
	a.synapses[key] = s
	return nil
}

// Synapses returns the keys of the served synapses, sorted.
func (a *Axon) Synapses() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	keys := make([]string, 0, len(a.synapses))
	for k := range a.synapses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Start listens on the configured address and serves in the background until Stop.
func (a *Axon) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return errors.New("axon: start: already stopped")
	}
	if a.lis != nil {
		return errors.New("axon: start: already started")
	}
	lis, err := net.Listen("tcp", a.cfg.Address)
	if err != nil {
		return fmt.Errorf("axon: start: %w", err)
	}
	lis = newLimitListener(lis, a.cfg.MaxConns)
	a.lis = lis
	a.served = make(chan error, 1)
	go func() { a.served <- a.server.Serve(lis) }()
	return nil
}

// Addr returns the address the Axon listens on (the port picked when the
// configured one is 0), or nil before Start.
func (a *Axon) Addr() net.Addr {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.lis == nil {
		return nil
	}
	return a.lis.Addr()
}

// Stop stops accepting requests and waits for the ones in progress to be
// answered; when ctx ends first, it closes every connection at once, failing
// the requests in progress for their callers. Either way it returns only after
// every running synapse forward has returned (a forward cannot be
// interrupted), so the synapses may be released afterwards. It is idempotent
// and returns the serving error, if serving failed.
func (a *Axon) Stop(ctx context.Context) error {
	a.mu.Lock()
	first := !a.stopped
	a.stopped = true
	served := a.served
	a.mu.Unlock()
	if !first {
		return nil
	}
	graceful := make(chan struct{})
	go func() {
		a.server.GracefulStop()
		close(graceful)
	}()
	select {
	case <-graceful:
	case <-ctx.Done():
		a.server.Stop()
		<-graceful
	}
	if served == nil {
		return nil
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("axon: serve: %w", err)
	}
	return nil
}

// Stats returns a snapshot of the Axon's counters.
func (a *Axon) Stats() Stats { return a.metrics.snapshot() }

// synapse returns the served synapse with the given key, or NOT_FOUND.
func (a *Axon) synapse(key string) (synapse.Synapse, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	s, ok := a.synapses[key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "axon: unknown synapse %q", keys.Label(key))
	}
	return s, nil
}

// axonService serves the Axon's synapses as the Bittensor service (see
// axonServiceDesc).
type axonService struct {
	a *Axon
}

// forward implements the Bittensor service's Forward: tensors = [inputs];
// the answer holds the synapse's output.
func (s axonService) forward(_ context.Context, req *wire.Incoming) (*wire.Outgoing, error) {
	syn, err := s.a.synapse(req.Header.SynapseKey)
	if err != nil {
		return nil, err
	}
	if err := validateCount(req, 1, "Forward takes 1 tensor (inputs)"); err != nil {
		return nil, err
	}
	if err := checkInputs(syn, &req.Tensors[0]); err != nil {
		return nil, err
	}
	scope := torch.NewScope()
	defer scope.Close()
	inputs, modality, err := decodeInputs(&req.Tensors[0], s.a.cfg.Limits, scope)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "axon: inputs: %v", err)
	}
	var out *torch.Tensor
	err = synapse.Guard(syn, func() error {
		torch.NoGrad(func() { out, err = synapse.CallForward(syn, inputs, modality) })
		return err
	})
	if err != nil {
		return nil, synapse.Status(err)
	}
	return s.a.reply(req, out, bittensorpb.Modality_TENSOR)
}

// backward implements the Bittensor service's Backward: tensors = [inputs,
// gradient of the outputs]. The answer holds the gradient of the inputs when the inputs
// are float and marked requires_grad, and nothing otherwise. A
// NetworkLearner synapse learns from the gradient (its owner applies it at
// its next step); a Trainable one applies it to its parameters at once.
func (s axonService) backward(_ context.Context, req *wire.Incoming) (*wire.Outgoing, error) {
	syn, err := s.a.synapse(req.Header.SynapseKey)
	if err != nil {
		return nil, err
	}
	if err := validateCount(req, 2, "Backward takes 2 tensors (inputs, output gradient)"); err != nil {
		return nil, err
	}
	if err := checkInputs(syn, &req.Tensors[0]); err != nil {
		return nil, err
	}
	lim := s.a.cfg.Limits
	scope := torch.NewScope()
	defer scope.Close()
	inputs, modality, err := decodeInputs(&req.Tensors[0], lim, scope)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "axon: inputs: %v", err)
	}
	gradW := &req.Tensors[1]
	if dt := gradW.Header.DType; dt != bittensorpb.DataType_FLOAT32 && dt != bittensorpb.DataType_FLOAT64 {
		return nil, status.Errorf(codes.InvalidArgument, "axon: output gradient has dtype %v, want FLOAT32 or FLOAT64", dt)
	}
	if gradW.BadValues != nil {
		return nil, status.Errorf(codes.InvalidArgument, "axon: output gradient: %v", gradW.BadValues)
	}
	grad := scope.Track(gradW.Take())

	x, _ := inputs.(*torch.Tensor)
	wantGrad := x != nil && x.DType().IsFloat() && req.Tensors[0].Header.RequiresGrad
	if wantGrad {
		if err := x.SetRequiresGrad(true).Err(); err != nil {
			return nil, status.Errorf(codes.Internal, "axon: inputs: %v", err)
		}
	}
	var inGrad *torch.Tensor
	if trainable, ok := syn.(synapse.Trainable); ok {
		inGrad, err = synapse.TrainStep(trainable, inputs, modality, x, grad, wantGrad)
	} else {
		inGrad, err = synapse.Backward(syn, req.Header.NeuronKey, inputs, modality, x, grad, wantGrad)
	}
	if err != nil {
		return nil, err
	}
	if !wantGrad {
		return s.a.reply(req, nil, modality)
	}
	scope.Track(inGrad)
	return s.a.reply(req, inGrad, modality)
}

// validateCount checks that a request holds n tensors, or returns
// INVALID_ARGUMENT. (The wire codec checked each against the Limits.)
func validateCount(req *wire.Incoming, n int, what string) error {
	if len(req.Tensors) == 0 {
		return status.Errorf(codes.InvalidArgument, "axon: %v", wire.Malformedf("no tensors"))
	}
	if got := len(req.Tensors); got != n {
		return status.Errorf(codes.InvalidArgument, "axon: %s, got %d", what, got)
	}
	return nil
}

// reply encodes the answer to req holding out (nothing when out is nil):
// out's values are copied once, from its memory into the buffer gRPC sends.
func (a *Axon) reply(req *wire.Incoming, out *torch.Tensor, modality bittensorpb.Modality) (*wire.Outgoing, error) {
	h := wire.Header{SynapseKey: req.Header.SynapseKey}
	if out == nil {
		return wire.EncodeMessage(h, nil, nil, 0), nil
	}
	if modality == bittensorpb.Modality_TEXT {
		modality = bittensorpb.Modality_TENSOR
	}
	e, err := wire.EncodeTorch(a.pool, out, modality, false, false)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "axon: output: %v", err)
	}
	defer e.Free() // the message holds its own reference
	return wire.EncodeMessage(h, []wire.Encoded{e}, nil, 0), nil
}

// checkInputs answers INVALID_ARGUMENT for inputs in that are not finite or
// that do not fit what syn declares it accepts.
func checkInputs(syn synapse.Synapse, in *wire.IncomingTensor) error {
	if in.BadValues != nil {
		return status.Errorf(codes.InvalidArgument, "axon: inputs: %v", in.BadValues)
	}
	d, ok := syn.(synapse.InputDeclarer)
	if !ok {
		return nil
	}
	spec, ok := d.Inputs(in.Header.Modality)
	if !ok {
		return nil
	}
	if err := spec.Check(in.Wire()); err != nil {
		return status.Errorf(codes.InvalidArgument, "axon: synapse %s: %v", keys.Label(syn.Key()), err)
	}
	return nil
}

// decodeInputs turns a request's input tensor into what CallForward takes:
// strings for TEXT, its tensor (now in scope) otherwise.
func decodeInputs(in *wire.IncomingTensor, lim wire.Limits, scope *torch.Scope) (any, bittensorpb.Modality, error) {
	if in.Header.Modality == bittensorpb.Modality_TEXT {
		batch, err := wire.DecodeText(in.Wire(), lim)
		return batch, bittensorpb.Modality_TEXT, err
	}
	x := in.Take()
	if x == nil {
		return nil, 0, fmt.Errorf("serializer: %w", wire.Malformedf("a %v tensor is not numeric", in.Header.Modality))
	}
	return scope.Track(x), in.Header.Modality, nil
}
