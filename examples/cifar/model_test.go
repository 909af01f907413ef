package cifar

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

// tinyDPN is a DPN small enough for tests that train.
func tinyDPN() DPNConfig {
	return DPNConfig{
		InPlanes: [4]int64{8, 8, 16, 16}, OutPlanes: [4]int64{8, 8, 16, 16},
		NumBlocks: [4]int64{1, 2, 1, 1}, DenseDepth: [4]int64{2, 2, 4, 4}, Groups: 4,
	}
}

func newTiny(t *testing.T) *Model {
	t.Helper()
	m, err := NewModelWith(tinyDPN())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDPN26Shape(t *testing.T) {
	c := DPN26()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Channels() != 2432 || c.FeatureDim() != 9728 {
		t.Fatalf("DPN26 puts out %d channels, %d features; the seed's 2432 and 9728", c.Channels(), c.FeatureDim())
	}
	bad := c
	bad.InPlanes[2] = 100
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "groups") {
		t.Fatalf("100 channels in 32 groups: %v", err)
	}
	bad = c
	bad.NumBlocks[0] = 0
	if _, err := NewModelWith(bad); err == nil {
		t.Fatal("a stage without blocks was accepted")
	}
}

func TestModelShapesAndLosses(t *testing.T) {
	torch.ManualSeed(1)
	m := newTiny(t)
	s := torch.NewScope()
	defer s.Close()
	dim := m.ContextDim()
	images := s.Track(torch.Rand([]int64{4, Channels, Rows, Cols}))
	labels := s.Track(torch.FromInt64([]int64{0, 3, 9, 1}))
	network := s.Track(torch.Rand([]int64{4, dim}))
	if got := m.Encode(images).Shape(); !slices.Equal(got, []int64{4, dim}) {
		t.Fatalf("Encode shape %v, want [4 %d]", got, dim)
	}
	local := m.Forward(images, nil, labels)
	if local.NetworkOutput != nil || local.DistillationLoss != nil || local.Loss == nil {
		t.Fatalf("local-only forward: %+v", local)
	}
	out := m.Forward(images, network, labels)
	for name, x := range map[string]*torch.Tensor{"local target": out.LocalTarget, "network target": out.NetworkTarget} {
		if got := x.Shape(); !slices.Equal(got, []int64{4, Classes}) {
			t.Fatalf("%s shape %v, want 10 classes", name, got)
		}
		probs := values(t, x.Exp().Sum(1))
		for _, p := range probs {
			if math.Abs(p-1) > 1e-4 {
				t.Fatalf("%s rows sum to %v in probability", name, probs)
			}
		}
	}
	sum := scalarValue(t, out.LocalTargetLoss) + scalarValue(t, out.NetworkTargetLoss) + scalarValue(t, out.DistillationLoss)
	if math.Abs(scalarValue(t, out.Loss)-sum) > 1e-4 {
		t.Fatalf("loss %v, want the sum of the three losses %v", scalarValue(t, out.Loss), sum)
	}
	// The network path uses the network's context: another context gives
	// other predictions.
	other := m.Forward(images, s.Track(network.MulScalar(3)), labels)
	if slices.Equal(values(t, other.NetworkTarget), values(t, out.NetworkTarget)) {
		t.Fatal("the network target does not depend on the network context")
	}
	// The distillation loss trains the student only: no gradient reaches
	// the network context, and none the trunk.
	network.SetRequiresGrad(true)
	if err := nn.ZeroGrad(m); err != nil {
		t.Fatal(err)
	}
	if err := m.Forward(images, network, labels).DistillationLoss.Backward(); err != nil {
		t.Fatal(err)
	}
	if g := network.Grad(); g != nil && scalarValue(t, g.Abs().Sum()) != 0 {
		t.Fatal("the distillation loss sends gradient into the network context")
	}
	if g := m.student.stem.Weight.Grad(); g == nil || scalarValue(t, g.Abs().Sum()) == 0 {
		t.Fatal("the distillation loss does not reach the student")
	}
	if g := m.trunk.stem.Weight.Grad(); g != nil && scalarValue(t, g.Abs().Sum()) != 0 {
		t.Fatal("the distillation loss reaches the trunk")
	}
}

