package mnist

import (
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/examples/internal/modeltest"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// Encode and Forward answer as the neuron expects (modeltest.CheckForward),
// and the distillation loss reaches the student.
func TestModelShapesAndLosses(t *testing.T) {
	torch.ManualSeed(1)
	m := NewModel()
	s := torch.NewScope()
	defer s.Close()
	images := s.Track(torch.Rand([]int64{4, 1, Rows, Cols}))
	labels := s.Track(torch.FromInt64([]int64{0, 3, 9, 1}))
	modeltest.CheckForward(t, m, images, labels, ContextDim, Classes)
	// The distillation loss trains the student.
	if !modeltest.Reaches(t, m.student1.Weight) {
		t.Fatal("the distillation loss does not reach the student")
	}
}

// The seed's optimiser fits a fixed batch: the loss falls.
func TestModelLearnsABatch(t *testing.T) {
	torch.ManualSeed(2)
	modeltest.CheckLearnsABatch(t, NewModel(), optim.SGDOptions{LR: 0.01, Momentum: 0.9},
		torch.Rand([]int64{16, 1, Rows, Cols}), torch.Randint(0, Classes, []int64{16}), 30)
}

// The served model declares its images, so the Axon refuses any other
// shape with INVALID_ARGUMENT instead of failing inside Reshape.
func TestServedModelDeclaresItsImages(t *testing.T) {
	modeltest.CheckServedImages(t, NewModel(), []int64{1, Rows, Cols}, [][]int64{{2, 3, 5}, {2, Pixels}, {2, 3, Rows, Cols}})
}

// The context read-out changes the network path's prediction only: the
// seed's layers are drawn as NewModel draws them, the local path, the served
// encoding and the seed's layers' gradients are the seed model's, and the
// read-out learns from the labels.
func TestContextReadoutChangesTheNetworkPathOnly(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	torch.ManualSeed(5)
	seed := NewModel()
	torch.ManualSeed(5)
	m := NewModelWith(ModelOptions{ContextReadout: true})
	if seed.readout != nil || m.readout == nil {
		t.Fatalf("read-out layers: seed %v, with the option %v", seed.readout, m.readout)
	}
	if got, want := len(nn.Parameters(m)), len(nn.Parameters(seed))+2; got != want {
		t.Fatalf("%d parameters with the read-out, want %d", got, want)
	}
	images := s.Track(torch.Rand([]int64{4, 1, Rows, Cols}))
	labels := s.Track(torch.FromInt64([]int64{0, 3, 9, 1}))
	network := s.Track(torch.Rand([]int64{4, ContextDim}))
	maxDiff := func(a, b *torch.Tensor) float64 {
		v, err := a.Sub(b).Abs().Max().Item()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if d := maxDiff(m.Encode(images), seed.Encode(images)); d != 0 {
		t.Fatalf("the served encoding differs from the seed model's by %v", d)
	}
	a, b := seed.Forward(images, network, labels), m.Forward(images, network, labels)
	if d := maxDiff(a.LocalTarget, b.LocalTarget); d != 0 {
		t.Fatalf("the local path differs from the seed model's by %v", d)
	}
	if d := maxDiff(a.NetworkTarget, b.NetworkTarget); d == 0 {
		t.Fatal("the read-out leaves the network path's prediction as it was")
	}
	if d := maxDiff(b.NetworkTarget.Exp().Sum(1), s.Track(torch.Ones([]int64{4}))); d > 1e-5 {
		t.Fatalf("the network path's probabilities sum to 1±%v", d)
	}
	for _, o := range []*synapse.Output{a, b} {
		if err := o.Loss.Backward(); err != nil {
			t.Fatal(err)
		}
	}
	if m.readout.Weight.Grad() == nil {
		t.Fatal("the loss does not reach the read-out")
	}
	seedParams := nn.NamedParameters(seed)
	for name, p := range nn.NamedParameters(m) {
		if strings.HasPrefix(name, "context_readout.") {
			continue
		}
		if d := maxDiff(p.Grad(), seedParams[name].Grad()); d > 1e-6 {
			t.Errorf("%s's gradient differs from the seed model's by %v", name, d)
		}
	}
	// A checkpoint of either choice is refused by the other, naming the flag.
	for _, c := range []struct {
		name       string
		into, from *Model
	}{{"the seed model's state into the read-out model", m, seed}, {"the read-out model's state into the seed model", seed, m}} {
		err := nn.CheckStateDict(c.into, nn.StateDict(c.from))
		if err == nil || !strings.Contains(err.Error(), "context_readout") {
			t.Errorf("%s: %v, want an error naming context_readout", c.name, err)
		}
	}
}
