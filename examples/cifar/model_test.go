package cifar

import (
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/examples/internal/modeltest"
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

// Encode and Forward answer as the neuron expects (modeltest.CheckForward),
// and the distillation loss reaches the student.
func TestModelShapesAndLosses(t *testing.T) {
	torch.ManualSeed(1)
	m := newTiny(t)
	s := torch.NewScope()
	defer s.Close()
	images := s.Track(torch.Rand([]int64{4, Channels, Rows, Cols}))
	labels := s.Track(torch.FromInt64([]int64{0, 3, 9, 1}))
	modeltest.CheckForward(t, m, images, labels, m.ContextDim(), Classes)
	// The distillation loss trains the student only: it reaches the
	// student and not the trunk.
	if !modeltest.Reaches(t, m.student.stem.Weight) {
		t.Fatal("the distillation loss does not reach the student")
	}
	if modeltest.Reaches(t, m.trunk.stem.Weight) {
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
	modeltest.CheckLearnsABatch(t, newTiny(t), optim.SGDOptions{LR: learningRate, Momentum: momentum, WeightDecay: weightDecay},
		torch.Rand([]int64{16, Channels, Rows, Cols}), torch.Randint(0, Classes, []int64{16}), 20)
}

// The served model declares its images, so the Axon refuses any other
// shape with INVALID_ARGUMENT instead of failing inside the network, and
// its ForwardImage answers the context the step uses.
func TestServedModelDeclaresItsImages(t *testing.T) {
	syn := modeltest.CheckServedImages(t, newTiny(t), []int64{Channels, Rows, Cols}, [][]int64{{2, 1, 28, 28}, {2, Pixels}, {2, 3, 28, 28}})
	s := torch.NewScope()
	defer s.Close()
	var out *torch.Tensor
	err := syn.Guard(func() error {
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
