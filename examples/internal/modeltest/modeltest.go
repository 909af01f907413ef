// Package modeltest checks, for the examples' model tests, what the neuron
// expects of a classifier that distils the network's context: the outputs
// and losses of Forward, that it learns, and the images it declares when
// served.
package modeltest

import (
	"fmt"
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

// CheckForward checks m's Encode and Forward on images (examples first)
// with labels, a network answer of contextDim features drawn at random,
// and classes classes:
//   - Encode answers [batch, contextDim];
//   - Forward without the network computes the local path only: no
//     NetworkOutput, no DistillationLoss, but a Loss;
//   - with it, LocalTarget and NetworkTarget are log-probabilities of
//     [batch, classes] (each row's probabilities sum to 1 within 1e-4), and
//     Loss is the sum of the local target, network target and distillation
//     losses within 1e-4;
//   - another network answer gives another NetworkTarget;
//   - the distillation loss sends no gradient into the network answer.
//
// It leaves in m's parameters the gradients of that distillation loss
// alone, for the caller to check which parameters it reaches.
func CheckForward(t testing.TB, m synapse.Model, images, labels *torch.Tensor, contextDim, classes int64) {
	t.Helper()
	s := torch.NewScope()
	defer s.Close()
	batch := images.Shape()[0]
	network := s.Track(torch.Rand([]int64{batch, contextDim}))
	if got := s.Track(m.Encode(images)).Shape(); !slices.Equal(got, []int64{batch, contextDim}) {
		t.Fatalf("Encode shape %v, want [%d %d]", got, batch, contextDim)
	}
	local := m.Forward(images, nil, labels)
	if local.NetworkOutput != nil || local.DistillationLoss != nil || local.Loss == nil {
		t.Fatalf("local-only forward: %+v", local)
	}
	out := m.Forward(images, network, labels)
	for _, c := range []struct {
		name string
		x    *torch.Tensor
	}{{"local target", out.LocalTarget}, {"network target", out.NetworkTarget}} {
		if got := c.x.Shape(); !slices.Equal(got, []int64{batch, classes}) {
			t.Fatalf("%s shape %v, want [%d %d]", c.name, got, batch, classes)
		}
		probs := floats(t, s.Track(c.x.Exp().Sum(1)))
		for _, p := range probs {
			if math.Abs(float64(p)-1) > 1e-4 {
				t.Fatalf("%s rows sum to %v in probability, want 1", c.name, probs)
			}
		}
	}
	sum := item(t, out.LocalTargetLoss) + item(t, out.NetworkTargetLoss) + item(t, out.DistillationLoss)
	if math.Abs(item(t, out.Loss)-sum) > 1e-4 {
		t.Fatalf("loss %v, want the sum of the three losses %v", item(t, out.Loss), sum)
	}
	other := m.Forward(images, s.Track(network.MulScalar(3)), labels)
	if slices.Equal(floats(t, other.NetworkTarget), floats(t, out.NetworkTarget)) {
		t.Fatal("the network target does not depend on the network answer")
	}
	network.SetRequiresGrad(true)
	if err := nn.ZeroGrad(m); err != nil {
		t.Fatal(err)
	}
	if err := m.Forward(images, network, labels).DistillationLoss.Backward(); err != nil {
		t.Fatal(err)
	}
	if g := network.Grad(); g != nil && item(t, s.Track(g.Abs().Sum())) != 0 {
		t.Fatal("the distillation loss sends gradient into the network answer")
	}
}

// Reaches reports whether p has a gradient other than zero.
func Reaches(t testing.TB, p *torch.Tensor) bool {
	t.Helper()
	g := p.Grad()
	return g != nil && item(t, g.Abs().Sum()) != 0
}

// CheckLearnsABatch trains m alone (no network answer) with SGD of o on
// one fixed batch of images and labels for steps steps, committing the
// state of a synapse.StatefulModel after each, and fails unless the loss
// falls by at least 20%.
func CheckLearnsABatch(t testing.TB, m synapse.Model, o optim.SGDOptions, images, labels *torch.Tensor, steps int) {
	t.Helper()
	opt, err := optim.NewSGD(nn.Parameters(m), o)
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	stateful, _ := m.(synapse.StatefulModel)
	var first, last float64
	for step := range steps {
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
			if stateful != nil {
				if err := stateful.CommitState(); err != nil {
					t.Fatal(err)
				}
			}
			if step == 0 {
				first = item(t, out.Loss)
			}
			last = item(t, out.Loss)
		})
	}
	if !(last < 0.8*first) {
		t.Fatalf("loss went from %v to %v in %d steps, want a fall of at least 20%%", first, last, steps)
	}
}

// CheckServedImages serves m as an IMAGE synapse and checks that it
// declares FLOAT32 images of [batch, shape...], so that the Axon refuses
// any other with INVALID_ARGUMENT instead of failing inside the network: a
// batch of that shape passes, each of wrong is refused with an error naming
// the declared shape, and no TENSOR inputs are declared. It returns the
// synapse for further checks.
func CheckServedImages(t testing.TB, m synapse.Model, shape []int64, wrong [][]int64) *synapse.Local {
	t.Helper()
	key, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	syn, err := synapse.NewLocal(key, m, bittensorpb.Modality_IMAGE)
	if err != nil {
		t.Fatal(err)
	}
	spec, ok := syn.Inputs(bittensorpb.Modality_IMAGE)
	if !ok {
		t.Fatal("the synapse declares no image inputs")
	}
	image := func(shape ...int64) *bittensorpb.Tensor {
		return &bittensorpb.Tensor{Dtype: bittensorpb.DataType_FLOAT32, Modality: bittensorpb.Modality_IMAGE, Shape: shape}
	}
	if err := spec.Check(image(append([]int64{7}, shape...)...)); err != nil {
		t.Errorf("a batch of images of %v is refused: %v", shape, err)
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	want := fmt.Sprintf("want FLOAT32 [batch %s]", strings.Join(dims, " "))
	for _, w := range wrong {
		if err := spec.Check(image(w...)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("images of shape %v: %v, want an error naming %s", w, err, want)
		}
	}
	if _, ok := syn.Inputs(bittensorpb.Modality_TENSOR); ok {
		t.Error("the image synapse declares tensor inputs")
	}
	return syn
}

// floats returns x's values.
func floats(t testing.TB, x *torch.Tensor) []float32 {
	t.Helper()
	v, err := x.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// item returns x's one value.
func item(t testing.TB, x *torch.Tensor) float64 {
	t.Helper()
	v, err := x.Item()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
