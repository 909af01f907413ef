package axon

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// The Axon's admission bounds the memory that requests can take, before any
// of their bytes are read:
//
//   - A connection beyond MaxConns is closed as soon as it is accepted
//     (limitListener), and each connection carries at most
//     MaxStreamsPerConn streams at once (HTTP/2 SETTINGS, enforced by gRPC).
//   - Every RPC is admitted when its headers arrive, before gRPC reads its
//     message (admission.tap, a grpc.InTapHandle). At most
//     MaxConcurrent+MaxQueued RPCs are admitted at once; the rest are refused
//     with RESOURCE_EXHAUSTED at once, and the bytes their callers already
//     sent are dropped unread.
//   - An admitted RPC keeps its admission until gRPC has finished it, answer
//     sent (the stats handler's End event), so its request and its response
//     both count. An RPC that ends before it is handled (cancelled by its
//     caller, an unknown method, a deadline already past) gives its admission
//     back when its stream ends. Each admission is given back exactly once.
//   - Of the admitted RPCs, at most MaxConcurrent run their handler at once;
//     the others (at most MaxQueued, by the bound above) wait for a turn in
//     admission.interceptor, or until their caller gives up.
//
// So at most MaxConcurrent+MaxQueued requests are in memory, each at most
// MaxMessageBytes on the wire.

// admission is the Axon's one admission mechanism: the server-wide count of
// admitted RPCs (tap, released by HandleRPC or the stream's end) and the turns
// to run (interceptor).
type admission struct {
	admitted    atomic.Int64
	maxAdmitted int64
	running     chan struct{}
	busyMessage string
}

func newAdmission(maxConcurrent, maxQueued int) *admission {
	maxConcurrent, maxQueued = max(maxConcurrent, 1), max(maxQueued, 0)
	return &admission{
		maxAdmitted: int64(maxConcurrent + maxQueued),
		running:     make(chan struct{}, maxConcurrent),
		busyMessage: fmt.Sprintf("axon: busy: %d requests running and %d queued", maxConcurrent, maxQueued),
	}
}

// ticket is one admitted RPC. Its state moves admitted → begun → released, or
// admitted → released; only the move to released gives the admission back.
type ticket struct {
	a     *admission
	state atomic.Int32
	stop  func() bool // unregisters the release at the stream's end
}

const (
	ticketAdmitted int32 = iota // admitted, not yet handled
	ticketBegun                 // gRPC is handling it: End releases it
	ticketReleased
)

// ticketKey is the context key of an RPC's *ticket.
type ticketKey struct{}

// tap admits an RPC or refuses it with RESOURCE_EXHAUSTED. gRPC calls it with
// the transport's lock held, before the request's message is read, so it
// never blocks.
func (a *admission) tap(ctx context.Context, _ *tap.Info) (context.Context, error) {
	if a.admitted.Add(1) > a.maxAdmitted {
		a.admitted.Add(-1)
		return nil, status.Error(codes.ResourceExhausted, a.busyMessage)
	}
	t := &ticket{a: a}
	ctx = context.WithValue(ctx, ticketKey{}, t)
	// The stream's context ends with the stream, whatever ends it; an RPC that
	// gRPC began handling is released by its End event instead.
	t.stop = context.AfterFunc(ctx, func() { t.release(ticketAdmitted) })
	return ctx, nil
}

// release gives the admission back if the ticket is in state from, and
// reports whether it did.
func (t *ticket) release(from int32) bool {
	if !t.state.CompareAndSwap(from, ticketReleased) {
		return false
	}
	t.a.admitted.Add(-1)
	return true
}

// interceptor runs an admitted RPC's handler when a turn is free, waiting for
// one while its caller waits.
func (a *admission) interceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	select {
	case a.running <- struct{}{}:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	defer func() { <-a.running }()
	return handler(ctx, req)
}

var _ stats.Handler = (*admission)(nil)

// TagRPC implements stats.Handler.
func (a *admission) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

// TagConn implements stats.Handler.
func (a *admission) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn implements stats.Handler.
func (a *admission) HandleConn(context.Context, stats.ConnStats) {}

// HandleRPC implements stats.Handler: Begin marks the RPC as handled, End
// releases it.
func (a *admission) HandleRPC(ctx context.Context, s stats.RPCStats) {
	t, ok := ctx.Value(ticketKey{}).(*ticket)
	if !ok {
		return
	}
	switch s.(type) {
	case *stats.Begin:
		t.state.CompareAndSwap(ticketAdmitted, ticketBegun)
	case *stats.End:
		if t.release(ticketBegun) {
			t.stop() // released here: nothing left for the stream's end to do
		}
	}
}

// inFlight returns how many RPCs are admitted now.
func (a *admission) inFlight() int64 { return a.admitted.Load() }

// limitListener closes the connections it accepts beyond max open at once.
type limitListener struct {
	net.Listener
	open atomic.Int64
	max  int64
}

// newLimitListener wraps lis so that at most max of its connections are open.
func newLimitListener(lis net.Listener, max int) net.Listener {
	return &limitListener{Listener: lis, max: int64(max)}
}

// Accept returns the next connection within the bound, closing the ones over it.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		_ = c.Close() // refused: the caller sees the connection reset
	}
}

// limitedConn gives its place back to its listener when closed, once.
type limitedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

// Close closes the connection and frees its place.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
