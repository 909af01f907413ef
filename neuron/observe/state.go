package observe

import (
	"time"
)

// state is the page's data, the JSON of /api/state.
type state struct {
	Now     int64 `json:"now"`
	Started int64 `json:"started"`
	Neuron  struct {
		Key       string `json:"key"`
		Axon      string `json:"axon"`
		Metagraph string `json:"metagraph"`
	} `json:"neuron"`
	Peers      []string          `json:"peers"`
	Synapses   []synapseState    `json:"synapses"`
	Weights    weightsState      `json:"weights"`
	Metagraph  metagraphState    `json:"metagraph"`
	Axon       axonState         `json:"axon"`
	Steps      []stepPoint       `json:"steps"`
	StepStride uint64            `json:"step_stride"`
	LastStep   *stepPoint        `json:"last_step"`
	Tests      []testPoint       `json:"tests"`
	Throughput []throughputPoint `json:"throughput"`
}

type synapseState struct {
	SynapseKey       string `json:"synapse_key"`
	NeuronKey        string `json:"neuron_key"`
	Endpoint         string `json:"endpoint"`
	Local            bool   `json:"local"`
	Weight           number `json:"weight"`
	Forwards         uint64 `json:"forwards"`
	ForwardFailures  uint64 `json:"forward_failures"`
	Backwards        uint64 `json:"backwards"`
	BackwardFailures uint64 `json:"backward_failures"`
	Successes        uint64 `json:"successes"`
	Failures         uint64 `json:"failures"`
	Timeouts         uint64 `json:"timeouts"`
	BadAnswers       uint64 `json:"bad_answers"`
	InARow           int    `json:"in_a_row"`
	// BackoffMs is how long the synapse is still left alone, 0 if callable.
	BackoffMs     int64  `json:"backoff_ms"`
	LastLatencyMs number `json:"last_latency_ms"`
	LastError     string `json:"last_error,omitempty"`
}

type weightsState struct {
	Rows   []string   `json:"rows"`
	Cols   []string   `json:"cols"`
	Values [][]number `json:"values"`
	Note   string     `json:"note"`
}

type metagraphState struct {
	Synapses     int    `json:"synapses"`
	Peers        int    `json:"peers"`
	Live         int    `json:"live"`
	Candidates   int    `json:"candidates"`
	Accepted     uint64 `json:"accepted"`
	Rejected     uint64 `json:"rejected"`
	Expired      uint64 `json:"expired"`
	Evicted      uint64 `json:"evicted"`
	Rounds       uint64 `json:"gossip_rounds"`
	FailedRounds uint64 `json:"gossip_failed_rounds"`
}

type axonState struct {
	Requests number `json:"requests"`
	Errors   number `json:"errors"`
	BytesIn  number `json:"bytes_in"`
	BytesOut number `json:"bytes_out"`
}

// snapshot returns the page's data now.
func (o *Observer) snapshot() state {
	o.mu.Lock()
	network := o.network
	o.mu.Unlock()
	n := network() // outside o.mu: it takes the neuron's locks
	now := o.now()

	var s state
	s.Now, s.Started = millis(now), millis(o.started)
	s.Neuron.Key, s.Neuron.Axon, s.Neuron.Metagraph = n.NeuronKey, n.Axon, n.Metagraph
	s.Peers = append([]string{}, n.Peers...)
	s.Synapses = make([]synapseState, len(n.Synapses))
	for i, syn := range n.Synapses {
		s.Synapses[i] = synapseState{
			SynapseKey: syn.SynapseKey, NeuronKey: syn.NeuronKey, Endpoint: syn.Endpoint, Local: syn.Local,
			Weight: number(syn.Weight), Forwards: syn.Forwards, ForwardFailures: syn.ForwardFailures,
			Backwards: syn.Backwards, BackwardFailures: syn.BackwardFailures,
			Successes: syn.Successes, Failures: syn.Failures, Timeouts: syn.Timeouts, BadAnswers: syn.BadAnswers,
			InARow: syn.InARow, BackoffMs: max(0, syn.BackoffUntil.Sub(now).Milliseconds()),
			LastLatencyMs: number(float64(syn.LastLatency) / float64(time.Millisecond)), LastError: syn.LastError,
		}
		if syn.BackoffUntil.IsZero() {
			s.Synapses[i].BackoffMs = 0
		}
	}
	w := n.Weights
	s.Weights = weightsState{Rows: nonNil(w.Rows), Cols: nonNil(w.Cols), Values: make([][]number, len(w.Values)), Note: w.Note}
	for i, row := range w.Values {
		s.Weights.Values[i] = make([]number, len(row))
		for j, v := range row {
			s.Weights.Values[i][j] = number(v)
		}
	}
	st := n.Stats
	s.Metagraph = metagraphState{Synapses: st.Synapses, Peers: st.Peers, Live: st.Live, Candidates: st.Candidates,
		Accepted: st.Accepted, Rejected: st.Rejected, Expired: st.Expired, Evicted: st.Evicted,
		Rounds: st.GossipRounds, FailedRounds: st.GossipFailedRounds}
	a := o.axon.totals()
	s.Axon = axonState{Requests: number(a.requests), Errors: number(a.errors), BytesIn: number(a.bytesIn), BytesOut: number(a.bytesOut)}

	o.mu.Lock()
	defer o.mu.Unlock()
	s.Steps, s.StepStride = o.steps.values(), o.steps.stride
	if o.last != nil {
		last := *o.last
		s.LastStep = &last
	}
	s.Tests = o.tests.values()
	s.Throughput = o.throughput.values()
	return s
}

// nonNil returns s, or an empty slice for nil (JSON [] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
