package neuron

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		flag   string
		mutate func(*Config)
	}{
		{"chain_endpoint", func(c *Config) { c.ChainEndpoint = "206.189.254.5:12345" }},
		{"chain_endpoint", func(c *Config) { c.ChainEndpoint = "etcd://" }},
		{"chain_endpoint", func(c *Config) { c.ChainEndpoint = "etcd://127.0.0.1:2379,127.0.0.1" }},
		{"bootstrap", func(c *Config) { c.ChainEndpoint, c.Bootstrap = "etcd://127.0.0.1:2379", "127.0.0.1:8120" }},
		{"axon_port", func(c *Config) { c.AxonPort = -1 }},
		{"metagraph_port", func(c *Config) { c.MetagraphPort = 65536 }},
		{"metagraph_port", func(c *Config) { c.AxonPort, c.MetagraphPort = 8091, 8091 }},
		{"metagraph_size", func(c *Config) { c.MetagraphSize = 0 }},
		{"bootstrap", func(c *Config) { c.Bootstrap = "127.0.0.1" }},
		{"bootstrap", func(c *Config) { c.Bootstrap = ":8120" }},
		{"bootstrap", func(c *Config) { c.Bootstrap = "127.0.0.1:0" }},
		{"remote_ip", func(c *Config) { c.RemoteIP = "" }},
		{"logdir", func(c *Config) { c.LogDir = "" }},
		{"epochs", func(c *Config) { c.Epochs = 0 }},
		{"batch_size", func(c *Config) { c.BatchSize = 0 }},
		{"batch_size", func(c *Config) { c.BatchSize = 1 << 20 }},
		{"device", func(c *Config) { c.Device = "cuda:-1" }},
		{"log_interval", func(c *Config) { c.LogInterval = 0 }},
		{"test_every", func(c *Config) { c.TestEvery = -1 }},
		{"metagraph_period", func(c *Config) { c.MetagraphPeriod = 0 }},
		{"metagraph_ttl", func(c *Config) { c.MetagraphTTL = c.MetagraphPeriod }},
		{"metrics_port", func(c *Config) { c.MetricsPort = -2 }},
		{"metrics_port", func(c *Config) { c.MetricsPort = 65536 }},
		{"metrics_port", func(c *Config) { c.AxonPort, c.MetricsPort = 8091, 8091 }},
		{"optimizer", func(c *Config) { c.Optimizer = "lamb" }},
		{"learning_rate", func(c *Config) { c.LearningRate = -0.1 }},
		{"learning_rate", func(c *Config) { c.LearningRate = math.NaN() }},
		{"learning_rate", func(c *Config) { c.LearningRate = math.Inf(1) }},
		{"warmup_steps", func(c *Config) { c.WarmupSteps = -1 }},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.mutate(&c)
		err := c.Validate()
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Flag != tc.flag || !strings.HasPrefix(err.Error(), "--"+tc.flag+": ") {
			t.Errorf("%s: got %v, want a UsageError for --%s", tc.flag, err, tc.flag)
		}
	}
	ok := DefaultConfig()
	ok.Bootstrap, ok.Device, ok.MetagraphPeriod, ok.MetagraphTTL = "localhost:8120", "cuda:1", time.Second, 3*time.Second
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	chain := DefaultConfig()
	chain.ChainEndpoint = "etcd://127.0.0.1:2379,10.0.0.2:2379"
	if err := chain.Validate(); err != nil {
		t.Fatalf("valid chain endpoint refused: %v", err)
	}
}
