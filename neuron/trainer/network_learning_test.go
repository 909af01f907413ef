package trainer_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/nettest"
	"github.com/opentensor/bittensor-go/neuron/internal/neurontest"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// learningSynapse is a linearSynapse that learns from its callers the way a
// synapse.Local does: a NetworkLearner collecting into a RemoteGrads.
type learningSynapse struct {
	*fixture.LinearSynapse
	remote *synapse.RemoteGrads
	mu     sync.RWMutex
}

func newLearningSynapse(t *testing.T, seed byte, cfg synapse.RemoteGradConfig) *learningSynapse {
	t.Helper()
	s := fixture.NewLinearSynapse(t, seed)
	remote, err := synapse.NewRemoteGrads([]*torch.Tensor{s.W, s.B}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &learningSynapse{LinearSynapse: s, remote: remote}
}

func (s *learningSynapse) Guard(fn func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn()
}

func (s *learningSynapse) LearnParameters() []*torch.Tensor { return s.remote.Parameters() }

func (s *learningSynapse) Learn(caller string, grads []*torch.Tensor) error {
	return s.remote.Add(caller, grads)
}

// localParamGrads returns the gradients of weightedSum(forward()) with
// respect to s's parameters, computed in this process.
func localParamGrads(t *testing.T, s *learningSynapse, forward func() (*torch.Tensor, error)) []*torch.Tensor {
	t.Helper()
	y, err := forward()
	if err != nil {
		t.Fatal(err)
	}
	g, err := torch.Grad([]*torch.Tensor{fixture.WeightedSum(t, y)}, []*torch.Tensor{s.W, s.B}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// A served synapse's parameters learn only from Backward, in every
// modality, including those whose inputs need no gradient (images, text):
// Forward calls leave nothing to apply, a Backward leaves the caller's
// gradient, clipped to MaxNorm, and the owner's Apply adds it to the
// parameters' gradients, without touching the parameters themselves.
func TestServedSynapseLearnsOnlyFromBackward(t *testing.T) {
	cases := []struct {
		name string
		call func(d *dendrite.Dendrite, defs []*bittensorpb.Synapse) (dendrite.Responses, error)
		// local computes the synapse's output on the same inputs here.
		local func(s *learningSynapse) (*torch.Tensor, error)
	}{
		{"tensor", func(d *dendrite.Dendrite, defs []*bittensorpb.Synapse) (dendrite.Responses, error) {
			return d.ForwardTensor(context.Background(), defs, []*torch.Tensor{torch.FromFloat32(fixture.PseudoRandom(3, 4*fixture.In), 4, fixture.In)})
		}, func(s *learningSynapse) (*torch.Tensor, error) {
			return s.ForwardTensor(torch.FromFloat32(fixture.PseudoRandom(3, 4*fixture.In), 4, fixture.In))
		}},
		{"image", func(d *dendrite.Dendrite, defs []*bittensorpb.Synapse) (dendrite.Responses, error) {
			return d.ForwardImage(context.Background(), defs, []*torch.Tensor{torch.FromFloat32(fixture.PseudoRandom(4, 4*fixture.In), 4, 1, 2, 3)})
		}, func(s *learningSynapse) (*torch.Tensor, error) {
			return s.ForwardImage(torch.FromFloat32(fixture.PseudoRandom(4, 4*fixture.In), 4, 1, 2, 3))
		}},
		{"text", func(d *dendrite.Dendrite, defs []*bittensorpb.Synapse) (dendrite.Responses, error) {
			return d.ForwardText(context.Background(), defs, [][]string{{"a", "bb", "ccc", "dddd"}})
		}, func(s *learningSynapse) (*torch.Tensor, error) {
			return s.ForwardText([]string{"a", "bb", "ccc", "dddd"})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := synapse.DefaultRemoteGradConfig()
			cfg.MaxNorm = 0.5
			syn := newLearningSynapse(t, 9, cfg)
			_, defs := nettest.StartAxon(t, nettest.AxonConfig(), syn)
			d := nettest.NewDendrite(t, 10*time.Second)
			w0 := fixture.Values(t, syn.W)

			for range 3 { // forwards, with and without a graph, and no backward
				if _, err := c.call(d, defs); err != nil {
					t.Fatal(err)
				}
			}
			torch.NoGrad(func() {
				if _, err := c.call(d, defs); err != nil {
					t.Fatal(err)
				}
			})
			if n, err := syn.remote.Apply(); n != 0 || err != nil || syn.W.Grad() != nil {
				t.Fatalf("after forwards alone Apply = %d, %v and the weight has a gradient", n, err)
			}

			res, err := c.call(d, defs)
			if err != nil || res.Errs[0] != nil {
				t.Fatalf("forward: %v %v", err, res.Errs)
			}
			if err := fixture.WeightedSum(t, res.Outputs[0]).Backward(); err != nil {
				t.Fatal(err)
			}
			if n, err := syn.remote.Apply(); n != 1 || err != nil {
				t.Fatalf("after a Backward Apply = %d, %v; want 1 caller", n, err)
			}
			want := localParamGrads(t, syn, func() (*torch.Tensor, error) { return c.local(syn) })
			norm, err := gradNorm(want)
			if err != nil {
				t.Fatal(err)
			}
			scale := min(1, cfg.MaxNorm/norm)
			fixture.AssertClose(t, "applied weight gradient", syn.W.Grad(), want[0].MulScalar(scale), 1e-5)
			fixture.AssertClose(t, "applied bias gradient", syn.B.Grad(), want[1].MulScalar(scale), 1e-5)
			if got := fixture.Values(t, syn.W); !fixture.Near(got, w0) {
				t.Fatal("the parameters changed before the owner's step")
			}
		})
	}
}

// A caller's gradient that is not finite (a synapse that overflows on it)
// is refused with INVALID_ARGUMENT and trains nothing.
func TestBackwardRefusesNonFiniteParameterGradient(t *testing.T) {
	syn := newLearningSynapse(t, 10, synapse.DefaultRemoteGradConfig())
	_, defs := nettest.StartAxon(t, nettest.AxonConfig(), syn)
	d := nettest.NewDendrite(t, 10*time.Second)
	// An output gradient of 3e38 per element is finite, but the bias
	// gradient, its sum over the batch, overflows float32.
	x := torch.FromFloat32(fixture.PseudoRandom(12, 4*fixture.In), 4, fixture.In)
	res, err := d.ForwardTensor(context.Background(), defs, []*torch.Tensor{x})
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("forward: %v %v", err, res.Errs)
	}
	if err := res.Outputs[0].MulScalar(3e38).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if st := syn.remote.Stats(); st.Refused != 1 || st.Accepted != 0 {
		t.Fatalf("stats %+v, want one refused gradient", st)
	}
	if n, _ := syn.remote.Apply(); n != 0 {
		t.Fatalf("a refused gradient was applied (%d callers)", n)
	}
	if st := d.Stats()[syn.Key()]; st.BackwardFailures != 1 {
		t.Fatalf("dendrite stats %+v, want the Backward failed", st)
	}
}

// contextModel is a tinyModel whose network path classifies from the
// network's context alone, so that what the network serves decides its
// network loss.
type contextModel struct{ *fixture.TinyModel }

func (m contextModel) Forward(x, network, targets *torch.Tensor) *synapse.Output {
	out := m.TinyModel.Forward(x, network, targets)
	out.NetworkOutput = network
	out.NetworkTarget = m.Classifier.Forward(network).LogSoftmax(1)
	out.NetworkTargetLoss = torch.NLLLoss(out.NetworkTarget, targets, torch.ReduceMean)
	out.Loss = out.LocalTargetLoss.Add(out.NetworkTargetLoss).Add(out.DistillationLoss)
	return out
}

// A neuron that only serves, with no training data of its own, learns from
// the gradients of the neuron that calls it: after A trained with it, A's
// network path through B alone does far better with B's synapse as it now is
// than with B's synapse as it started. B's parameters changed only by A's
// Backward calls.
func TestServeOnlyNeuronLearnsFromItsCaller(t *testing.T) {
	torch.ManualSeed(7)
	cfgB := neurontest.Config()
	cfgB.ServeOnly = true
	trB, nB, synB := neurontest.StartNeuronServing(t, cfgB, contextModel{fixture.NewTinyModel()})
	initialB := make(map[string]*torch.Tensor)
	for name, p := range nn.StateDict(synB.Model()) {
		initialB[name] = p.Detach().Clone()
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- trB.Serve(ctx) }()
	stopB := func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("B's Serve: %v", err)
		}
	}
	defer func() {
		if ctx.Err() == nil {
			stopB()
		}
	}()

	torch.ManualSeed(5)
	cfgA := neurontest.Config()
	cfgA.Bootstrap = nB.Metagraph.Addr()
	trA, nA, _ := neurontest.StartNeuronServing(t, cfgA, contextModel{fixture.NewTinyModel()})
	neurontest.AwaitSynapse(t, trA, nA, synB.Key(), 10*time.Second)
	for i := range 300 {
		if _, err := trA.Step(context.Background(), neurontest.TinyBatch()); err != nil {
			t.Fatalf("A's step %d: %v", i, err)
		}
	}
	stopB()
	st := synB.RemoteGrads().Stats()
	if st.Steps < 100 || st.Refused != 0 {
		t.Fatalf("B's remote gradient stats %+v: want at least 100 steps from A's gradients", st)
	}

	torch.ManualSeed(11)
	eval := make([]trainer.Batch, 8)
	for i := range eval {
		eval[i] = neurontest.TinyBatch()
	}
	// The network path through B alone: B's answer is the context.
	onlyB := []*bittensorpb.Synapse{neurontest.SynapseWithKey(nA, synB.Key())}
	networkLoss := func() float64 {
		var sum float64
		for _, b := range eval {
			torch.NoGrad(func() {
				s := torch.NewScope()
				defer s.Close()
				x, y := s.Track(b.Inputs.Clone()), s.Track(b.Targets.Clone())
				network, dispatch, res, err := trA.Query(context.Background(), s, onlyB, trA.TrainedModel().Encode(x), x)
				if err != nil {
					t.Fatal(err)
				}
				defer dispatch.Close()
				if res.Failed() != 0 {
					t.Fatalf("evaluation calls failed: %v", res.Errs)
				}
				l, err := trA.TrainedModel().Forward(x, network, y).NetworkTargetLoss.Item()
				if err != nil {
					t.Fatal(err)
				}
				sum += l
			})
		}
		return sum / float64(len(eval))
	}
	trained := networkLoss()
	if err := synB.Update(func() error { return nn.LoadStateDict(synB.Model(), initialB) }); err != nil {
		t.Fatal(err)
	}
	untrained := networkLoss()
	t.Logf("A's network target loss with B trained by A: %.4f; with B as it started: %.4f", trained, untrained)
	if math.IsNaN(trained) || !(trained < 0.5*untrained) {
		t.Fatalf("A's network loss is %.4f with B's trained synapse and %.4f with its initial one: B did not learn from A",
			trained, untrained)
	}
}

