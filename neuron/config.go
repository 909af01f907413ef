package neuron

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	"github.com/rs/zerolog"

	"github.com/opentensor/bittensor-go/neuron/metagraph"
	"github.com/opentensor/bittensor-go/torch"
)

// Config holds the settings of a running neuron. The CLI fills it from its
// flags and BT_<FLAG> environment variables; DefaultConfig gives the values a
// single neuron needs to train with no peers and no arguments.
type Config struct {
	// ChainEndpoint is the chain to register with, etcd://host:port[,host:port…]
	// (see metagraph.Chain); empty finds peers by gossip.
	ChainEndpoint string
	// AxonPort is the TCP port the Axon serves synapses on; 0 picks a free one.
	AxonPort int
	// MetagraphPort is the TCP port the Metagraph gossips on; 0 picks a free one.
	MetagraphPort int
	// MetricsPort is the TCP port of the Prometheus metrics (/metrics) and
	// the live page (/); 0 picks a free one (logged at start), -1 turns
	// them off.
	MetricsPort int
	// MetagraphSize caps the number of synapse definitions the Metagraph keeps.
	MetagraphSize int
	// Bootstrap is the host:port of a peer's Metagraph to join through; empty
	// waits to be found.
	Bootstrap string
	// NeuronKey is the path of the key file holding the ed25519 key the
	// neuron signs with and the key of its synapse (an Identity), created
	// when missing; empty uses fresh keys for this run only.
	NeuronKey string
	// RemoteIP is the address peers reach this neuron at, announced in its
	// synapse definitions and gossip.
	RemoteIP string
	// ModelPath is a checkpoint to resume training from; empty starts afresh.
	ModelPath string
	// LogDir is where checkpoints go (in a folder per neuron run).
	LogDir string
	// DataDir is a folder holding the dataset's files; empty finds them in
	// the Go module cache where the example supports it.
	DataDir string
	// Epochs is the number of passes over the training set.
	Epochs int
	// BatchSize is the number of examples per training step.
	BatchSize int
	// Device is where tensors live: "cpu", "cuda" or "cuda:N".
	Device string
	// LogInterval is the number of steps between training log lines.
	LogInterval int
	// TestEvery is the number of training steps between two passes over
	// the test set within epochs (a "Test Step" log line); 0 tests after
	// each epoch only.
	TestEvery int
	// MetagraphPeriod is the time between two gossip rounds.
	MetagraphPeriod time.Duration
	// MetagraphTTL is how long a synapse definition lives without a refresh.
	MetagraphTTL time.Duration
	// RemoteGrads lets the served model learn from the gradients callers
	// send with Backward; RemoteGradWeight scales their mean against the
	// neuron's own gradient, and RemoteGradMaxAge drops those that waited
	// longer for a step (see RemoteGradConfig).
	RemoteGrads      bool
	RemoteGradWeight float64
	RemoteGradMaxAge time.Duration
	// ServeOnly serves the synapse without training data: the model learns
	// only from its callers' gradients.
	ServeOnly bool
	// Seed seeds the model's initialisation and the data order; 0 draws one
	// at random, so that neurons started alike still differ.
	Seed uint64
	// Optimizer replaces the neuron's training recipe (the seed's SGD, or
	// its Spec's) with another optimizer: "sgd", "adam" or "adamw"
	// (OptimizerNames); empty keeps the recipe. LearningRate, when above 0,
	// replaces the recipe's learning rate (Adam's and AdamW's default is
	// DefaultAdamLR). WarmupSteps, when above 1, raises the learning rate
	// linearly over the first WarmupSteps training steps
	// (optim.LinearWarmup).
	Optimizer    string
	LearningRate float64
	WarmupSteps  int

	// Log receives the neuron's log; the zero Logger discards it.
	Log zerolog.Logger
	// Progress, when set, follows the training loop (a progress bar).
	Progress trainer.Progress
}

// DefaultConfig returns the settings of a single neuron on this machine.
func DefaultConfig() Config {
	return Config{
		MetagraphSize:    10000,
		RemoteIP:         "127.0.0.1",
		LogDir:           "runs",
		Epochs:           10,
		BatchSize:        64,
		Device:           "cpu",
		LogInterval:      10,
		MetagraphPeriod:  10 * time.Second,
		MetagraphTTL:     300 * time.Second,
		RemoteGrads:      true,
		RemoteGradWeight: synapse.DefaultRemoteGradConfig().Weight,
		RemoteGradMaxAge: synapse.DefaultRemoteGradConfig().MaxAge,
		Log:              zerolog.Nop(),
	}
}

// UsageError is something the user must change on the command line: a bad
// flag value, a port already in use, an unknown name. Flag, when set, names
// the setting as its command-line flag.
type UsageError struct {
	Flag string
	Err  error
}

