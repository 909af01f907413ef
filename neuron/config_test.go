package neuron_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c := neuron.DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		flag   string
		mutate func(*neuron.Config)
	}{
		{"chain_endpoint", func(c *neuron.Config) { c.ChainEndpoint = "206.189.254.5:12345" }},
		{"chain_endpoint", func(c *neuron.Config) { c.ChainEndpoint = "etcd://" }},
		{"chain_endpoint", func(c *neuron.Config) { c.ChainEndpoint = "etcd://127.0.0.1:2379,127.0.0.1" }},
		{"bootstrap", func(c *neuron.Config) { c.ChainEndpoint, c.Bootstrap = "etcd://127.0.0.1:2379", "127.0.0.1:8120" }},
		{"axon_port", func(c *neuron.Config) { c.AxonPort = -1 }},
		{"metagraph_port", func(c *neuron.Config) { c.MetagraphPort = 65536 }},
		{"metagraph_port", func(c *neuron.Config) { c.AxonPort, c.MetagraphPort = 8091, 8091 }},
		{"metagraph_size", func(c *neuron.Config) { c.MetagraphSize = 0 }},
		{"bootstrap", func(c *neuron.Config) { c.Bootstrap = "127.0.0.1" }},
		{"bootstrap", func(c *neuron.Config) { c.Bootstrap = ":8120" }},
		{"bootstrap", func(c *neuron.Config) { c.Bootstrap = "127.0.0.1:0" }},
		{"remote_ip", func(c *neuron.Config) { c.RemoteIP = "" }},
		{"logdir", func(c *neuron.Config) { c.LogDir = "" }},
		{"epochs", func(c *neuron.Config) { c.Epochs = 0 }},
		{"batch_size", func(c *neuron.Config) { c.BatchSize = 0 }},
		{"batch_size", func(c *neuron.Config) { c.BatchSize = 1 << 20 }},
		{"device", func(c *neuron.Config) { c.Device = "cuda:-1" }},
		{"log_interval", func(c *neuron.Config) { c.LogInterval = 0 }},
		{"test_every", func(c *neuron.Config) { c.TestEvery = -1 }},
		{"metagraph_period", func(c *neuron.Config) { c.MetagraphPeriod = 0 }},
		{"metagraph_ttl", func(c *neuron.Config) { c.MetagraphTTL = c.MetagraphPeriod }},
		{"metrics_port", func(c *neuron.Config) { c.MetricsPort = -2 }},
		{"metrics_port", func(c *neuron.Config) { c.MetricsPort = 65536 }},
		{"metrics_port", func(c *neuron.Config) { c.AxonPort, c.MetricsPort = 8091, 8091 }},
		{"optimizer", func(c *neuron.Config) { c.Optimizer = "lamb" }},
		{"learning_rate", func(c *neuron.Config) { c.LearningRate = -0.1 }},
		{"learning_rate", func(c *neuron.Config) { c.LearningRate = math.NaN() }},
		{"learning_rate", func(c *neuron.Config) { c.LearningRate = math.Inf(1) }},
		{"warmup_steps", func(c *neuron.Config) { c.WarmupSteps = -1 }},
	}
	for _, tc := range cases {
		c := neuron.DefaultConfig()
		tc.mutate(&c)
		err := c.Validate()
		var ue *neuron.UsageError
		if !errors.As(err, &ue) || ue.Flag != tc.flag || !strings.HasPrefix(err.Error(), "--"+tc.flag+": ") {
			t.Errorf("%s: got %v, want a UsageError for --%s", tc.flag, err, tc.flag)
		}
	}
	ok := neuron.DefaultConfig()
	ok.Bootstrap, ok.Device, ok.MetagraphPeriod, ok.MetagraphTTL = "localhost:8120", "cuda:1", time.Second, 3*time.Second
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	chain := neuron.DefaultConfig()
	chain.ChainEndpoint = "etcd://127.0.0.1:2379,10.0.0.2:2379"
	if err := chain.Validate(); err != nil {
		t.Fatalf("valid chain endpoint refused: %v", err)
	}
}
