package trainer

import (
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// Config.Optimizer and LearningRate choose the optimizer: the recipe's SGD
// (its momentum kept, its rate replaced when set), Adam or AdamW at
// DefaultAdamLR unless set.
func TestConfigNewOptimizer(t *testing.T) {
	params := []*torch.Tensor{torch.Zeros([]int64{3}).SetRequiresGrad(true)}
	seed := optim.SGDOptions{LR: 0.01, Momentum: 0.9}
	for _, c := range []struct {
		name   string
		lr     float64
		kind   string
		wantLR float64
	}{
		{"", 0, "sgd", 0.01},
		{"sgd", 0.5, "sgd", 0.5},
		{"adam", 0, "adam", DefaultAdamLR},
		{"adamw", 3e-4, "adamw", 3e-4},
	} {
		cfg := Config{Optimizer: c.name, LearningRate: c.lr, WarmupSteps: 10}
		opt, r, err := cfg.newOptimizer(params, seed)
		if err != nil {
			t.Fatalf("%q: %v", c.name, err)
		}
		if r.name != c.kind || r.warmup.LR != c.wantLR || r.warmup.Steps != 10 {
			t.Errorf("%q lr %v: recipe %+v, want %s at %v with 10 warm-up steps", c.name, c.lr, r, c.kind, c.wantLR)
		}
		opt.Close()
	}
}
