package trainer

import (
	"fmt"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// OptimizerNames returns the optimizers Config.Optimizer may name.
func OptimizerNames() []string { return []string{"sgd", "adam", "adamw"} }

// The defaults of the optimizers a Config may choose instead of the
// neuron's recipe.
const (
	// DefaultAdamLR is the learning rate of "adam" and "adamw" when
	// Config.LearningRate is 0.
	DefaultAdamLR = 1e-4
	// adamWWeightDecay is AdamW's decoupled weight decay, BERT's 0.01.
	adamWWeightDecay = 0.01
)

// recipe is the optimizer a Trainer steps and the schedule of its rate.
type recipe struct {
	name   string
	warmup optim.LinearWarmup
}

// newOptimizer returns the optimizer of params that c selects: the
// recipe's SGD (sgd) with c.LearningRate when set, or Adam or AdamW.
func (c *Config) newOptimizer(params []*torch.Tensor, sgd optim.SGDOptions) (*optim.Optimizer, recipe, error) {
	var (
		opt *optim.Optimizer
		err error
		r   = recipe{name: c.Optimizer, warmup: optim.LinearWarmup{LR: c.LearningRate, Steps: c.WarmupSteps}}
	)
	switch c.Optimizer {
	case "", "sgd":
		r.name = "sgd"
		if r.warmup.LR > 0 {
			sgd.LR = r.warmup.LR
		}
		r.warmup.LR = sgd.LR
		opt, err = optim.NewSGD(params, sgd)
	case "adam", "adamw":
		if r.warmup.LR == 0 {
			r.warmup.LR = DefaultAdamLR
		}
		if c.Optimizer == "adam" {
			opt, err = optim.NewAdam(params, optim.AdamOptions{LR: r.warmup.LR})
		} else {
			opt, err = optim.NewAdamW(params, optim.AdamOptions{LR: r.warmup.LR, WeightDecay: adamWWeightDecay})
		}
	default:
		return nil, recipe{}, fmt.Errorf("trainer: optimizer %q, want one of %v", c.Optimizer, OptimizerNames())
	}
	if err != nil {
		return nil, recipe{}, fmt.Errorf("trainer: %w", err)
	}
	return opt, r, nil
}
