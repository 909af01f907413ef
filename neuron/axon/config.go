package axon

import (
	"context"
	"fmt"
	"time"

	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/tap"
)

// Config configures an Axon. DefaultConfig documents every default.
//
// Memory bound. Every limit below applies before a request's message is read
// (see the admission rules in axon_admission.go): at most
// MaxConcurrent+MaxQueued RPCs are admitted server-wide, the rest are refused
// with RESOURCE_EXHAUSTED from their headers alone, and an admitted RPC holds
// at most one request and one response of at most MaxMessageBytes each. So
// the memory that requests take at once stays below about
//
//	(MaxConcurrent + MaxQueued) × MaxMessageBytes × 4
//
// however many callers send: a request in hand exists as the bytes received,
// the decoded message and the tensors made from it, and the collector returns
// the garbage of finished ones only by and by (bench/flood measures the
// factor; docs/benchmarks.md has its figures). With the defaults that is 18 × 64 MiB ×
// 4 ≈ 4.5 GiB at the very worst; lower MaxQueued or MaxMessageBytes on a small
// machine. MaxConns and MaxStreamsPerConn bound the connections and streams
// (and so the goroutines and HTTP/2 buffers) that callers can open.
type Config struct {
	// Address is the host:port the Axon listens on; port 0 picks a free one.
	Address string
	// MaxMessageBytes bounds a request and a response on the wire; larger
	// requests are refused by gRPC with RESOURCE_EXHAUSTED.
	MaxMessageBytes int
	// MaxConcurrent is how many requests run at once; MaxQueued more wait for
	// a turn, and requests beyond that are refused with RESOURCE_EXHAUSTED
	// before their message is read.
	MaxConcurrent, MaxQueued int
	// MaxConns bounds the connections open at once; connections beyond it
	// are closed when accepted.
	MaxConns int
	// MaxStreamsPerConn bounds the RPCs one connection carries at once
	// (HTTP/2 MAX_CONCURRENT_STREAMS); a caller's further RPCs wait on its side.
	MaxStreamsPerConn int
	// Limits bound each decoded tensor.
	Limits wire.Limits
	// ReplayWindow is how far a request's nonce (the caller's clock) may lie
	// behind or ahead of this machine's clock. Inside it each nonce is accepted
	// once per caller; the replay guard holds one entry per request accepted
	// within about 2 × ReplayWindow, so a longer window tolerates more clock
	// skew and network delay at the cost of memory (see replayGuard).
	ReplayWindow time.Duration
	// Now is the clock of the replay guard; nil means time.Now.
	Now func() time.Time
	// StatsHandlers, when set, see every RPC the Axon answers, as gRPC
	// stats.Handlers do (metrics, say). An RPC refused by admission from its
	// headers alone, which gRPC never shows its handlers, is shown to them
	// as one that began and ended at once with its error.
	StatsHandlers []stats.Handler
}

// DefaultConfig returns the configuration of a neuron's Axon: port 8091 on
// every interface, 64 MiB messages, two requests at a time (libtorch already
// spreads one forward over the cores) with 16 queued, 1024 connections of at
// most 32 streams each, DefaultLimits, and nonces accepted within a minute
// either side of the clock.
func DefaultConfig() Config {
	return Config{
		Address:         ":8091",
		MaxMessageBytes: 64 << 20,
		MaxConcurrent:   2,
		MaxQueued:       16,
		Limits:          wire.DefaultLimits(),
		ReplayWindow:    time.Minute,

		MaxConns:          1024,
		MaxStreamsPerConn: 32,
	}
}

// validate reports a configuration the Axon cannot run with.
func (c Config) validate() error {
	switch {
	case c.MaxMessageBytes <= 0:
		return fmt.Errorf("axon: MaxMessageBytes is %d, want > 0", c.MaxMessageBytes)
	case c.MaxConcurrent <= 0:
		return fmt.Errorf("axon: MaxConcurrent is %d, want > 0", c.MaxConcurrent)
	case c.MaxQueued < 0:
		return fmt.Errorf("axon: MaxQueued is %d, want >= 0", c.MaxQueued)
	case c.MaxConns <= 0:
		return fmt.Errorf("axon: MaxConns is %d, want > 0", c.MaxConns)
	case c.MaxStreamsPerConn <= 0:
		return fmt.Errorf("axon: MaxStreamsPerConn is %d, want > 0", c.MaxStreamsPerConn)
	case c.ReplayWindow <= 0:
		return fmt.Errorf("axon: ReplayWindow is %v, want > 0", c.ReplayWindow)
	case c.Limits.MaxTensors <= 0 || c.Limits.MaxRank <= 0 || c.Limits.MaxElements <= 0:
		return fmt.Errorf("axon: Limits %+v: tensors, rank and elements must be > 0", c.Limits)
	}
	return nil
}

// serverOptions returns the gRPC options every Axon server runs with: the
// message size and stream limits, admission before a message is read (the tap
// and its stats handler), the metrics handler and the configured ones, and the interceptors in order:
// admission's turn to run first (so refused work costs nothing), then the
// synapse lookup and authentication (authInterceptor).
func (c Config) serverOptions(m *axonMetrics, adm *admission, served func(synapseKey string) error, guard *replayGuard) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(c.MaxMessageBytes),
		grpc.MaxSendMsgSize(c.MaxMessageBytes),
		grpc.MaxConcurrentStreams(uint32(c.MaxStreamsPerConn)),
		grpc.InTapHandle(func(ctx context.Context, info *tap.Info) (context.Context, error) {
			admitted, err := adm.tap(ctx, info)
			if err != nil {
				m.refused(err) // gRPC's stats handlers never see a tapped-out RPC
				for _, h := range c.StatsHandlers {
					reportRefused(ctx, h, info.FullMethodName, err)
				}
			}
			return admitted, err
		}),
		grpc.StatsHandler(adm),
		grpc.StatsHandler(m),
		grpc.ChainUnaryInterceptor(adm.interceptor, authInterceptor(served, guard)),
		// A forward cannot be interrupted: Stop waits for the running ones.
		grpc.WaitForHandlers(true),
	}
	for _, h := range c.StatsHandlers {
		opts = append(opts, grpc.StatsHandler(h))
	}
	return opts
}

// reportRefused shows h an RPC of method refused before gRPC handled it:
// one that began and ended now with err.
func reportRefused(ctx context.Context, h stats.Handler, method string, err error) {
	ctx = h.TagRPC(ctx, &stats.RPCTagInfo{FullMethodName: method})
	now := time.Now()
	h.HandleRPC(ctx, &stats.Begin{BeginTime: now})
	h.HandleRPC(ctx, &stats.End{BeginTime: now, EndTime: now, Error: err})
}
