package trainer_test

import (
	"context"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/neurontest"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	"github.com/opentensor/bittensor-go/internal/testing/byzantine"
	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Deadlines of the honest neuron's Dendrite in these tests: short, so that a
// slow peer costs little, and far longer than a call on 127.0.0.1 takes.
const (
	byzantineForwardTimeout  = 300 * time.Millisecond
	byzantineBackwardTimeout = 300 * time.Millisecond
)

// withShortDeadlines gives n a fresh Dendrite with the tests' short deadlines.
func withShortDeadlines(t *testing.T, n *neuron.Neuron) {
	t.Helper()
	dcfg := dendrite.DefaultConfig()
	dcfg.OutputDim = fixture.TinyContext
	dcfg.Timeout, dcfg.BackwardTimeout = byzantineForwardTimeout, byzantineBackwardTimeout
	d, err := dendrite.New(n.Key, dcfg)
	if err != nil {
		t.Fatal(err)
	}
	old := n.Dendrite
	n.Dendrite = d // n.Close closes it
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
}

// startByzantinePeer starts a neuron whose only synapse misbehaves by mode,
// joined to the network through the Metagraph at bootstrap, as
// internal/testing/cmd/badpeer does.
func startByzantinePeer(t *testing.T, mode byzantine.Mode, bootstrap string) *byzantine.Synapse {
	t.Helper()
	cfg := neuron.DefaultConfig()
	cfg.MetagraphPeriod, cfg.MetagraphTTL = 50*time.Millisecond, time.Second
	cfg.Bootstrap = bootstrap
	key, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	// Far past the honest deadlines; Close ends the wait at cleanup.
	bad, err := byzantine.New(key.PublicHex(), mode, fixture.TinyContext, byzantine.WithDelay(time.Minute),
		byzantine.WithModality(bittensorpb.Modality_TENSOR)) // claims to fit the tiny neurons
	if err != nil {
		t.Fatal(err)
	}
	n, err := neuron.StartNeuron(context.Background(), cfg, fixture.TinyContext, torch.CPU, bad)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	t.Cleanup(bad.Close) // runs first: the Axon stops without waiting for slow answers
	return bad
}

// parameterValues returns every parameter of the trainer's model and router,
// by name.
func parameterValues(t *testing.T, tr *trainer.Trainer) map[string][]float32 {
	t.Helper()
	out := make(map[string][]float32)
	for name, p := range nn.StateDict(tr.TrainedModel()) {
		out["model."+name] = fixture.Floats(t, p)
	}
	for name, p := range nn.StateDict(tr.RoutedBy()) {
		out["router."+name] = fixture.Floats(t, p)
	}
	return out
}

// An honest neuron that routes every example to a byzantine peer as well as
// to itself keeps training: no step fails, every loss it reports is finite,
// its parameters stay finite and keep moving, and the bad peer's calls are
// counted as failed.
func TestTrainerSurvivesByzantinePeer(t *testing.T) {
	const steps = 30
	for _, mode := range byzantine.Modes() {
		t.Run(mode.String(), func(t *testing.T) {
			tr, n := neurontest.NewTrainer(t, "", func(n *neuron.Neuron) { withShortDeadlines(t, n) })
			bad := startByzantinePeer(t, mode, n.Metagraph.Addr())
			neurontest.AwaitSynapse(t, tr, n, bad.Key(), 20*time.Second)

			before := parameterValues(t, tr)
			ctx := context.Background()
			routed := 0
			for i := range steps {
				res, err := tr.Step(ctx, neurontest.TinyBatch())
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if !trainer.Finite(res.LocalLoss) || !trainer.Finite(res.TargetLoss) || !trainer.Finite(res.DistillationLoss) {
					t.Fatalf("step %d: losses local %v, target %v, distillation %v; want finite",
						i, res.LocalLoss, res.TargetLoss, res.DistillationLoss)
				}
				if res.Synapses == 2 {
					routed++
				}
			}
			if routed == 0 {
				t.Fatalf("no step routed to the bad peer (nS never 2)")
			}
			after := parameterValues(t, tr)
			moved := false
			for name, w := range after {
				for j, v := range w {
					if !trainer.Finite(float64(v)) {
						t.Fatalf("parameter %s[%d] = %v after %d steps with a %v peer", name, j, v, steps, mode)
					}
					moved = moved || v != before[name][j]
				}
			}
			if !moved {
				t.Errorf("no parameter moved in %d steps: the neuron stopped training", steps)
			}
			if bad.Calls() == 0 {
				t.Fatalf("the bad peer was never called")
			}
			st := n.Dendrite.Stats()[bad.Key()]
			if st.ForwardFailures+st.BackwardFailures == 0 {
				t.Errorf("%d calls to the %v peer, none counted failed: %+v", bad.Calls(), mode, st)
			}
		})
	}
}

// A peer's bad input gradient never reaches the caller's graph: the
// caller's inputs get a finite gradient (or none), and the Backward counts
// as failed.
func TestDendriteRefusesByzantineInputGradients(t *testing.T) {
	for _, mode := range []byzantine.Mode{byzantine.NaN, byzantine.Inf, byzantine.GradNaN, byzantine.Mixed} {
		t.Run(mode.String(), func(t *testing.T) {
			_, n := neurontest.NewTrainer(t, "", func(n *neuron.Neuron) { withShortDeadlines(t, n) })
			bad := startByzantinePeer(t, mode, n.Metagraph.Addr())
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// No trainer runs here; the gossip rounds alone bring the peer in.
			var syn *bittensorpb.Synapse
			eventually.True(t, 20*time.Second, func() bool {
				syn = neurontest.SynapseWithKey(n, bad.Key())
				return syn != nil
			}, "the bad synapse in the honest metagraph")
			// Mixed answers its first Forward with NaN; later calls rotate.
			for i := range 8 {
				s := torch.NewScope()
				x := s.Track(torch.Randn([]int64{4, fixture.TinyIn})).SetRequiresGrad(true)
				res, err := n.Dendrite.ForwardTensor(ctx, []*bittensorpb.Synapse{syn}, []*torch.Tensor{x})
				if err != nil {
					t.Fatal(err)
				}
				if err := res.Outputs[0].Square().Sum().Backward(); err != nil {
					// Only a failed call's zeros, which need no gradient, may refuse.
					if res.Errs[0] == nil {
						t.Fatalf("call %d: backward: %v", i, err)
					}
				}
				if g := x.Grad(); g != nil {
					for j, v := range fixture.Floats(t, g) {
						if !trainer.Finite(float64(v)) {
							t.Fatalf("call %d: input gradient [%d] = %v from the %v peer", i, j, v, mode)
						}
					}
				}
				s.Close()
			}
			st := n.Dendrite.Stats()[bad.Key()]
			if st.ForwardFailures+st.BackwardFailures == 0 {
				t.Errorf("8 calls to the %v peer, none counted failed: %+v", mode, st)
			}
		})
	}
}
