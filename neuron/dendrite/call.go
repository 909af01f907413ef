package dendrite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc/mem"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// remoteCall is one synapse's share of a Dendrite call: the seed's
// RemoteSynapse and _RemoteModuleCall. Its forward sends the serialized
// inputs; its backward sends the output gradient with the inputs to the
// peer's Backward and returns the peer's input gradient. A call of a synapse
// this process serves runs both in-process instead.
type remoteCall struct {
	synapse  *bittensorpb.Synapse
	modality bittensorpb.Modality
	wire     *bittensorpb.Tensor // the serialized inputs, sent again by backward
	batch    int64               // the first dimension of the expected output
	input    *torch.Tensor       // the caller's input tensor; nil for TEXT
	text     []string            // the caller's inputs for TEXT
	local    synapse.Synapse     // the synapse called in-process; nil for a peer's
	// graph and leaf are an in-process forward's output with its autograd
	// graph and its input leaf (nil unless the input requires grad), which
	// the backward differentiates instead of running the forward again.
	graph, leaf *torch.Tensor

	// enc is the encoded inputs, with their digest, once the forward
	// encoded them: the backward sends the same bytes.
	enc     wire.Encoded
	encoded bool
}

// encode encodes the call's inputs (once: see enc).
func (c *remoteCall) encode(pool mem.BufferPool) error {
	if c.encoded {
		return nil
	}
	if c.wire != nil {
		c.enc = wire.EncodeWire(pool, c.wire, true)
	} else {
		e, err := wire.EncodeTorch(pool, c.input, c.modality, c.input.RequiresGrad(), true)
		if err != nil {
			return err
		}
		c.enc = e
	}
	c.encoded = true
	return nil
}

// release gives back the encoded inputs once no call will send them again.
func (c *remoteCall) release() {
	if c.encoded {
		c.enc.Free()
		c.enc, c.encoded = wire.Encoded{}, false
	}
}

// attach makes outs[i], the answers of calls[i] for every i in answered, one
// node of the caller's graph, replacing them in outs with the attached
// outputs. The node's backward sends the Backward calls of every output
// that got a gradient, all at once (as hivemind's _RemoteCallMany does), and
// returns when all of them answered or failed: a step waits for the slowest
// peer at most BackwardTimeout, once. A failed Backward leaves the inputs
// without a gradient from that peer, as if its output were a constant.
func (d *Dendrite) attach(calls []remoteCall, answered []int, outs []*torch.Tensor) error {
	if len(answered) == 0 {
		return nil
	}
	// A fresh dummy leaf that requires grad makes the outputs part of the
	// graph even when no input requires grad (raw images, text), so that
	// the backward runs and the peers learn from the caller's loss.
	graphInputs := []*torch.Tensor{torch.Zeros([]int64{1}).SetRequiresGrad(true)}
	inputOf := make([]int, len(answered)) // graph input of each answer's input; 0 for none
	for j, i := range answered {
		x := calls[i].input
		if x == nil || !x.RequiresGrad() {
			continue
		}
		k := slices.Index(graphInputs, x) // one call may share its input between synapses
		if k < 0 {
			k = len(graphInputs)
			graphInputs = append(graphInputs, x)
		}
		inputOf[j] = k
	}
	attachedOuts := make([]*torch.Tensor, len(answered))
	for j, i := range answered {
		attachedOuts[j] = outs[i]
	}
	// The encoded inputs go back to the pool after the one Backward that
	// sends them, or when the graph goes without one (a forward under
	// NoGrad, an output never differentiated); the two can run on different
	// threads, so a lock orders them.
	var releasing sync.Mutex
	release := func(c *remoteCall) {
		releasing.Lock()
		defer releasing.Unlock()
		c.release()
	}
	releaseAll := torch.OnRelease(func() {
		for _, i := range answered {
			release(&calls[i])
		}
	})
	attached, err := torch.CustomFunction(graphInputs, attachedOuts, func(gradOutputs []*torch.Tensor) ([]*torch.Tensor, error) {
		inGrads := make([]*torch.Tensor, len(answered))
		var wg sync.WaitGroup
		for j, i := range answered {
			c, key := &calls[i], calls[i].synapse.GetSynapseKey()
			if gradOutputs[j] == nil || !d.peers.callable(key) {
				continue // no gradient, or backed off since its Forward
			}
			wg.Go(func() {
				defer release(c) // no other Backward follows
				start := time.Now()
				var g *torch.Tensor
				var err error
				if c.local != nil {
					g, err = d.localBackward(c, gradOutputs[j], inputOf[j] > 0)
				} else {
					g, err = d.remoteBackward(c, gradOutputs[j], inputOf[j] > 0)
				}
				d.Record(key, true, time.Since(start), err)
				if err == nil {
					inGrads[j] = g
				}
			})
		}
		wg.Wait()
		grads := make([]*torch.Tensor, len(graphInputs))
		for j, g := range inGrads {
			if k := inputOf[j]; g != nil && k > 0 {
				if grads[k] == nil {
					grads[k] = g
				} else {
					grads[k] = grads[k].Add(g)
				}
			}
		}
		return grads, nil
	}, releaseAll)
	if err != nil {
		return fmt.Errorf("dendrite: attach outputs to the graph: %w", err)
	}
	for j, i := range answered {
		outs[i] = attached[j]
	}
	return nil
}

