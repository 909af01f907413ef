package observe

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// dendriteMetrics counts a Dendrite's calls per peer. A peer is labelled by
// its synapse key's first 8 hex digits; only the first maxLabels synapses
// called get a label of their own, so that a network of thousands (or a
// flood of forged definitions) cannot grow the metrics without bound.
type dendriteMetrics struct {
	calls   *prometheus.CounterVec   // peer, direction, outcome
	latency *prometheus.HistogramVec // peer, direction

	maxLabels int
	mu        sync.Mutex
	labels    map[string]string // synapse key → peer label
}

func newDendriteMetrics(reg prometheus.Registerer, maxLabels int) *dendriteMetrics {
	d := &dendriteMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bittensor_dendrite_calls_total",
			Help: "Calls the Dendrite made, by peer (synapse key prefix, or other), direction " +
				"(forward, backward) and outcome (success, failure, timeout, bad_answer).",
		}, []string{"peer", "direction", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bittensor_dendrite_call_duration_seconds",
			Help:    "Time a Dendrite call took, failed ones included, by peer and direction.",
			Buckets: latencyBuckets,
		}, []string{"peer", "direction"}),
		maxLabels: maxLabels,
		labels:    make(map[string]string),
	}
	reg.MustRegister(d.calls, d.latency)
	return d
}

// Outcomes of a Dendrite call, as DendriteCall takes them.
const (
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeTimeout   = "timeout"
	OutcomeBadAnswer = "bad_answer"
)

// DendriteCall records one call the Dendrite made to the synapse with key
// synapseKey: a Backward when backward, its latency and its outcome (one of
// the Outcome constants; anything else counts as a failure).
func (o *Observer) DendriteCall(synapseKey string, backward bool, latency time.Duration, outcome string) {
	switch outcome {
	case OutcomeSuccess, OutcomeFailure, OutcomeTimeout, OutcomeBadAnswer:
	default:
		outcome = OutcomeFailure
	}
	direction := "forward"
	if backward {
		direction = "backward"
	}
	peer := o.dendrite.label(synapseKey)
	o.dendrite.calls.WithLabelValues(peer, direction, outcome).Inc()
	o.dendrite.latency.WithLabelValues(peer, direction).Observe(latency.Seconds())
}

// label returns the peer label of a synapse key.
func (d *dendriteMetrics) label(key string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, ok := d.labels[key]; ok {
		return l
	}
	if len(d.labels) >= d.maxLabels {
		return "other"
	}
	l := ShortKey(key)
	d.labels[key] = l
	return l
}

// total returns the calls made so far.
func (d *dendriteMetrics) total() float64 { return sum(gather(d.calls)) }

// ShortKey returns the first 8 characters of a hex key, the label the page
// and the metrics name a key by; a key that is not lowercase hex is "invalid".
func ShortKey(key string) string {
	const n = 8
	if len(key) > n {
		key = key[:n]
	}
	if key == "" {
		return "invalid"
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "invalid"
		}
	}
	return key
}
