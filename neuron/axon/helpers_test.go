package axon

import (
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
)

// testConfig returns the default Axon settings on a free loopback port.
func AxonConfig() Config {
	cfg := DefaultConfig()
	cfg.Address = "127.0.0.1:0"
	return cfg
}

// settledStats waits (bounded) until n RPCs have ended and returns the stats.
// gRPC reports an RPC's end to the stats handler after the client already has
// the answer, so the last RPC's status can lag behind the reply.
func SettledStats(t *testing.T, snapshot func() Stats, n uint64) Stats {
	t.Helper()
	eventually.True(t, 5*time.Second, func() bool { return snapshot().Ended() >= n }, "%d RPCs ended", n)
	return snapshot()
}
