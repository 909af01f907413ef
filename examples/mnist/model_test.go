package mnist

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	bittensorpb "github.com/opentensor/bittensor-go/proto"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

func TestModelShapesAndLosses(t *testing.T) {
	torch.ManualSeed(1)
	m := NewModel()
	s := torch.NewScope()
	defer s.Close()
	images := s.Track(torch.Rand([]int64{4, 1, Rows, Cols}))
	labels := s.Track(torch.FromInt64([]int64{0, 3, 9, 1}))
	network := s.Track(torch.Rand([]int64{4, ContextDim}))

	if got := m.Encode(images).Shape(); !slices.Equal(got, []int64{4, ContextDim}) {
		t.Fatalf("Encode shape %v, want [4 %d]", got, ContextDim)
	}
	local := m.Forward(images, nil, labels)
	if local.NetworkOutput != nil || local.DistillationLoss != nil || local.Loss == nil {
		t.Fatalf("local-only forward: %+v", local)
	}
	out := m.Forward(images, network, labels)
	for name, x := range map[string]*torch.Tensor{"local target": out.LocalTarget, "network target": out.NetworkTarget} {
		if got := x.Shape(); !slices.Equal(got, []int64{4, Classes}) {
			t.Fatalf("%s shape %v", name, got)
		}
		// Log-probabilities: each row's probabilities sum to 1.
		probs, err := x.Exp().Sum(1).Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range probs {
			if math.Abs(float64(p)-1) > 1e-4 {
				t.Fatalf("%s rows sum to %v in probability", name, probs)
			}
		}
	}
	item := func(x *torch.Tensor) float64 {
		v, err := x.Item()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sum := item(out.LocalTargetLoss) + item(out.NetworkTargetLoss) + item(out.DistillationLoss)
	if math.Abs(item(out.Loss)-sum) > 1e-4 {
		t.Fatalf("loss %v, want the sum of the three losses %v", item(out.Loss), sum)
	}
	// The distillation loss trains the student only: no gradient reaches the network context.
	network.SetRequiresGrad(true)
	if err := m.Forward(images, network, labels).DistillationLoss.Backward(); err != nil {
		t.Fatal(err)
	}
	if g := network.Grad(); g != nil {
		if v, _ := g.Abs().Sum().Item(); v != 0 {
			t.Fatalf("distillation loss sends gradient %v into the network context", v)
		}
	}
	if g := m.student1.Weight.Grad(); g == nil {
		t.Fatal("distillation loss does not reach the student")
	}
}

// The seed's optimiser fits a fixed batch: the loss falls.
func TestModelLearnsABatch(t *testing.T) {
	torch.ManualSeed(2)
	m := NewModel()
	opt, err := optim.NewSGD(nn.Parameters(m), optim.SGDOptions{LR: 0.01, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	images := torch.Rand([]int64{16, 1, Rows, Cols})
	labels := torch.Randint(0, Classes, []int64{16})
	var first, last float64
	for step := range 30 {
		torch.WithScope(func(s *torch.Scope) {
			if err := opt.ZeroGrad(); err != nil {
				t.Fatal(err)
			}
			out := m.Forward(s.Track(images.Alias()), nil, labels)
			if err := out.Loss.Backward(); err != nil {
				t.Fatal(err)
			}
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
			v, _ := out.Loss.Item()
			if step == 0 {
				first = v
			}
			last = v
		})
	}
	if !(last < 0.8*first) {
		t.Fatalf("loss went from %v to %v in 30 steps, want a fall of at least 20%%", first, last)
	}
}

// The served model declares its images, so the Axon refuses any other
// shape with INVALID_ARGUMENT instead of failing inside Reshape.
func TestServedModelDeclaresItsImages(t *testing.T) {
	key, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	syn, err := synapse.NewLocal(key, NewModel(), bittensorpb.Modality_IMAGE)
	if err != nil {
		t.Fatal(err)
	}
	spec, ok := syn.Inputs(bittensorpb.Modality_IMAGE)
	if !ok {
		t.Fatal("the MNIST synapse declares no image inputs")
	}
	image := func(shape ...int64) *bittensorpb.Tensor {
		return &bittensorpb.Tensor{Dtype: bittensorpb.DataType_FLOAT32, Modality: bittensorpb.Modality_IMAGE, Shape: shape}
	}
	if err := spec.Check(image(7, 1, Rows, Cols)); err != nil {
		t.Errorf("a batch of MNIST images is refused: %v", err)
	}
	for _, shape := range [][]int64{{2, 3, 5}, {2, Pixels}, {2, 3, Rows, Cols}} {
		err := spec.Check(image(shape...))
		if err == nil || !strings.Contains(err.Error(), "want FLOAT32 [batch 1 28 28]") {
			t.Errorf("images of shape %v: %v, want an error naming FLOAT32 [batch 1 28 28]", shape, err)
		}
	}
	if _, ok := syn.Inputs(bittensorpb.Modality_TENSOR); ok {
		t.Error("the image synapse declares tensor inputs")
	}
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
