package neuron

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// remoteCall is one synapse's share of a Dendrite call: the seed's
// RemoteSynapse and _RemoteModuleCall. Its forward sends the serialized inputs;
// the output it returns is a node of the caller's autograd graph whose
// backward sends the output gradient with the inputs to the peer's Backward
// and returns the peer's input gradient.
type remoteCall struct {
	synapse  *bittensorpb.Synapse
	modality bittensorpb.Modality
	wire     *bittensorpb.Tensor // the serialized inputs, sent again by backward
	batch    int64               // the first dimension of the expected output
	input    *torch.Tensor       // the caller's input tensor; nil for TEXT
}

// attach makes out, the peer's answer to c, a node of the caller's graph.
func (d *Dendrite) attach(c *remoteCall, out *torch.Tensor) (*torch.Tensor, error) {
	key := c.synapse.GetSynapseKey()
	// A fresh dummy leaf that requires grad makes the output part of the graph
	// even when the inputs do not require grad (raw images, text), so that its
	// backward runs and the peer learns from the caller's loss.
	dummy := torch.Zeros([]int64{1}).SetRequiresGrad(true)
	graphInputs := []*torch.Tensor{dummy}
	withInput := c.input != nil && c.input.RequiresGrad()
	if withInput {
		graphInputs = append(graphInputs, c.input)
	}
	attached, err := torch.CustomFunction(graphInputs, []*torch.Tensor{out}, func(gradOutputs []*torch.Tensor) ([]*torch.Tensor, error) {
		grads := make([]*torch.Tensor, len(graphInputs))
		if gradOutputs[0] == nil {
			return grads, nil
		}
		if !d.peers.callable(key) {
			// Backed off since its Forward: not worth a deadline.
			return grads, nil
		}
		start := time.Now()
		g, err := d.remoteBackward(c, gradOutputs[0], withInput)
		d.peers.record(key, true, time.Since(start), err)
		if err == nil && withInput {
			grads[1] = g
		}
		// A failed Backward leaves the inputs without a gradient from this
		// peer, as if its output were a constant; training goes on.
		return grads, nil
	})
	if err != nil {
		return nil, fmt.Errorf("dendrite: attach output to the graph: %w", err)
	}
	return attached[0], nil
}

// remoteForward sends the inputs and returns the checked, decoded output.
func (d *Dendrite) remoteForward(ctx context.Context, c *remoteCall) (*torch.Tensor, error) {
	if c.wire == nil {
		w, err := SerializeTensor(c.input, c.modality)
		if err != nil {
			return nil, fmt.Errorf("dendrite: inputs: %w", err)
		}
		c.wire = w
	}
	resp, err := d.call(ctx, c.synapse, false, d.cfg.Timeout, c.wire)
	if err != nil {
		return nil, err
	}
	peer := shortKey(c.synapse.GetSynapseKey())
	if n := len(resp.GetTensors()); n != 1 {
		return nil, fmt.Errorf("dendrite: %s answered %d tensors, want 1: %w", peer, n, errBadAnswer)
	}
	w := resp.GetTensors()[0]
	want := []int64{c.batch, d.cfg.OutputDim}
	if w.GetDtype() != bittensorpb.DataType_FLOAT32 || !slices.Equal(w.GetShape(), want) {
		return nil, fmt.Errorf("dendrite: %s answered a %v %v tensor, want FLOAT32 %v: %w",
			peer, w.GetDtype(), w.GetShape(), want, errBadAnswer)
	}
	if err := d.checkAnswer(w); err != nil {
		return nil, fmt.Errorf("dendrite: %s: output: %w", peer, err)
	}
	out, err := DeserializeTensor(w, d.cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("dendrite: %s: output: %w", peer, err)
	}
	out = out.To(d.cfg.Device)
	return out, out.Err()
}

// remoteBackward sends the inputs and the output gradient and, when the
// caller's input needs it, returns the input gradient the peer computed.
func (d *Dendrite) remoteBackward(c *remoteCall, grad *torch.Tensor, wantGrad bool) (*torch.Tensor, error) {
	gw, err := SerializeTensor(grad, bittensorpb.Modality_TENSOR)
	if err != nil {
		return nil, fmt.Errorf("dendrite: output gradient: %w", err)
	}
	resp, err := d.call(d.life, c.synapse, true, d.cfg.BackwardTimeout, c.wire, gw)
	if err != nil || !wantGrad {
		return nil, err
	}
	peer := shortKey(c.synapse.GetSynapseKey())
	if n := len(resp.GetTensors()); n != 1 {
		return nil, fmt.Errorf("dendrite: %s answered Backward with %d tensors, want 1: %w", peer, n, errBadAnswer)
	}
	w := resp.GetTensors()[0]
	if !slices.Equal(w.GetShape(), c.input.Shape()) {
		return nil, fmt.Errorf("dendrite: %s answered an input gradient of shape %v, want %v: %w",
			peer, w.GetShape(), c.input.Shape(), errBadAnswer)
	}
	if dt := w.GetDtype(); dt != bittensorpb.DataType_FLOAT32 && dt != bittensorpb.DataType_FLOAT64 {
		return nil, fmt.Errorf("dendrite: %s answered an input gradient of dtype %v: %w", peer, dt, errBadAnswer)
	}
	if err := d.checkAnswer(w); err != nil {
		return nil, fmt.Errorf("dendrite: %s: input gradient: %w", peer, err)
	}
	g, err := DeserializeTensor(w, d.cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("dendrite: %s: input gradient: %w", peer, err)
	}
	g = g.To(c.input.Device()).ToDType(c.input.DType())
	return g, g.Err()
}

// checkAnswer validates a peer's answer w and checks that its values are
// finite and within MaxAbsValue.
func (d *Dendrite) checkAnswer(w *bittensorpb.Tensor) error {
	if err := ValidateTensor(w, d.cfg.Limits); err != nil {
		return fmt.Errorf("%w: %w", errBadAnswer, err)
	}
	return CheckValues(w, d.cfg.MaxAbsValue)
}
