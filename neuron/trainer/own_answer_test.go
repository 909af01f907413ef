package trainer_test

import (
	"context"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/neurontest"

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
	model := &sharedTinyModel{encodeCounter{TinyModel: fixture.NewTinyModel()}}
	tr, n, syn := neurontest.StartNeuronServing(t, neurontest.Config(), model)
	own := neurontest.SynapseWithKey(n, syn.Key())
	if own == nil {
		t.Fatal("the neuron's metagraph lacks its own synapse")
	}
	x := neurontest.TinyBatch().Inputs
	rows := []int64{1, 4, 6}
	weights := torch.FromFloat32(fixture.PseudoRandom(7, len(rows)*fixture.TinyContext), int64(len(rows)), fixture.TinyContext)
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
				out[i] = fixture.Values(t, g)
			}
		}
		if err := tr.Opt().ZeroGrad(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	s := torch.NewScope()
	defer s.Close()
	examples := s.Track(torch.FromInt64(rows))
	local := model.ForwardLocal(x)
	o, shared, err := tr.AnswerOwn(s, own.GetSynapseKey(), rows, examples, x.Size(0), local.LocalOutput)
	if err != nil {
		t.Fatal(err)
	}
	if !o.RetainsGraph() {
		t.Fatal("the own answer keeps no graph to learn from")
	}
	if err := shared.Mul(weights).Sum().Add(local.LocalTarget.Sum()).BackwardWith(nil, o.RetainsGraph()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Opt().ZeroGrad(); err != nil { // the local path's gradients
		t.Fatal(err)
	}
	tr.LearnOwn(o)
	sharedGrads := learned()
	if c := model.encodes.Load(); c != 0 {
		t.Fatalf("the shared answer encoded the batch %d times, want 0", c)
	}

	res, err := n.Dendrite.ForwardTensor(context.Background(), []*bittensorpb.Synapse{own}, []*torch.Tensor{x.IndexSelect(0, examples)})
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("in-process call: %v %v", err, res.Errs)
	}
	if err := res.Outputs[0].Mul(weights).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	calledGrads := learned()
	if !fixture.Near(fixture.Values(t, shared), fixture.Values(t, res.Outputs[0])) {
		t.Errorf("answers: shared %v, in-process call %v", fixture.Values(t, shared), fixture.Values(t, res.Outputs[0]))
	}
	if sharedGrads[0] == nil {
		t.Fatal("the student learned nothing from the shared answer")
	}
	for i := range params {
		if !fixture.Near(sharedGrads[i], calledGrads[i]) {
			t.Errorf("parameter %d learned %v from the shared answer, %v from the call", i, sharedGrads[i], calledGrads[i])
		}
	}
	if st := n.Dendrite.Stats()[syn.Key()]; st.Forwards != 2 || st.Backwards != 2 || st.ForwardFailures+st.BackwardFailures != 0 {
		t.Errorf("own synapse's stats %+v, want two Forwards and two Backwards, none failed", st)
	}
}