// Error returns "--flag: reason", or the reason alone when Flag is empty.
func (e *UsageError) Error() string {
	if e.Flag == "" {
		return e.Err.Error()
	}
	return "--" + e.Flag + ": " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(flag, format string, args ...any) error {
	return &UsageError{Flag: flag, Err: fmt.Errorf(format, args...)}
}

// Validate checks every setting and returns a *UsageError for the first bad one.
func (c *Config) Validate() error {
	if c.ChainEndpoint != "" {
		if _, err := metagraph.ParseChainEndpoint(c.ChainEndpoint); err != nil {
			return &UsageError{Flag: "chain_endpoint", Err: err}
		}
		if c.Bootstrap != "" {
			return usageErrorf("bootstrap", "neurons on a chain find each other through it; leave --bootstrap out with --chain_endpoint")
		}
	}
	for _, p := range []struct {
		flag string
		port int
	}{{"axon_port", c.AxonPort}, {"metagraph_port", c.MetagraphPort}, {"metrics_port", max(c.MetricsPort, 0)}} {
		if p.port < 0 || p.port > 65535 {
			return usageErrorf(p.flag, "port %d is out of range (0 to 65535; 0 picks a free port)", p.port)
		}
	}
	if c.AxonPort != 0 && c.AxonPort == c.MetagraphPort {
		return usageErrorf("metagraph_port", "port %d is also the --axon_port", c.MetagraphPort)
	}
	if c.MetricsPort < -1 {
		return usageErrorf("metrics_port", "port %d is out of range (0 to 65535; 0 picks a free port, -1 turns metrics off)", c.MetricsPort)
	}
	if c.MetricsPort > 0 && (c.MetricsPort == c.AxonPort || c.MetricsPort == c.MetagraphPort) {
		return usageErrorf("metrics_port", "port %d is also the --axon_port or the --metagraph_port", c.MetricsPort)
	}
	if c.MetagraphSize < 1 {
		return usageErrorf("metagraph_size", "%d, want at least 1", c.MetagraphSize)
	}
	if c.Bootstrap != "" {
		if err := checkHostPort(c.Bootstrap); err != nil {
			return &UsageError{Flag: "bootstrap", Err: err}
		}
	}
	if net.ParseIP(c.RemoteIP) == nil {
		return usageErrorf("remote_ip", "%q is not an IP address", c.RemoteIP)
	}
	if c.LogDir == "" {
		return usageErrorf("logdir", "empty, want a folder for checkpoints")
	}
	if c.Epochs < 1 {
		return usageErrorf("epochs", "%d, want at least 1", c.Epochs)
	}
	if c.BatchSize < 1 || c.BatchSize > maxBatchSize {
		return usageErrorf("batch_size", "%d, want 1 to %d", c.BatchSize, maxBatchSize)
	}
	if _, err := torch.ParseDevice(c.Device); err != nil || c.Device == "" {
		return usageErrorf("device", "%q, want cpu, cuda or cuda:N", c.Device)
	}
	if c.LogInterval < 1 {
		return usageErrorf("log_interval", "%d, want at least 1", c.LogInterval)
	}
	if c.TestEvery < 0 {
		return usageErrorf("test_every", "%d, want 0 (after each epoch only) or more", c.TestEvery)
	}
	if c.MetagraphPeriod <= 0 {
		return usageErrorf("metagraph_period", "%v, want a positive duration", c.MetagraphPeriod)
	}
	if c.MetagraphTTL < 2*c.MetagraphPeriod {
		return usageErrorf("metagraph_ttl", "%v, want at least two gossip periods (2×%v)", c.MetagraphTTL, c.MetagraphPeriod)
	}
	if !(c.RemoteGradWeight >= 0) || math.IsInf(c.RemoteGradWeight, 0) {
		return usageErrorf("remote_grad_weight", "%v, want a finite value >= 0", c.RemoteGradWeight)
	}
	if c.RemoteGradMaxAge <= 0 {
		return usageErrorf("remote_grad_max_age", "%v, want a positive duration", c.RemoteGradMaxAge)
	}
	if !slices.Contains(trainer.OptimizerNames(), c.Optimizer) && c.Optimizer != "" {
		return usageErrorf("optimizer", "%q, want one of %s (or none: the neuron's own recipe)", c.Optimizer, strings.Join(trainer.OptimizerNames(), ", "))
	}
	if !(c.LearningRate >= 0) || math.IsInf(c.LearningRate, 0) {
		return usageErrorf("learning_rate", "%v, want a finite value > 0 (or 0: the recipe's own)", c.LearningRate)
	}
	if c.WarmupSteps < 0 {
		return usageErrorf("warmup_steps", "%d, want 0 (no warm-up) or more", c.WarmupSteps)
	}
	if c.ServeOnly && !c.RemoteGrads {
		return usageErrorf("serve_only", "a neuron that only serves learns from its callers alone; drop --remote_grads=false")
	}
	return nil
}

// remoteGradConfig returns the RemoteGradConfig the settings select.
func (c *Config) remoteGradConfig() synapse.RemoteGradConfig {
	r := synapse.DefaultRemoteGradConfig()
	r.Enabled, r.Weight, r.MaxAge = c.RemoteGrads, c.RemoteGradWeight, c.RemoteGradMaxAge
	return r
}

// trainer.Config returns the Trainer's settings among c's.
func (c *Config) TrainerConfig() trainer.Config {
	return trainer.Config{
		Epochs: c.Epochs, LogInterval: c.LogInterval, TestEvery: c.TestEvery, ModelPath: c.ModelPath,
		Optimizer: c.Optimizer, LearningRate: c.LearningRate, WarmupSteps: c.WarmupSteps,
		RemoteGrads: c.remoteGradConfig(), Log: c.Log, Progress: c.Progress,
	}
}

// maxBatchSize bounds --batch_size.
const maxBatchSize = 1 << 16

// checkHostPort reports whether s is a usable host:port address.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT such as 127.0.0.1:8120", s)
	}
	if host == "" || strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q has no usable host, want HOST:PORT such as 127.0.0.1:8120", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q has port %q, want 1 to 65535", s, port)
	}
	return nil
}
