package neuron

import (
	"context"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// startAxon serves syns on a free local port and returns the Axon and the
// synapses' definitions; the Axon is stopped when the test ends.
func startAxon(t *testing.T, cfg AxonConfig, syns ...Synapse) (*Axon, []*bittensorpb.Synapse) {
	t.Helper()
	cfg.Address = "127.0.0.1:0"
	a, err := NewAxon(cfg)
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
	return a, definitions(t, a.Addr(), syns...)
}

// newTestDendrite returns a Dendrite for testOut-wide outputs, closed when the test ends.
func newTestDendrite(t *testing.T, timeout time.Duration) *Dendrite {
	t.Helper()
	cfg := DefaultDendriteConfig()
	cfg.OutputDim = testOut
	cfg.Timeout, cfg.BackwardTimeout = timeout, timeout
	d, err := NewDendrite(testKey(t, 200), cfg)
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

func testConfigX() AxonConfig {
	cfg := DefaultAxonConfig()
	cfg.Address = "127.0.0.1:0"
	return cfg
}

// settledStats waits (bounded) until n RPCs have ended and returns the stats.
// gRPC reports an RPC's end to the stats handler after the client already has
// the answer, so the last RPC's status can lag behind the reply.
func settledStatsX(t *testing.T, snapshot func() AxonStats, n uint64) AxonStats {
	t.Helper()
	eventually.True(t, 5*time.Second, func() bool { return snapshot().Ended() >= n }, "%d RPCs ended", n)
	return snapshot()
}
