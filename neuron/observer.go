package neuron

import (
	"math"
	"net"
	"strconv"
	"time"

	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/trainer"

	"github.com/opentensor/bittensor-go/neuron/metagraph"
	"github.com/opentensor/bittensor-go/neuron/observe"
)

// maxObservedSynapses bounds the synapses the live page lists.
const maxObservedSynapses = 1000

// weightsNote tells the page's reader where the weight matrix comes from.
const weightsNote = "Only this neuron's row is known: gossip carries synapse definitions, not the " +
	"weights other neurons set. Unknown cells would be grey."

// startObserver serves the metrics and the live page on the configured
// port, unless it is -1.
func (n *Neuron) startObserver(cfg Config) error {
	if cfg.MetricsPort < 0 {
		return nil
	}
	addr, err := n.Observer.Start(net.JoinHostPort("", strconv.Itoa(cfg.MetricsPort)), n.observedNetwork)
	if err != nil {
		return portError("metrics_port", cfg.MetricsPort, err)
	}
	n.MetricsAddr = addr
	return nil
}

// observeCall is the Dendrite's OnCall: it hands the call to the Observer.
func (n *Neuron) observeCall(synapseKey string, backward bool, latency time.Duration, outcome dendrite.Outcome) {
	n.Observer.DendriteCall(synapseKey, backward, latency, outcome.String())
}

// observedNetwork tells the Observer what the neuron knows of its network:
// the Metagraph's synapses with this neuron's weights and the Dendrite's
// standing of each, its live peers and its counters.
func (n *Neuron) observedNetwork() observe.Network {
	out := observe.Network{NeuronKey: n.Key.PublicHex()}
	if a := n.Axon.Addr(); a != nil {
		out.Axon = a.String()
	}
	local := make(map[string]bool)
	for _, k := range n.Axon.Synapses() {
		local[k] = true
	}
	if n.Metagraph == nil || n.Dendrite == nil {
		return out
	}
	out.Metagraph = n.Metagraph.Addr()
	out.Peers = n.Metagraph.GetPeers(maxObservedSynapses)
	defs := n.Metagraph.GetSynapses(maxObservedSynapses)
	weights := n.Metagraph.Weights(defs)
	calls := n.Dendrite.Stats()
	out.Synapses = make([]observe.Synapse, len(defs))
	row := make([]float64, len(defs))
	cols := make([]string, len(defs))
	for i, d := range defs {
		key := d.GetSynapseKey()
		s := observe.Synapse{
			SynapseKey: key, NeuronKey: d.GetNeuronKey(),
			Endpoint: net.JoinHostPort(d.GetAddress(), d.GetPort()),
			Local:    local[key] && d.GetNeuronKey() == out.NeuronKey,
			Weight:   weights[i],
		}
		if c, ok := calls[key]; ok {
			s.Forwards, s.ForwardFailures, s.Backwards, s.BackwardFailures = c.Forwards, c.ForwardFailures, c.Backwards, c.BackwardFailures
			st := c.Standing
			s.Successes, s.Failures, s.Timeouts, s.BadAnswers = st.Successes, st.Failures, st.Timeouts, st.BadAnswers
			s.InARow, s.BackoffUntil, s.LastLatency = st.InARow, st.BackoffUntil, c.LastLatency
			if c.LastError != nil {
				s.LastError = c.LastError.Error()
			}
		}
		if s.Local {
			out.Axon = s.Endpoint // the address peers reach it at
		}
		out.Synapses[i] = s
		row[i], cols[i] = weights[i], key
	}
	out.Weights = observe.WeightMatrix{Rows: []string{out.NeuronKey}, Cols: cols, Values: [][]float64{row}, Note: weightsNote}
	if c, ok := n.Metagraph.(*metagraph.Chain); ok {
		out.Weights = chainWeights(out.NeuronKey, cols, row, c.WeightMatrix())
	}
	st := n.Metagraph.Stats()
	out.Stats = observe.MetagraphStats{
		Synapses: st.Synapses, Peers: st.Peers, Live: st.Live, Candidates: st.Candidates,
		Accepted: st.Accepted, Rejected: st.Rejected, Expired: st.Expired, Evicted: st.Evicted,
		GossipRounds: st.Rounds, GossipFailedRounds: st.FailedRounds,
	}
	return out
}

// ObserveStep reports a training step to the Observer.
func (n *Neuron) ObserveStep(epoch, examples int, elapsed time.Duration, r trainer.StepResult) {
	n.Observer.Step(observe.Step{
		Epoch: epoch, Examples: examples, Elapsed: elapsed,
		LocalLoss: r.LocalLoss, TargetLoss: r.TargetLoss, DistillationLoss: r.DistillationLoss,
		Peers: r.Peers, Synapses: r.Synapses, Failed: r.Failed, Skipped: r.Skipped,
	})
}

// ObserveTest reports a test pass to the Observer.
func (n *Neuron) ObserveTest(epoch int, r trainer.TestResult) {
	n.Observer.Test(observe.Test{Epoch: epoch, Loss: r.Loss, LocalAccuracy: r.LocalAccuracy, NetworkAccuracy: r.NetworkAccuracy})
}

// chainNote tells the page's reader where a chain neuron's weight matrix
// comes from.
const chainNote = "Rows are the weights each neuron published on the chain (signed, verified on read); " +
	"this neuron's row is its current weights. Grey cells: that neuron published no weight for the synapse."

// chainWeights is the network's weight matrix as the chain holds it: this
// neuron's current row first, then each other neuron's published record,
// over the synapses the Metagraph lists (cols), NaN where a record has no
// weight for a synapse.
func chainWeights(self string, cols []string, own []float64, records []*metagraph.WeightsRecord) observe.WeightMatrix {
	col := make(map[string]int, len(cols))
	for j, k := range cols {
		col[k] = j
	}
	w := observe.WeightMatrix{Rows: []string{self}, Cols: cols, Values: [][]float64{own}, Note: chainNote}
	for _, r := range records {
		if r.Neuron == self || len(w.Rows) >= maxObservedSynapses {
			continue
		}
		row := make([]float64, len(cols))
		for j := range row {
			row[j] = math.NaN()
		}
		for _, sw := range r.Weights {
			if j, ok := col[sw.Synapse]; ok {
				row[j] = sw.Weight
			}
		}
		w.Rows = append(w.Rows, r.Neuron)
		w.Values = append(w.Values, row)
	}
	return w
}
