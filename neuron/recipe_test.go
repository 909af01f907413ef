package neuron

import (
	"context"
	"math"
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
		cfg := TrainerConfig{Optimizer: c.name, LearningRate: c.lr, WarmupSteps: 10}
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

// With WarmupSteps the trainer steps at the warm-up's rates: plain SGD
// moves a parameter by lr·grad, so the moves of consecutive steps grow
// with the rate (rate ratio 1:2:3:4 over a warm-up of 4 steps, then flat).
func TestTrainerWarmsUp(t *testing.T) {
	torch.ManualSeed(7)
	cfg := testNeuronConfig()
	cfg.Optimizer, cfg.LearningRate, cfg.WarmupSteps = "sgd", 0.1, 4
	model := newTinyModel()
	tr, _, _ := startNeuronServing(t, cfg, model)
	// No momentum, so each move is the step's own rate times its gradient.
	opt, err := optim.NewSGD(tr.opt.Params(), optim.SGDOptions{LR: cfg.LearningRate})
	if err != nil {
		t.Fatal(err)
	}
	tr.opt.Close()
	tr.opt = opt
	var rates []float64
	for range 6 {
		before := model.classifier.Bias.Clone()
		b := tinyBatch()
		res, err := tr.Step(context.Background(), b)
		if err != nil || res.Skipped {
			t.Fatalf("step: %v, skipped %v", err, res.Skipped)
		}
		// The bias gradient is left in place by the step: move = rate·grad.
		move, err := before.Sub(model.classifier.Bias).Norm().Item()
		if err != nil {
			t.Fatal(err)
		}
		grad, err := model.classifier.Bias.Grad().Norm().Item()
		if err != nil {
			t.Fatal(err)
		}
		rates = append(rates, move/grad)
	}
	want := []float64{0.025, 0.05, 0.075, 0.1, 0.1, 0.1}
	for i := range want {
		if math.Abs(rates[i]-want[i]) > 1e-4 {
			t.Fatalf("rates per step %v, want %v", rates, want)
		}
	}
	if tr.steps != 6 {
		t.Errorf("%d steps counted, want 6", tr.steps)
	}
}