// remoteForward sends the inputs and returns the checked, decoded output.
func (d *Dendrite) remoteForward(ctx context.Context, c *remoteCall) (*torch.Tensor, error) {
	if err := c.encode(d.bufs); err != nil {
		return nil, fmt.Errorf("dendrite: inputs: %w", err)
	}
	peer := keys.Label(c.synapse.GetSynapseKey())
	want := []int64{c.batch, d.cfg.OutputDim}
	resp := d.newAnswer(func(m *wire.Incoming) error {
		if n := len(m.Tensors); n != 1 {
			return fmt.Errorf("dendrite: %s answered %d tensors, want 1: %w", peer, n, errBadAnswer)
		}
		if h := m.Tensors[0].Header; h.DType != bittensorpb.DataType_FLOAT32 || !slices.Equal(h.Shape, want) {
			return fmt.Errorf("dendrite: %s answered a %v %v tensor, want FLOAT32 %v: %w",
				peer, h.DType, h.Shape, want, errBadAnswer)
		}
		return nil
	})
	if err := d.call(ctx, c.synapse, false, d.cfg.Timeout, resp, c.enc); err != nil {
		return nil, err
	}
	defer resp.Free()
	w, err := d.answer(resp, peer, "output")
	if err != nil {
		return nil, err
	}
	out := w.Take().To(d.cfg.Device)
	return out, out.Err()
}

// answer returns the one tensor of a decoded answer, or why the answer is
// refused: it breaks the Limits, its metadata is not what was asked for, or
// its values are not finite or beyond MaxAbsValue.
func (d *Dendrite) answer(resp *wire.Incoming, peer, what string) (*wire.IncomingTensor, error) {
	if resp.Err != nil {
		if errors.Is(resp.Err, wire.ErrMalformed) {
			return nil, fmt.Errorf("dendrite: %s: %s: %w: %w", peer, what, errBadAnswer, resp.Err)
		}
		return nil, resp.Err
	}
	w := &resp.Tensors[0]
	if w.BadValues != nil {
		return nil, fmt.Errorf("dendrite: %s: %s: %w", peer, what, w.BadValues)
	}
	return w, nil
}

// remoteBackward sends the inputs and the output gradient and, when the
// caller's input needs it, returns the input gradient the peer computed.
func (d *Dendrite) remoteBackward(c *remoteCall, grad *torch.Tensor, wantGrad bool) (*torch.Tensor, error) {
	if err := c.encode(d.bufs); err != nil { // released after an earlier backward of the same graph
		return nil, fmt.Errorf("dendrite: inputs: %w", err)
	}
	gw, err := wire.EncodeTorch(d.bufs, grad, bittensorpb.Modality_TENSOR, grad.RequiresGrad(), true)
	if err != nil {
		return nil, fmt.Errorf("dendrite: output gradient: %w", err)
	}
	defer gw.Free()
	peer := keys.Label(c.synapse.GetSynapseKey())
	resp := d.newAnswer(func(m *wire.Incoming) error {
		if !wantGrad {
			return errNotWanted // nothing of the answer is used
		}
		if n := len(m.Tensors); n != 1 {
			return fmt.Errorf("dendrite: %s answered Backward with %d tensors, want 1: %w", peer, n, errBadAnswer)
		}
		h := m.Tensors[0].Header
		if !slices.Equal(h.Shape, c.input.Shape()) {
			return fmt.Errorf("dendrite: %s answered an input gradient of shape %v, want %v: %w",
				peer, h.Shape, c.input.Shape(), errBadAnswer)
		}
		if h.DType != bittensorpb.DataType_FLOAT32 && h.DType != bittensorpb.DataType_FLOAT64 {
			return fmt.Errorf("dendrite: %s answered an input gradient of dtype %v: %w", peer, h.DType, errBadAnswer)
		}
		return nil
	})
	err = d.call(d.life, c.synapse, true, d.cfg.BackwardTimeout, resp, c.enc, gw)
	if err != nil || !wantGrad {
		return nil, err
	}
	defer resp.Free()
	w, err := d.answer(resp, peer, "input gradient")
	if err != nil {
		return nil, err
	}
	g := w.Take().To(c.input.Device()).ToDType(c.input.DType())
	return g, g.Err()
}

// errNotWanted refuses an answer the caller does not use.
var errNotWanted = errors.New("answer not used")