// The served forward uses the running statistics: an image's answer does
// not depend on the rest of its batch, and serving changes nothing. A
// training Forward changes the running statistics only at CommitState.
func TestBatchNormModes(t *testing.T) {
	torch.ManualSeed(2)
	m := newTiny(t)
	s := torch.NewScope()
	defer s.Close()
	images := s.Track(torch.Rand([]int64{6, Channels, Rows, Cols}))
	labels := s.Track(torch.Randint(0, Classes, []int64{6}))
	running := func() []float64 { return values(t, m.trunk.stemBN.RunningMean) }
	before := running()

	var all, first []float64
	torch.NoGrad(func() {
		all = values(t, m.Encode(images))
		first = values(t, m.Encode(images.Narrow(0, 0, 2)))
	})
	checkValues(t, "Encode of a batch's first two images alone", first, all[:len(first)], 1e-5)
	if !slices.Equal(running(), before) {
		t.Fatal("Encode changed the running statistics")
	}

	out := m.Forward(images, nil, labels)
	if err := out.Loss.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(running(), before) {
		t.Fatal("a training Forward wrote the running statistics that served forwards read")
	}
	if err := m.CommitState(); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(running(), before) {
		t.Fatal("CommitState did not install the new running statistics")
	}
	// In evaluation mode, Forward uses the running statistics too: its
	// local output is what Encode serves.
	nn.Eval(m)
	var local []float64
	torch.NoGrad(func() { local = values(t, m.Forward(images, nil, nil).LocalOutput) })
	nn.Train(m)
	var served []float64
	torch.NoGrad(func() { served = values(t, m.Encode(images)) })
	checkValues(t, "eval-mode local output", local, served, 1e-5)
}

// The seed's optimiser fits a fixed batch: the loss falls.
func TestModelLearnsABatch(t *testing.T) {
	torch.ManualSeed(3)
	m := newTiny(t)
	opt, err := optim.NewSGD(nn.Parameters(m), optim.SGDOptions{LR: learningRate, Momentum: momentum, WeightDecay: weightDecay})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	images := torch.Rand([]int64{16, Channels, Rows, Cols})
	labels := torch.Randint(0, Classes, []int64{16})
	var first, last float64
	for step := range 20 {
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
			if err := m.CommitState(); err != nil {
				t.Fatal(err)
			}
			if step == 0 {
				first = scalarValue(t, out.Loss)
			}
			last = scalarValue(t, out.Loss)
		})
	}
	if !(last < 0.8*first) {
		t.Fatalf("loss went from %v to %v in 20 steps, want a fall of at least 20%%", first, last)
	}
}

// The served model declares its images, so the Axon refuses any other
// shape with INVALID_ARGUMENT instead of failing inside the network.
func TestServedModelDeclaresItsImages(t *testing.T) {
	key, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	syn, err := synapse.NewLocal(key, newTiny(t), bittensorpb.Modality_IMAGE)
	if err != nil {
		t.Fatal(err)
	}
	spec, ok := syn.Inputs(bittensorpb.Modality_IMAGE)
	if !ok {
		t.Fatal("the CIFAR synapse declares no image inputs")
	}
	image := func(shape ...int64) *bittensorpb.Tensor {
		return &bittensorpb.Tensor{Dtype: bittensorpb.DataType_FLOAT32, Modality: bittensorpb.Modality_IMAGE, Shape: shape}
	}
	if err := spec.Check(image(7, Channels, Rows, Cols)); err != nil {
		t.Errorf("a batch of CIFAR images is refused: %v", err)
	}
	for _, shape := range [][]int64{{2, 1, 28, 28}, {2, Pixels}, {2, 3, 28, 28}} {
		err := spec.Check(image(shape...))
		if err == nil || !strings.Contains(err.Error(), "want FLOAT32 [batch 3 32 32]") {
			t.Errorf("images of shape %v: %v, want an error naming FLOAT32 [batch 3 32 32]", shape, err)
		}
	}
	// ForwardImage answers the context the step uses.
	s := torch.NewScope()
	defer s.Close()
	var out *torch.Tensor
	err = syn.Guard(func() error {
		var err error
		torch.NoGrad(func() { out, err = syn.ForwardImage(s.Track(torch.Rand([]int64{3, Channels, Rows, Cols}))) })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{3, tinyDPN().FeatureDim()}; !slices.Equal(s.Track(out).Shape(), want) {
		t.Fatalf("ForwardImage answered %v, want %v", out.Shape(), want)
	}
}
