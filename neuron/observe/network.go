package observe

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Network is what a neuron knows of its network at one moment: the page
// shows it and the Metagraph gauges are read from it.
type Network struct {
	// NeuronKey is the neuron's public key (hex); Axon and Metagraph the
	// addresses it serves and gossips on.
	NeuronKey, Axon, Metagraph string
	// Peers are the live Metagraph peers' addresses.
	Peers []string
	// Synapses are the synapses the Metagraph lists, the neuron's own first.
	Synapses []Synapse
	// Weights is the network's weight matrix as far as the neuron knows it.
	Weights WeightMatrix
	// Stats are the Metagraph's sizes and counters.
	Stats MetagraphStats
}

// Synapse is one synapse as the neuron sees it: its definition, this
// neuron's weight for it, and how the Dendrite's calls to it went.
type Synapse struct {
	SynapseKey, NeuronKey, Endpoint string
	// Local is set for a synapse this neuron serves.
	Local bool
	// Weight is this neuron's weight for the synapse.
	Weight float64
	// Forwards, Backwards and their failures count the Dendrite's calls.
	Forwards, ForwardFailures, Backwards, BackwardFailures uint64
	// Successes, Failures, Timeouts and BadAnswers count calls by outcome;
	// InARow the failures since the last success; BackoffUntil is when the
	// synapse may be called again (zero: now).
	Successes, Failures, Timeouts, BadAnswers uint64
	InARow                                    int
	BackoffUntil                              time.Time
	// LastLatency is the latest successful Forward's; LastError the latest
	// failure ("" if none).
	LastLatency time.Duration
	LastError   string
}

// WeightMatrix holds the weights neurons set on synapses: Values[i][j] is
// the weight neuron Rows[i] gives synapse Cols[j], NaN where unknown. Note
// says, for the page, where the rows come from and what is missing.
type WeightMatrix struct {
	Rows, Cols []string
	Values     [][]float64
	Note       string
}

// MetagraphStats are the Metagraph's current sizes and its counters.
type MetagraphStats struct {
	Synapses, Peers, Live, Candidates    int
	Accepted, Rejected, Expired, Evicted uint64
	GossipRounds, GossipFailedRounds     uint64
}

// number is a float64 that encodes in JSON as null when not finite (JSON
// has no NaN or infinity; a skipped step's loss may be either).
type number float64

// MarshalJSON implements json.Marshaler.
func (n number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

var _ json.Marshaler = number(0)

// networkCollector exports the Metagraph's sizes and counters, read from
// the Network at each scrape.
type networkCollector struct{ o *Observer }

var (
	metagraphSize = prometheus.NewDesc("bittensor_metagraph_synapses",
		"Synapse definitions the Metagraph holds now, local ones included.", nil, nil)
	metagraphPeers = prometheus.NewDesc("bittensor_metagraph_peers",
		"Addresses in the Metagraph's peer table now, live or not.", nil, nil)
	metagraphLive = prometheus.NewDesc("bittensor_metagraph_live_peers",
		"Live Metagraph peers now.", nil, nil)
	metagraphCandidates = prometheus.NewDesc("bittensor_metagraph_candidates",
		"Addresses learned from gossip and not yet tried.", nil, nil)
	metagraphDefinitions = prometheus.NewDesc("bittensor_metagraph_definitions_total",
		"Synapse definitions by fate: accepted, rejected (forged, malformed, stale), expired, evicted.",
		[]string{"result"}, nil)
	metagraphRounds = prometheus.NewDesc("bittensor_metagraph_gossip_rounds_total",
		"Gossip rounds run, by result: ok, or failed (the exchange with the peer failed).",
		[]string{"result"}, nil)
	backedOff = prometheus.NewDesc("bittensor_dendrite_backed_off_synapses",
		"Synapses the Dendrite leaves alone now after failures.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c networkCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{metagraphSize, metagraphPeers, metagraphLive, metagraphCandidates,
		metagraphDefinitions, metagraphRounds, backedOff} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c networkCollector) Collect(ch chan<- prometheus.Metric) {
	c.o.mu.Lock()
	network := c.o.network
	c.o.mu.Unlock()
	n := network()
	s := n.Stats
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	gauge(metagraphSize, float64(s.Synapses))
	gauge(metagraphPeers, float64(s.Peers))
	gauge(metagraphLive, float64(s.Live))
	gauge(metagraphCandidates, float64(s.Candidates))
	counter(metagraphDefinitions, s.Accepted, "accepted")
	counter(metagraphDefinitions, s.Rejected, "rejected")
	counter(metagraphDefinitions, s.Expired, "expired")
	counter(metagraphDefinitions, s.Evicted, "evicted")
	counter(metagraphRounds, s.GossipRounds-min(s.GossipFailedRounds, s.GossipRounds), "ok")
	counter(metagraphRounds, s.GossipFailedRounds, "failed")
	now := c.o.now()
	off := 0
	for _, syn := range n.Synapses {
		if now.Before(syn.BackoffUntil) {
			off++
		}
	}
	gauge(backedOff, float64(off))
}