// A synapse this process serves, called in-process, gives the outputs, the
// input gradients and the parameter gradients it learns that the same call
// over the wire gives, and sends nothing to the Axon.
func TestInProcessCallEqualsWire(t *testing.T) {
	syn := newLearningSynapse(t, 13, synapse.DefaultRemoteGradConfig())
	a, defs := nettest.StartAxon(t, nettest.AxonConfig(), syn)
	wire := nettest.NewDendrite(t, 10*time.Second)
	inProcess := nettest.NewDendrite(t, 10*time.Second)
	inProcess.CallInProcess(syn)

	type result struct{ out, xGrad, wGrad, synW, synB []float32 }
	run := func(d *dendrite.Dendrite) result {
		x, w := fixture.TwoLayer(t, 21)
		res, err := d.ForwardTensor(context.Background(), defs, []*torch.Tensor{x.Matmul(w)})
		if err != nil || res.Errs[0] != nil {
			t.Fatalf("forward: %v %v", err, res.Errs)
		}
		if err := fixture.WeightedSum(t, res.Outputs[0]).Backward(); err != nil {
			t.Fatal(err)
		}
		if n, err := syn.remote.Apply(); n != 1 || err != nil {
			t.Fatalf("Apply = %d, %v; want the caller's gradient", n, err)
		}
		r := result{fixture.Values(t, res.Outputs[0]), fixture.Values(t, x.Grad()), fixture.Values(t, w.Grad()),
			fixture.Values(t, syn.W.Grad()), fixture.Values(t, syn.B.Grad())}
		if err := errors.Join(syn.W.ZeroGrad(), syn.B.ZeroGrad()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	overWire := run(wire)
	requests := a.Stats().Requests
	local := run(inProcess)
	if got := a.Stats().Requests; got != requests {
		t.Fatalf("the in-process call sent %d requests to the Axon", got-requests)
	}
	for _, c := range []struct {
		name      string
		got, want []float32
	}{
		{"outputs", local.out, overWire.out},
		{"input gradient", local.xGrad, overWire.xGrad},
		{"caller's weight gradient", local.wGrad, overWire.wGrad},
		{"synapse's weight gradient", local.synW, overWire.synW},
		{"synapse's bias gradient", local.synB, overWire.synB},
	} {
		if !fixture.Near(c.got, c.want) {
			t.Errorf("%s: in-process %v, over the wire %v", c.name, c.got, c.want)
		}
	}
	if st := inProcess.Stats()[syn.Key()]; st.Forwards != 1 || st.Backwards != 1 || st.ForwardFailures+st.BackwardFailures != 0 {
		t.Errorf("in-process stats %+v, want one Forward and one Backward, neither failed", st)
	}
}

// gradNorm returns the 2-norm of all of grads together.
func gradNorm(grads []*torch.Tensor) (float64, error) {
	var sq float64
	for _, g := range grads {
		if g == nil {
			continue
		}
		n, err := g.Norm().Item()
		if err != nil {
			return 0, err
		}
		sq += n * n
	}
	return math.Sqrt(sq), nil
}
