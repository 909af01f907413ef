package trainer_test

import (
	"context"
	"math"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/neurontest"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// With WarmupSteps the trainer steps at the warm-up's rates: plain SGD
// moves a parameter by lr·grad, so the moves of consecutive steps grow
// with the rate (rate ratio 1:2:3:4 over a warm-up of 4 steps, then flat).
func TestTrainerWarmsUp(t *testing.T) {
	torch.ManualSeed(7)
	cfg := neurontest.Config()
	cfg.Optimizer, cfg.LearningRate, cfg.WarmupSteps = "sgd", 0.1, 4
	model := fixture.NewTinyModel()
	tr, _, _ := neurontest.StartNeuronServing(t, cfg, model)
	// No momentum, so each move is the step's own rate times its gradient.
	opt, err := optim.NewSGD(tr.Opt().Params(), optim.SGDOptions{LR: cfg.LearningRate})
	if err != nil {
		t.Fatal(err)
	}
	tr.Opt().Close()
	tr.SetOpt(opt)
	var rates []float64
	for range 6 {
		before := model.Classifier.Bias.Clone()
		b := neurontest.TinyBatch()
		res, err := tr.Step(context.Background(), b)
		if err != nil || res.Skipped {
			t.Fatalf("step: %v, skipped %v", err, res.Skipped)
		}
		// The bias gradient is left in place by the step: move = rate·grad.
		move, err := before.Sub(model.Classifier.Bias).Norm().Item()
		if err != nil {
			t.Fatal(err)
		}
		grad, err := model.Classifier.Bias.Grad().Norm().Item()
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
	if tr.Steps() != 6 {
		t.Errorf("%d steps counted, want 6", tr.Steps())
	}
}
