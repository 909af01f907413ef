// Package runtest holds what the examples' tests that run a whole neuron
// share: the settings of a run inside a test.
package runtest

import (
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/opentensor/bittensor-go/neuron"
)

// Config returns neuron.DefaultConfig changed for a run inside a test on
// this machine: the data read from data, the run folders made under
// logdir, a log line every step written as JSON to log, a metagraph that
// gossips every 100 ms and forgets a synapse 2 s after its last refresh,
// and the neuron announced at 127.0.0.1. The caller sets what its run is
// about (Epochs, BatchSize, Seed).
func Config(data, logdir string, log io.Writer) neuron.Config {
	cfg := neuron.DefaultConfig()
	cfg.DataDir, cfg.LogDir = data, logdir
	cfg.LogInterval = 1
	cfg.MetagraphPeriod, cfg.MetagraphTTL = 100*time.Millisecond, 2*time.Second
	cfg.RemoteIP = "127.0.0.1"
	cfg.Log = zerolog.New(log)
	return cfg
}
