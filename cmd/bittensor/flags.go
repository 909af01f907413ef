package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/trainer"
)

// envVars returns the environment variable that sets flag name: BT_<NAME>.
func envVars(name string) []string { return []string{"BT_" + strings.ToUpper(name)} }

// neuronFlags are the settings of `bittensor run NEURON`, defaulting to
// neuron.DefaultConfig.
func neuronFlags() []cli.Flag {
	d := neuron.DefaultConfig()
	return []cli.Flag{
		&cli.StringFlag{Name: "chain_endpoint", EnvVars: envVars("chain_endpoint"),
			Usage: "the chain to register with and find peers on, etcd://HOST:PORT[,HOST:PORT…]; empty finds peers by gossip"},
		&cli.IntFlag{Name: "axon_port", Value: d.AxonPort, EnvVars: envVars("axon_port"),
			Usage: "Axon terminal bind port; 0 picks a free port"},
		&cli.IntFlag{Name: "metagraph_port", Value: d.MetagraphPort, EnvVars: envVars("metagraph_port"),
			Usage: "Metagraph bind port, the one peers --bootstrap through; 0 picks a free port"},
		&cli.IntFlag{Name: "metrics_port", Value: d.MetricsPort, EnvVars: envVars("metrics_port"),
			Usage: "port of the live page (/) and the Prometheus metrics (/metrics); 0 picks a free port (logged), -1 turns them off"},
		&cli.IntFlag{Name: "metagraph_size", Value: d.MetagraphSize, EnvVars: envVars("metagraph_size"),
			Usage: "Metagraph cache size: the most synapse definitions kept"},
		&cli.StringFlag{Name: "bootstrap", Value: d.Bootstrap, EnvVars: envVars("bootstrap"),
			Usage: "Metagraph boot peer, HOST:PORT (e.g. 127.0.0.1:8120); without it the neuron waits to be found"},
		&cli.StringFlag{Name: "neuron_key", Value: d.NeuronKey, EnvVars: envVars("neuron_key"),
			Usage: "neuron key file to sign with, created if missing (see bittensor keygen); empty uses a fresh key for this run"},
		&cli.StringFlag{Name: "remote_ip", Value: d.RemoteIP, EnvVars: envVars("remote_ip"),
			Usage: "remote serving IP: the address peers reach this neuron at"},
		&cli.StringFlag{Name: "model_path", Value: d.ModelPath, EnvVars: envVars("model_path"),
			Usage: "path to a saved checkpoint of the model to resume training from"},
		&cli.StringFlag{Name: "logdir", Value: d.LogDir, EnvVars: envVars("logdir"),
			Usage: "folder for checkpoints (the best model and the last state, in a folder per run)"},
		&cli.StringFlag{Name: "data_dir", Value: d.DataDir, EnvVars: envVars("data_dir"),
			Usage: "folder with the dataset's files; empty uses the copy in the Go module cache"},
		&cli.IntFlag{Name: "epochs", Value: d.Epochs, EnvVars: envVars("epochs"),
			Usage: "passes over the training set"},
		&cli.IntFlag{Name: "batch_size", Value: d.BatchSize, EnvVars: envVars("batch_size"),
			Usage: "examples per training step"},
		&cli.StringFlag{Name: "device", Value: d.Device, EnvVars: envVars("device"),
			Usage: "where to compute: cpu, cuda or cuda:N"},
		&cli.IntFlag{Name: "log_interval", Value: d.LogInterval, EnvVars: envVars("log_interval"),
			Usage: "training steps between two log lines"},
		&cli.IntFlag{Name: "test_every", Value: d.TestEvery, EnvVars: envVars("test_every"),
			Usage: "training steps between two passes over the test set (0: after each epoch only)"},
		&cli.DurationFlag{Name: "metagraph_period", Value: d.MetagraphPeriod, EnvVars: envVars("metagraph_period"),
			Usage: "time between two gossip rounds of the Metagraph"},
		&cli.DurationFlag{Name: "metagraph_ttl", Value: d.MetagraphTTL, EnvVars: envVars("metagraph_ttl"),
			Usage: "how long a synapse definition lives without its owner's refresh"},
		&cli.BoolFlag{Name: "remote_grads", Value: d.RemoteGrads, EnvVars: envVars("remote_grads"),
			Usage: "let the served model learn from the gradients callers send with Backward (--remote_grads=false turns it off)"},
		&cli.Float64Flag{Name: "remote_grad_weight", Value: d.RemoteGradWeight, EnvVars: envVars("remote_grad_weight"),
			Usage: "weight of the callers' mean gradient (each clipped to norm 1 per step) against the neuron's own"},
		&cli.DurationFlag{Name: "remote_grad_max_age", Value: d.RemoteGradMaxAge, EnvVars: envVars("remote_grad_max_age"),
			Usage: "callers' gradients that waited longer than this for a training step are dropped"},
		&cli.BoolFlag{Name: "serve_only", Value: d.ServeOnly, EnvVars: envVars("serve_only"),
			Usage: "serve without training data: the model learns only from its callers' gradients"},
		&cli.StringFlag{Name: "optimizer", Value: d.Optimizer, EnvVars: envVars("optimizer"),
			Usage: "replace the neuron's training recipe (the seed's SGD) with another optimizer: " +
				strings.Join(trainer.OptimizerNames(), ", ") + "; empty keeps the recipe"},
		&cli.Float64Flag{Name: "learning_rate", Value: d.LearningRate, EnvVars: envVars("learning_rate"),
			Usage: fmt.Sprintf("learning rate; 0 keeps the recipe's (SGD: the neuron's own, adam and adamw: %g)", trainer.DefaultAdamLR)},
		&cli.IntFlag{Name: "warmup_steps", Value: d.WarmupSteps, EnvVars: envVars("warmup_steps"),
			Usage: "raise the learning rate linearly over the first N training steps (0: no warm-up)"},
		&cli.Uint64Flag{Name: "seed", Value: d.Seed, EnvVars: envVars("seed"),
			Usage: "seed of the model's initialisation and the data order (0: random)", Hidden: true},
	}
}

