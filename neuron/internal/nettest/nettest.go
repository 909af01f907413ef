package nettest

import (
	"context"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/axon"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/synapse"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// StartAxon serves syns on a free local port and returns the Axon and the
// synapses' definitions; the Axon is stopped when the test ends.
func StartAxon(t *testing.T, cfg axon.Config, syns ...synapse.Synapse) (*axon.Axon, []*bittensorpb.Synapse) {
	t.Helper()
	cfg.Address = "127.0.0.1:0"
	a, err := axon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syns {
		if err := a.Serve(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("axon stop: %v", err)
		}
	})
	return a, fixture.Definitions(t, a.Addr(), syns...)
}

// NewDendrite returns a Dendrite for testOut-wide outputs, closed when the test ends.
func NewDendrite(t *testing.T, timeout time.Duration) *dendrite.Dendrite {
	t.Helper()
	cfg := dendrite.DefaultConfig()
	cfg.OutputDim = fixture.Out
	cfg.Timeout, cfg.BackwardTimeout = timeout, timeout
	d, err := dendrite.New(fixture.Key(t, 200), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("dendrite close: %v", err)
		}
	})
	return d
}

func AxonConfig() axon.Config {
	cfg := axon.DefaultConfig()
	cfg.Address = "127.0.0.1:0"
	return cfg
}

// SettledStats waits (bounded) until n RPCs have ended and returns the stats.
// gRPC reports an RPC's end to the stats handler after the client already has
// the answer, so the last RPC's status can lag behind the reply.
func SettledStats(t *testing.T, snapshot func() axon.Stats, n uint64) axon.Stats {
	t.Helper()
	eventually.True(t, 5*time.Second, func() bool { return snapshot().Ended() >= n }, "%d RPCs ended", n)
	return snapshot()
}
