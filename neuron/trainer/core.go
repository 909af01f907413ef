package trainer

import "math"

// The step's decisions, stated as pure functions over values so that they
// can be tested with figures worked out by hand (core_test.go). The
// Trainer's step (trainer.go) gathers the values from the Metagraph, the
// Dendrite and the router, and applies what these return.
//
// The rules:
//
//   - Routing: a step routes to the synapses that fit its batch and that the
//     Dendrite may call now (not backed off), and always to the neuron's own
//     synapse, which is called in-process (routable).
//   - Losses: a step whose local, target or distillation loss is not finite
//     changes nothing: no backward, no optimizer step, no weights (finite).
//   - Gates: the gate of a routed synapse is the router's mean score for it
//     over the batch; a synapse whose call failed gets a gate of 0, and so
//     does every fitting synapse that was not routed to (stepGates).
//   - Weights: each fitting synapse's weight moves toward its gate,
//     w' = weightDecay·w + (1-weightDecay)·gate (nextWeights), so a peer that
//     keeps failing, or is backed off, loses its weight.

// routable returns the indices of the synapses (by key) a step may route
// to: own, and those callable reports may be called now, in order.
func routable(keys []string, own string, callable func(key string) bool) []int {
	out := make([]int, 0, len(keys))
	for i, k := range keys {
		if k == own || callable(k) {
			out = append(out, i)
		}
	}
	return out
}

// finite reports whether every v is finite.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// stepGates returns the gate of each routed synapse (by route key): its
// mean score, meanScores[i] for routed[i], or 0 where failed holds its key.
func stepGates(routed []string, meanScores []float32, failed map[string]bool) map[string]float64 {
	gates := make(map[string]float64, len(routed))
	for i, k := range routed {
		if !failed[k] {
			gates[k] = float64(meanScores[i])
		}
	}
	return gates
}

// nextWeights returns the weights of the synapses keys, whose weights were
// old, after a step whose gates are gates (a synapse without a gate counts
// 0): old[i]·weightDecay + gate·(1-weightDecay).
func nextWeights(keys []string, old []float64, gates map[string]float64) []float64 {
	w := make([]float64, len(keys))
	for i, k := range keys {
		w[i] = weightDecay*old[i] + (1-weightDecay)*gates[k]
	}
	return w
}