// localForward runs an in-process call's forward as the Axon's Forward
// would, and checks its output as a peer's. With withGraph (the caller
// records autograd) and something for the backward to compute (an input
// gradient, or a NetworkLearner's parameter gradients), the forward keeps
// its graph for localBackward; the answer is detached either way.
func (d *Dendrite) localForward(c *remoteCall, withGraph bool) (*torch.Tensor, error) {
	learner, _ := c.local.(synapse.NetworkLearner)
	leaf := withGraph && c.input != nil && c.input.RequiresGrad()
	keep := leaf || (withGraph && learner != nil && len(learner.LearnParameters()) > 0)
	inputs := c.localInputs(leaf)
	var out *torch.Tensor
	err := synapse.Guard(c.local, func() error {
		var err error
		mode := torch.NoGrad
		if keep {
			mode = torch.EnableGrad
		}
		mode(func() { out, err = synapse.CallForward(c.local, inputs, c.modality) })
		return err
	})
	peer := keys.Label(c.synapse.GetSynapseKey())
	if err != nil {
		return nil, fmt.Errorf("dendrite: in-process %s: %w", peer, err)
	}
	if err := d.CheckInProcessAnswer(peer, out, c.batch); err != nil {
		return nil, err
	}
	if keep {
		c.graph = out
		if leaf {
			c.leaf = inputs.(*torch.Tensor)
		}
		out = out.Detach()
	}
	out = out.To(d.cfg.Device)
	return out, out.Err()
}

// localBackward runs an in-process call's backward as the Axon's Backward
// would (the synapse learns from grad), differentiating the graph its
// forward kept, and returns the input gradient when wantGrad.
func (d *Dendrite) localBackward(c *remoteCall, grad *torch.Tensor, wantGrad bool) (*torch.Tensor, error) {
	if c.graph == nil {
		return nil, nil // the forward found nothing for a backward to compute
	}
	// The graph is spent after this backward: release it now rather than
	// at garbage collection, which sees none of its (libtorch) memory. A
	// text call's graph belongs to no scope of the caller's step.
	defer func() { c.graph.Free(); c.graph = nil }()
	peer := keys.Label(c.synapse.GetSynapseKey())
	wantGrad = wantGrad && c.leaf != nil
	g, err := d.LearnInProcess(c.local, peer, c.graph, c.leaf, grad, wantGrad)
	if err != nil || !wantGrad {
		return nil, err
	}
	if err := wire.CheckTensor(g, d.cfg.MaxAbsValue); err != nil {
		return nil, fmt.Errorf("dendrite: in-process %s: input gradient: %w", peer, err)
	}
	g = g.To(c.input.Device()).ToDType(c.input.DType())
	return g, g.Err()
}

// localInputs returns the inputs of an in-process call as the synapse's
// forward takes them: the strings, or the input detached from the caller's
// graph (a leaf that requires grad when leaf is set).
func (c *remoteCall) localInputs(leaf bool) any {
	if c.modality == bittensorpb.Modality_TEXT {
		return c.text
	}
	x := c.input.Detach()
	if leaf {
		x = x.SetRequiresGrad(true)
	}
	return x
}

// CheckInProcessAnswer checks an in-process synapse's answer to batch examples
// as a peer's answer is checked: float32 [batch, OutputDim], values finite
// and within MaxAbsValue.
func (d *Dendrite) CheckInProcessAnswer(peer string, out *torch.Tensor, batch int64) error {
	want := []int64{batch, d.cfg.OutputDim}
	if out.DType() != torch.Float32 || !slices.Equal(out.Shape(), want) {
		return fmt.Errorf("dendrite: in-process %s answered a %v %v tensor, want float32 %v: %w",
			peer, out.DType(), out.Shape(), want, errBadAnswer)
	}
	if err := wire.CheckTensor(out, d.cfg.MaxAbsValue); err != nil {
		return fmt.Errorf("dendrite: in-process %s: output: %w", peer, err)
	}
	return nil
}

// LearnInProcess lets s, a synapse this process serves, learn from grad, the
// gradient of its answer whose graph is graph, as the Axon's Backward would
// (a NetworkLearner, with the Dendrite's key as the caller), and returns
// the gradient of leaf, its input, when wantGrad.
func (d *Dendrite) LearnInProcess(s synapse.Synapse, peer string, graph, leaf, grad *torch.Tensor, wantGrad bool) (*torch.Tensor, error) {
	if err := wire.CheckTensor(grad, math.Inf(1)); err != nil {
		return nil, fmt.Errorf("dendrite: in-process %s: output gradient: %w", peer, err)
	}
	learner, _ := s.(synapse.NetworkLearner)
	var params []*torch.Tensor
	if learner != nil {
		params = learner.LearnParameters()
	}
	if !wantGrad && len(params) == 0 {
		return nil, nil
	}
	var g *torch.Tensor
	err := synapse.Guard(s, func() error {
		var err error
		g, err = synapse.LearnFrom(learner, params, d.key.PublicHex(), graph, leaf, grad.Detach().To(graph.Device()), wantGrad)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dendrite: in-process %s: %w", peer, err)
	}
	return g, nil
}
