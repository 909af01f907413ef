package axon

import (
	"context"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// Stats is a snapshot of an Axon's counters since it was created.
type Stats struct {
	// Requests counts RPCs received, refused ones included.
	Requests uint64
	// Errors counts RPCs answered with a status other than OK.
	Errors uint64
	// Codes counts RPCs by the status code they were answered with.
	Codes map[codes.Code]uint64
	// BytesIn and BytesOut count message bytes on the wire, requests and
	// responses, as gRPC framed them (before any compression).
	BytesIn, BytesOut uint64
	// Latency is the total time from receiving an RPC's headers to sending its
	// status, over all RPCs; MaxLatency is the longest single one.
	Latency, MaxLatency time.Duration
}

// MeanLatency returns the average latency of an RPC, or 0 with no RPCs.
func (s Stats) MeanLatency() time.Duration {
	if s.Requests == 0 {
		return 0
	}
	return s.Latency / time.Duration(s.Requests)
}

// Ended returns how many RPCs have ended: the sum of Codes.
func (s Stats) Ended() uint64 {
	var n uint64
	for _, c := range s.Codes {
		n += c
	}
	return n
}

// numCodes bounds the gRPC status codes counted one by one; codes.Unauthenticated is the last.
const numCodes = int(codes.Unauthenticated) + 1

// axonMetrics counts an Axon's RPCs. It is a gRPC stats.Handler rather than an
// interceptor so that it also sees the RPCs gRPC refuses before any handler
// runs, such as messages over the size limit.
type axonMetrics struct {
	requests, bytesIn, bytesOut atomic.Uint64
	latencyNs, maxLatencyNs     atomic.Int64
	codes                       [numCodes]atomic.Uint64
}

var _ stats.Handler = (*axonMetrics)(nil)

func (m *axonMetrics) snapshot() Stats {
	s := Stats{
		Requests:   m.requests.Load(),
		BytesIn:    m.bytesIn.Load(),
		BytesOut:   m.bytesOut.Load(),
		Latency:    time.Duration(m.latencyNs.Load()),
		MaxLatency: time.Duration(m.maxLatencyNs.Load()),
		Codes:      make(map[codes.Code]uint64),
	}
	for c := range m.codes {
		if n := m.codes[c].Load(); n > 0 {
			s.Codes[codes.Code(c)] = n
			if codes.Code(c) != codes.OK {
				s.Errors += n
			}
		}
	}
	return s
}

// TagRPC implements stats.Handler.
func (m *axonMetrics) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

// TagConn implements stats.Handler.
func (m *axonMetrics) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn implements stats.Handler.
func (m *axonMetrics) HandleConn(context.Context, stats.ConnStats) {}

// refused counts an RPC refused before gRPC handled it, with err's status.
func (m *axonMetrics) refused(err error) {
	m.requests.Add(1)
	m.codes[countedCode(err)].Add(1)
}

// countedCode returns err's status code, or Unknown for a code not counted one by one.
func countedCode(err error) codes.Code {
	if c := status.Code(err); int(c) < numCodes {
		return c
	}
	return codes.Unknown
}

// HandleRPC implements stats.Handler.
func (m *axonMetrics) HandleRPC(_ context.Context, s stats.RPCStats) {
	switch s := s.(type) {
	case *stats.Begin:
		m.requests.Add(1)
	case *stats.InPayload:
		m.bytesIn.Add(uint64(s.WireLength))
	case *stats.OutPayload:
		m.bytesOut.Add(uint64(s.WireLength))
	case *stats.End:
		m.codes[countedCode(s.Error)].Add(1)
		d := s.EndTime.Sub(s.BeginTime).Nanoseconds()
		m.latencyNs.Add(d)
		for {
			old := m.maxLatencyNs.Load()
			if d <= old || m.maxLatencyNs.CompareAndSwap(old, d) {
				break
			}
		}
	}
}
