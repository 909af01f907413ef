package observe

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/stats"
)

// BenchmarkAxonHandlerPerRPC is what the metrics add to one Axon RPC: the
// tag and the four events of a unary call.
func BenchmarkAxonHandlerPerRPC(b *testing.B) {
	h := New(DefaultConfig()).AxonHandler()
	info := &stats.RPCTagInfo{FullMethodName: "/Bittensor/Forward"}
	now := time.Now()
	in, out := &stats.InPayload{WireLength: 200 << 10}, &stats.OutPayload{WireLength: 128 << 10}
	begin, end := &stats.Begin{BeginTime: now}, &stats.End{BeginTime: now, EndTime: now.Add(time.Millisecond)}
	for b.Loop() {
		ctx := h.TagRPC(context.Background(), info)
		h.HandleRPC(ctx, begin)
		h.HandleRPC(ctx, in)
		h.HandleRPC(ctx, out)
		h.HandleRPC(ctx, end)
	}
}

// BenchmarkDendriteCall is what the metrics add to one Dendrite call.
func BenchmarkDendriteCall(b *testing.B) {
	o := New(DefaultConfig())
	key := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for b.Loop() {
		o.DendriteCall(key, false, time.Millisecond, OutcomeSuccess)
	}
}
