package neuron

import (
	"context"
	"testing"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// The own synapse's answer taken from the local encoding, for some rows of
// the batch, equals the in-process call's answer to those rows, and the
// synapse learns the same parameter gradients from it (after a backward
// that also went through the local encoding, as a step's does), without
// encoding the batch again.
func TestOwnAnswerEqualsInProcessCall(t *testing.T) {
	torch.ManualSeed(5)
	model := &sharedTinyModel{encodeCounter{tinyModel: newTinyModel()}}
	tr, n, syn := startNeuronServing(t, testNeuronConfig(), model)
	own := synapseWithKey(n, syn.Key())
	if own == nil {
		t.Fatal("the neuron's metagraph lacks its own synapse")
	}
	x := tinyBatch().Inputs
	rows := []int64{1, 4, 6}
	weights := torch.FromFloat32(pseudoRandom(7, len(rows)*tinyContext), int64(len(rows)), tinyContext)
	params := nn.Parameters(model)
	// learned returns the parameter gradients the synapse applies (none
	// for the classifier, which Encode does not use) and clears them.
	learned := func() [][]float32 {
		t.Helper()
		if n, err := syn.RemoteGrads().Apply(); n != 1 || err != nil {
			t.Fatalf("Apply = %d, %v; want the caller's gradient", n, err)
		}
		out := make([][]float32, len(params))
		for i, p := range params {
			if g := p.Grad(); g != nil {
				out[i] = values(t, g)
			}
		}
		if err := tr.opt.ZeroGrad(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	s := torch.NewScope()
	defer s.Close()
	d := &Dispatch{Synapses: []*bittensorpb.Synapse{own}, batch: x.Size(0), rows: [][]int64{rows},
		examples: []*torch.Tensor{s.Track(torch.FromInt64(rows))}}
	local := model.ForwardLocal(x)
	o, shared, err := tr.answerOwn(s, d, 0, local.LocalOutput)
	if err != nil {
		t.Fatal(err)
	}
	if !o.retainsGraph() {
		t.Fatal("the own answer keeps no graph to learn from")
	}
	if err := shared.Mul(weights).Sum().Add(local.LocalTarget.Sum()).BackwardWith(nil, o.retainsGraph()); err != nil {
		t.Fatal(err)
	}
	if err := tr.opt.ZeroGrad(); err != nil { // the local path's gradients
		t.Fatal(err)
	}
	tr.learnOwn(o)
	sharedGrads := learned()
	if c := model.encodes.Load(); c != 0 {
		t.Fatalf("the shared answer encoded the batch %d times, want 0", c)
	}

	res, err := n.Dendrite.ForwardTensor(context.Background(), d.Synapses, []*torch.Tensor{x.IndexSelect(0, d.examples[0])})
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("in-process call: %v %v", err, res.Errs)
	}
	if err := res.Outputs[0].Mul(weights).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	calledGrads := learned()
	if !near(values(t, shared), values(t, res.Outputs[0])) {
		t.Errorf("answers: shared %v, in-process call %v", values(t, shared), values(t, res.Outputs[0]))
	}
	if sharedGrads[0] == nil {
		t.Fatal("the student learned nothing from the shared answer")
	}
	for i := range params {
		if !near(sharedGrads[i], calledGrads[i]) {
			t.Errorf("parameter %d learned %v from the shared answer, %v from the call", i, sharedGrads[i], calledGrads[i])
		}
	}
	if st := n.Dendrite.Stats()[syn.Key()]; st.Forwards != 2 || st.Backwards != 2 || st.ForwardFailures+st.BackwardFailures != 0 {
		t.Errorf("own synapse's stats %+v, want two Forwards and two Backwards, none failed", st)
	}
}
