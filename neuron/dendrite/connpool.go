package dendrite

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/opentensor/bittensor-go/neuron/internal/connpool"
)

// ConnPool is the one bounded pool of gRPC client connections that a
// neuron's Dendrite (to peers' Axons) and its Metagraph (to peers' gossip
// ports) share: at most maxConns connections, the least recently used one
// evicted to make room and closed once no call uses it, and one unused for
// idle closed. Each caller sets its own message size limits per call. The
// owner closes it after its users. It is safe for concurrent use.
type ConnPool struct{ pool *connpool.Pool }

// NewConnPool returns an empty pool of at most maxConns connections, each
// closed after idle unused.
func NewConnPool(maxConns int, idle time.Duration) *ConnPool {
	return &ConnPool{pool: connpool.New(connpool.Config{
		MaxConns:    maxConns,
		IdleTimeout: idle,
		DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
	})}
}

// Len returns how many connections the pool holds.
func (p *ConnPool) Len() int { return p.pool.Len() }

// Close closes every pooled connection, failing the calls in flight on them.
func (p *ConnPool) Close() error { return p.pool.Close() }

// messageSizes are the call options bounding a message in both directions.
func messageSizes(maxBytes int) []grpc.CallOption {
	return []grpc.CallOption{grpc.MaxCallRecvMsgSize(maxBytes), grpc.MaxCallSendMsgSize(maxBytes)}
}

// Shared returns the pool itself, for other users of the same connections
// (the Metagraph's gossip dials through it).
func (p *ConnPool) Shared() *connpool.Pool { return p.pool }
