package trainer

import (
	"fmt"
	"math"

	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/synapse"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

// The seed's training settings.
const (
	learningRate = 0.01
	momentum     = 0.9
	// routerMaxNorm bounds the norm of the router's gradient at each step.
	routerMaxNorm = 0.5
	// weightDecay is how much of a synapse's weight survives a step; the
	// rest comes from the router's mean gate for it.
	weightDecay = 0.99
	// maxSynapses is how many synapses a step asks the Metagraph for.
	maxSynapses = 1000
	// maxPeers bounds the peers counted for the log line.
	maxPeers = 1000
)

// Checkpoint file names in the Trainer's folder.
const (
	// BestCheckpoint holds the model with the lowest test loss so far.
	BestCheckpoint = "best.ckpt"
	// LastCheckpoint holds the state at the end of the last epoch, or at a stop.
	LastCheckpoint = "last.ckpt"
)

// StepResult reports one training step.
type StepResult struct {
	// LocalLoss, TargetLoss and DistillationLoss are the seed's three losses:
	// the local target loss, the network target loss, the distillation loss.
	LocalLoss, TargetLoss, DistillationLoss float64
	// Peers is the number of live peers, Synapses the number of synapses
	// the step could route to: those that fit its batch (the log line's nP|nS).
	Peers, Synapses int
	// Routed names (by the first 8 hex digits of their keys) the synapses
	// the step called.
	Routed []string
	// Failed is how many of the step's calls to synapses failed.
	Failed int
	// Skipped reports a step that changed nothing because its loss was not
	// finite; the losses are what was computed.
	Skipped bool
}

// TestResult reports a pass over the test set.
type TestResult struct {
	// Loss is the mean total loss per example.
	Loss float64
	// LocalAccuracy and NetworkAccuracy are the fractions of examples the
	// local path (student context) and the network path classify right.
	LocalAccuracy, NetworkAccuracy float64
}

// Trainer trains a neuron's served model with the network, following the
// seed's step: context from the local model, synapses from the Metagraph,
// route, call them through the Dendrite, join, forward with the targets and
// the network's answer, backward, clip the router's gradient, step, and move
// the synapses' weights toward the router's mean gates.
type Trainer struct {
	cfg     Config
	net     Network
	synapse *synapse.Local
	model   synapse.Model
	router  *router.Router
	opt     *optim.Optimizer
	recipe  recipe
	dir     string
	device  torch.Device

	epoch    int     // epochs completed
	steps    int     // optimizer steps taken: what the warm-up counts
	bestLoss float64 // lowest test loss seen
}

// Option changes a Trainer's settings from the seed's defaults.
type Option func(*trainerOptions)

type trainerOptions struct {
	sgd optim.SGDOptions
}

// WithSGD sets the optimizer's settings; the default is the seed's MNIST
// recipe, SGD with learning rate 0.01 and momentum 0.9. Config.Optimizer
// and Config.LearningRate override it.
func WithSGD(o optim.SGDOptions) Option {
	return func(t *trainerOptions) { t.sgd = o }
}

// New returns a trainer of synapse's model and router, calling the
// network through n, keeping checkpoints in dir. With cfg.ModelPath it
// resumes from that checkpoint (model, router, optimizer, epoch, best loss).
// The model and router must already be on device.
func New(cfg Config, net Network, synapse *synapse.Local, router *router.Router, dir string, device torch.Device, opts ...Option) (*Trainer, error) {
	o := trainerOptions{sgd: optim.SGDOptions{LR: learningRate, Momentum: momentum}}
	for _, opt := range opts {
		opt(&o)
	}
	t := &Trainer{
		cfg: cfg, net: net, synapse: synapse, model: synapse.Model(), router: router,
		dir: dir, device: device, bestLoss: math.Inf(1),
	}
	if err := synapse.RemoteGrads().Configure(cfg.RemoteGrads); err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	params := append(nn.Parameters(t.model), nn.Parameters(router)...)
	var err error
	if t.opt, t.recipe, err = cfg.newOptimizer(params, o.sgd); err != nil {
		return nil, err
	}
	cfg.Log.Info().Str("optimizer", t.recipe.name).Float64("learning_rate", t.recipe.warmup.LR).
		Int("warmup_steps", t.recipe.warmup.Steps).Msg("training recipe")
	if cfg.ModelPath != "" {
		err := synapse.Update(func() error { return t.load(cfg.ModelPath) })
		if err != nil {
			t.opt.Close()
			return nil, &ResumeError{Path: cfg.ModelPath, Err: err}
		}
		cfg.Log.Info().Str("model_path", cfg.ModelPath).Int("epoch", t.epoch).Float64("best_loss", t.bestLoss).
			Msgf("resumed from checkpoint at epoch %d", t.epoch)
	}
	return t, nil
}

// Close frees the optimizer's state.
func (t *Trainer) Close() { t.opt.Close() }

// Epoch returns the number of epochs completed.
func (t *Trainer) Epoch() int { return t.epoch }
