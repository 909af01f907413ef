package trainer

import (
	"time"

	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/synapse"

	"github.com/rs/zerolog"

	"github.com/opentensor/bittensor-go/neuron/metagraph"
)

// Config holds the settings a Trainer runs with. A neuron's Config
// gives them (Config.TrainerConfig), from the command line's flags.
type Config struct {
	// Epochs is how many passes over the training set Train completes.
	Epochs int
	// LogInterval is how many steps go between two training log lines.
	LogInterval int
	// TestEvery, when above 0, also tests every TestEvery steps.
	TestEvery int
	// ModelPath, when set, is the checkpoint the Trainer resumes from.
	ModelPath string
	// Optimizer, LearningRate and WarmupSteps replace the recipe's
	// optimizer, its learning rate and its warm-up (see Config).
	Optimizer    string
	LearningRate float64
	WarmupSteps  int
	// RemoteGrads sets how the served model learns from its callers.
	RemoteGrads synapse.RemoteGradConfig
	// Log receives the training log; the zero Logger discards it.
	Log zerolog.Logger
	// Progress, when set, follows the training loop (a progress bar).
	Progress Progress
}

// Network is what a Trainer uses of its neuron: the Dendrite it
// calls peers through, the Metagraph it finds them and keeps their weights
// in, and optionally the Axon's counters for the log line and an observer.
type Network struct {
	Dendrite  *dendrite.Dendrite
	Metagraph metagraph.Metagraph
	// Served, when set, returns how many requests the neuron's Axon received
	// and how many of them it refused as not fitting its synapse (another
	// modality, other inputs): the log line shows both.
	Served func() (requests, unfit uint64)
	// Observer, when set, is told of every step and test pass.
	Observer Observer
}

// Observer is told of a Trainer's steps and test passes (metrics,
// say). Its methods run on the training goroutine and must be quick.
type Observer interface {
	// ObserveStep reports a step of examples that took elapsed in epoch.
	ObserveStep(epoch, examples int, elapsed time.Duration, r StepResult)
	// ObserveTest reports a test pass after epoch.
	ObserveTest(epoch int, r TestResult)
}
