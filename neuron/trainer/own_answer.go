package trainer

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/synapse"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// ownAnswer is the neuron's own synapse's answer to one step's query when
// it is taken from the step's local encoding instead of being computed
// again by an in-process call (see Trainer.ownIndex). The answer is the
// same tensor (a SharedEncodingModel's Encode is its local path's
// encoding), and the synapse learns from its gradient as from the
// in-process call's backward: after the step's backward, through the local
// encoding's graph, which that backward kept.
type ownAnswer struct {
	key string
	// graph holds the routed rows of the local encoding with their graph;
	// nil when nothing learns from the answer (no graph, or a synapse that
	// does not learn from its callers).
	graph *torch.Tensor
	// grad is the gradient the step's loss gives the answer, set by the
	// backward of the node the answer is attached through (in the step's
	// scope).
	grad atomic.Pointer[torch.Tensor]
}

// ownIndex returns the index of the neuron's own synapse among d's synapses
// when its answer can be taken from encoding, the step's local encoding of
// x, and -1 otherwise. It can when the model is a SharedEncodingModel (so
// Encode(x) is that encoding), the Dendrite calls the synapse in-process,
// and the inputs are tensors that need no gradient (a TEXT synapse
// tokenizes the strings itself; an input gradient needs a graph of its own).
func (t *Trainer) ownIndex(d *router.Dispatch, x *torch.Tensor) int {
	if _, ok := t.model.(synapse.SharedEncodingModel); !ok || x.RequiresGrad() ||
		t.synapse.Modality() == bittensorpb.Modality_TEXT {
		return -1
	}
	key := t.synapse.Key()
	if s, ok := t.net.Dendrite.InProcess(key).(*synapse.Local); !ok || s != t.synapse {
		return -1
	}
	return slices.IndexFunc(d.Synapses, func(s *bittensorpb.Synapse) bool { return s.GetSynapseKey() == key })
}

// answerOwn returns the answer of the own synapse (key) to the routed rows
// of a batch of batchSize (examples holds them as an index tensor), taken
// from encoding: detached, checked as an in-process
// answer is, and attached to the graph through a node whose backward keeps
// the gradient for learnOwn. On failure it returns the zeros a failed call
// answers, and the error. The Dendrite counts the call.
func (t *Trainer) answerOwn(s *torch.Scope, key string, routed []int64, examples *torch.Tensor, batchSize int64, encoding *torch.Tensor) (*ownAnswer, *torch.Tensor, error) {
	start := time.Now()
	o := &ownAnswer{key: key}
	rows := encoding
	if !allRowsInOrder(routed, batchSize) {
		rows = s.Track(encoding.IndexSelect(0, examples))
	}
	dendrite := t.net.Dendrite
	answer := s.Track(rows.Detach())
	batch := int64(len(routed))
	err := dendrite.CheckInProcessAnswer(keys.Label(o.key), answer, batch)
	dendrite.Record(o.key, false, time.Since(start), err)
	if err != nil {
		zeros := torch.Zeros([]int64{batch, dendrite.OutputDim()}, torch.WithDevice(dendrite.Device()))
		return nil, s.Track(zeros), err
	}
	if !torch.GradEnabled() || !rows.RequiresGrad() || len(t.synapse.LearnParameters()) == 0 {
		return o, answer, nil
	}
	o.graph = rows
	leaf := s.Track(torch.Zeros([]int64{1}).SetRequiresGrad(true))
	attached, err := torch.CustomFunction([]*torch.Tensor{leaf}, []*torch.Tensor{answer}, func(g []*torch.Tensor) ([]*torch.Tensor, error) {
		if g[0] != nil { // freed when the callback returns: keep a handle in the step's scope
			o.grad.Store(s.Track(g[0].Detach()))
		}
		return []*torch.Tensor{nil}, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("trainer: attach the own answer to the graph: %w", err)
	}
	return o, s.Track(attached[0]), nil
}

// allRowsInOrder reports whether rows are 0, 1, …, batch-1.
func allRowsInOrder(rows []int64, batch int64) bool {
	if int64(len(rows)) != batch {
		return false
	}
	for i, r := range rows {
		if r != int64(i) {
			return false
		}
	}
	return true
}

// retainsGraph reports whether the step's backward must keep the graph for
// learnOwn.
func (o *ownAnswer) retainsGraph() bool { return o != nil && o.graph != nil }

// learnOwn lets the own synapse learn from the gradient the step's backward
// gave its answer, as the in-process call's backward would (the Dendrite's
// key is the caller, the gradient clipped and weighted by RemoteGrads), and
// counts the backward call. It runs after that backward, which kept the
// graph; a failure is the call's, counted, not the step's.
func (t *Trainer) learnOwn(o *ownAnswer) {
	if o == nil || o.graph == nil {
		return
	}
	g := o.grad.Load()
	if g == nil {
		return // the loss does not reach the answer
	}
	start := time.Now()
	d := t.net.Dendrite
	_, err := d.LearnInProcess(t.synapse, keys.Label(o.key), o.graph, nil, g, false)
	d.Record(o.key, true, time.Since(start), err)
}
