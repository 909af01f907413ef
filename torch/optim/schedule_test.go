package optim_test

import (
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// LinearWarmup gives each step the rate PyTorch's LinearLR gives it.
func TestLinearWarmupGolden(t *testing.T) {
	g := testutil.LoadGolden(t, golden)
	w := optim.LinearWarmup{LR: 0.1, Steps: 4}
	rates := make([]float64, 6)
	for step := range rates {
		rates[step] = w.At(step)
	}
	g.Check(t, "linear_warmup_lr", torch.FromFloat64(rates, int64(len(rates))), 1e-12, 0)
}

func TestLinearWarmupEdges(t *testing.T) {
	for _, c := range []struct {
		w    optim.LinearWarmup
		step int
		want float64
	}{
		{optim.LinearWarmup{LR: 0.5}, 0, 0.5},            // no warm-up
		{optim.LinearWarmup{LR: 0.5, Steps: 1}, 0, 0.5},  // one step is none
		{optim.LinearWarmup{LR: 0.5, Steps: -3}, 7, 0.5}, // nor is a negative count
		{optim.LinearWarmup{LR: 1, Steps: 10}, -5, 0.1},  // before the first step: the first rate
		{optim.LinearWarmup{LR: 1, Steps: 10}, 9, 1},     // the last warm-up step reaches LR
		{optim.LinearWarmup{LR: 1, Steps: 10}, 1 << 40, 1},
	} {
		if got := c.w.At(c.step); got != c.want {
			t.Errorf("%+v.At(%d) = %v, want %v", c.w, c.step, got, c.want)
		}
	}
}
