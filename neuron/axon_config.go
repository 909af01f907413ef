package neuron

import (
	"fmt"
	"time"

	"google.golang.org/grpc"
)

// AxonConfig configures an Axon. DefaultAxonConfig documents every default.
type AxonConfig struct {
	// Address is the host:port the Axon listens on; port 0 picks a free one.
	Address string
	// MaxMessageBytes bounds a request and a response on the wire; larger
	// requests are refused by gRPC with RESOURCE_EXHAUSTED.
	MaxMessageBytes int
	// MaxConcurrent is how many requests run at once; MaxQueued more wait for
	// a turn, and requests beyond that are refused with RESOURCE_EXHAUSTED.
	// Admitted requests hold at most (MaxConcurrent+MaxQueued) ×
	// MaxMessageBytes of request messages in memory.
	MaxConcurrent, MaxQueued int
	// Limits bound each decoded tensor.
	Limits Limits
	// ReplayWindow is how far a request's nonce (the caller's clock) may lie
	// behind or ahead of this machine's clock. Inside it each nonce is accepted
	// once per caller; the replay guard holds one entry per request accepted
	// within about 2 × ReplayWindow, so a longer window tolerates more clock
	// skew and network delay at the cost of memory (see ReplayGuard).
	ReplayWindow time.Duration
	// Now is the clock of the replay guard; nil means time.Now.
	Now func() time.Time
}

// DefaultAxonConfig returns the configuration of a neuron's Axon: port 8091 on
// every interface, 64 MiB messages, two requests at a time (libtorch already
// spreads one forward over the cores) with 16 queued, DefaultLimits, and
// nonces accepted within a minute either side of the clock.
func DefaultAxonConfig() AxonConfig {
	return AxonConfig{
		Address:         ":8091",
		MaxMessageBytes: 64 << 20,
		MaxConcurrent:   2,
		MaxQueued:       16,
		Limits:          DefaultLimits(),
		ReplayWindow:    time.Minute,
	}
}

// validate reports a configuration the Axon cannot run with.
func (c AxonConfig) validate() error {
	switch {
	case c.MaxMessageBytes <= 0:
		return fmt.Errorf("axon: MaxMessageBytes is %d, want > 0", c.MaxMessageBytes)
	case c.MaxConcurrent <= 0:
		return fmt.Errorf("axon: MaxConcurrent is %d, want > 0", c.MaxConcurrent)
	case c.MaxQueued < 0:
		return fmt.Errorf("axon: MaxQueued is %d, want >= 0", c.MaxQueued)
	case c.ReplayWindow <= 0:
		return fmt.Errorf("axon: ReplayWindow is %v, want > 0", c.ReplayWindow)
	case c.Limits.MaxTensors <= 0 || c.Limits.MaxRank <= 0 || c.Limits.MaxElements <= 0:
		return fmt.Errorf("axon: Limits %+v: tensors, rank and elements must be > 0", c.Limits)
	}
	return nil
}

// serverOptions returns the gRPC options every Axon server runs with: the
// message size limits, the metrics handler, and the interceptors in order:
// admission first (so refused work costs nothing), then the synapse lookup and
// authentication (authInterceptor).
func (c AxonConfig) serverOptions(m *axonMetrics, adm *admission, served func(synapseKey string) error, guard *ReplayGuard) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(c.MaxMessageBytes),
		grpc.MaxSendMsgSize(c.MaxMessageBytes),
		grpc.StatsHandler(m),
		grpc.ChainUnaryInterceptor(adm.interceptor, authInterceptor(served, guard)),
		// A forward cannot be interrupted: Stop waits for the running ones.
		grpc.WaitForHandlers(true),
	}
}
