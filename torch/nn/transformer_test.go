package nn_test

import (
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// Padding hidden by the mask changes nothing at the other positions: a
// sequence of 3 padded to 5 encodes its 3 positions as the sequence alone
// does, whatever the padding holds. (examples/bert's goldens compare the
// layers' values and gradients with PyTorch's.)
func TestEncoderIgnoresMaskedPadding(t *testing.T) {
	torch.ManualSeed(1)
	enc, err := nn.NewTransformerEncoder(nn.EncoderConfig{Dim: 8, Heads: 2, Intermediate: 16, Layers: 2, Dropout: 0.1, NormEps: 1e-12})
	if err != nil {
		t.Fatal(err)
	}
	x := p(7, 1, 1, 5, 8)
	short := x.Narrow(1, 0, 3)
	junk := torch.Cat([]*torch.Tensor{short, p(5, 3, 1, 2, 8).MulScalar(100)}, 1)
	mask := nn.PaddingMask(torch.FromBool([]bool{true, true, true, false, false}, 1, 5))
	alone := testutil.MustValues(t, enc.Forward(short, nil, false))
	for name, in := range map[string]*torch.Tensor{"pattern padding": x, "huge padding": junk} {
		got := testutil.MustValues(t, enc.Forward(in, mask, false).Narrow(1, 0, 3))
		if err := testutil.Close(got, alone, 1e-5, 1e-6); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Dropout only when asked.
	a := testutil.MustValues(t, enc.Forward(x, mask, true))
	b := testutil.MustValues(t, enc.Forward(x, mask, true))
	if testutil.Close(a, b, 0, 0) == nil {
		t.Error("two forwards with dropout on are equal")
	}
}

func TestAttentionRefusesBadShapes(t *testing.T) {
	if _, err := nn.NewMultiheadSelfAttention(10, 3, 0); err == nil {
		t.Error("10 features in 3 heads accepted")
	}
	if _, err := nn.NewTransformerEncoder(nn.EncoderConfig{Dim: 8, Heads: 2, Intermediate: 16, Layers: 0, NormEps: 1e-12}); err == nil {
		t.Error("an encoder of 0 layers accepted")
	}
	a, err := nn.NewMultiheadSelfAttention(8, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, x := range map[string]*torch.Tensor{"rank 2": p(3, 0, 4, 8), "width 6": p(3, 0, 1, 4, 6)} {
		if err := a.Forward(x, nil, false).Err(); err == nil {
			t.Errorf("%s input accepted", name)
		}
	}
}