// configFromFlags reads the flags of a neuron subcommand into a Config.
func configFromFlags(cCtx *cli.Context) neuron.Config {
	c := neuron.DefaultConfig()
	c.ChainEndpoint = cCtx.String("chain_endpoint")
	c.AxonPort = cCtx.Int("axon_port")
	c.MetagraphPort = cCtx.Int("metagraph_port")
	c.MetricsPort = cCtx.Int("metrics_port")
	c.MetagraphSize = cCtx.Int("metagraph_size")
	c.Bootstrap = cCtx.String("bootstrap")
	c.NeuronKey = cCtx.String("neuron_key")
	c.RemoteIP = cCtx.String("remote_ip")
	c.ModelPath = cCtx.String("model_path")
	c.LogDir = cCtx.String("logdir")
	c.DataDir = cCtx.String("data_dir")
	c.Epochs = cCtx.Int("epochs")
	c.BatchSize = cCtx.Int("batch_size")
	c.Device = cCtx.String("device")
	c.LogInterval = cCtx.Int("log_interval")
	c.TestEvery = cCtx.Int("test_every")
	c.MetagraphPeriod = cCtx.Duration("metagraph_period")
	c.MetagraphTTL = cCtx.Duration("metagraph_ttl")
	c.RemoteGrads = cCtx.Bool("remote_grads")
	c.RemoteGradWeight = cCtx.Float64("remote_grad_weight")
	c.RemoteGradMaxAge = cCtx.Duration("remote_grad_max_age")
	c.ServeOnly = cCtx.Bool("serve_only")
	c.Seed = cCtx.Uint64("seed")
	c.Optimizer = cCtx.String("optimizer")
	c.LearningRate = cCtx.Float64("learning_rate")
	c.WarmupSteps = cCtx.Int("warmup_steps")
	return c
}
