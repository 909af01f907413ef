package observe

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// latencyBuckets are the latency histograms' buckets in seconds, from 1 ms
// (an in-memory answer) to 30 s (past every default deadline).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// axonHandler is a gRPC stats.Handler that counts an Axon's RPCs. Its
// method label is Forward, Backward or other: the method name comes from the
// caller, so only the served ones get a label of their own.
type axonHandler struct {
	requests *prometheus.CounterVec   // method, code
	bytesIn  *prometheus.CounterVec   // method
	bytesOut *prometheus.CounterVec   // method
	latency  *prometheus.HistogramVec // method
	inFlight prometheus.Gauge
}

func newAxonHandler(reg prometheus.Registerer) *axonHandler {
	h := &axonHandler{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bittensor_axon_requests_total",
			Help: "RPCs the Axon answered, by method and gRPC status code (refusals included).",
		}, []string{"method", "code"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bittensor_axon_received_bytes_total",
			Help: "Request message bytes the Axon received, as framed on the wire.",
		}, []string{"method"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bittensor_axon_sent_bytes_total",
			Help: "Response message bytes the Axon sent, as framed on the wire.",
		}, []string{"method"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bittensor_axon_request_duration_seconds",
			Help:    "Time from an RPC's headers to its status, by method.",
			Buckets: latencyBuckets,
		}, []string{"method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bittensor_axon_requests_in_flight",
			Help: "RPCs the Axon is answering now.",
		}),
	}
	reg.MustRegister(h.requests, h.bytesIn, h.bytesOut, h.latency, h.inFlight)
	return h
}

// AxonHandler returns the gRPC stats.Handler to run the Axon's server with.
func (o *Observer) AxonHandler() stats.Handler { return o.axon }

// methodKey carries an RPC's method label in its context.
type methodKey struct{}

// methodLabel returns the label of a full gRPC method name.
func methodLabel(full string) string {
	switch full[strings.LastIndexByte(full, '/')+1:] {
	case "Forward":
		return "Forward"
	case "Backward":
		return "Backward"
	}
	return "other"
}

// TagRPC implements stats.Handler.
func (h *axonHandler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, methodKey{}, methodLabel(info.FullMethodName))
}

// TagConn implements stats.Handler.
func (h *axonHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn implements stats.Handler.
func (h *axonHandler) HandleConn(context.Context, stats.ConnStats) {}

// HandleRPC implements stats.Handler.
func (h *axonHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	method, ok := ctx.Value(methodKey{}).(string)
	if !ok {
		method = "other"
	}
	switch s := s.(type) {
	case *stats.Begin:
		h.inFlight.Inc()
	case *stats.InPayload:
		h.bytesIn.WithLabelValues(method).Add(float64(s.WireLength))
	case *stats.OutPayload:
		h.bytesOut.WithLabelValues(method).Add(float64(s.WireLength))
	case *stats.End:
		h.inFlight.Dec()
		h.requests.WithLabelValues(method, status.Code(s.Error).String()).Inc()
		h.latency.WithLabelValues(method).Observe(s.EndTime.Sub(s.BeginTime).Seconds())
	}
}

// axonTotals are an Axon's counters summed over their labels.
type axonTotals struct{ requests, errors, bytesIn, bytesOut float64 }

// totals sums the counters over their labels.
func (h *axonHandler) totals() axonTotals {
	var t axonTotals
	for _, m := range gather(h.requests) {
		v := m.GetCounter().GetValue()
		t.requests += v
		for _, l := range m.GetLabel() {
			if l.GetName() == "code" && l.GetValue() != "OK" {
				t.errors += v
			}
		}
	}
	t.bytesIn = sum(gather(h.bytesIn))
	t.bytesOut = sum(gather(h.bytesOut))
	return t
}
