package metagraph

import (
	"context"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// Metagraph is a neuron's view of the network, whichever backend keeps it:
// the synapse definitions it knows (its own and its peers'), the peers it
// counts, and a weight per synapse that the training loop learns. Gossip
// (the default) and Chain (etcd) implement it; the rules that judge a
// definition are the same for both (state.go, definition.go).
//
// All methods are safe for concurrent use.
type Metagraph interface {
	// Subscribe publishes a local synapse (see NewSynapseDefinition): the
	// metagraph signs it with the neuron key and refreshes it while it runs.
	Subscribe(def *bittensorpb.Synapse) error
	// Start begins announcing the local synapses and learning the network's
	// until Stop (or until ctx ends).
	Start(ctx context.Context) error
	// Addr tells where others find this metagraph: the gossip address, or
	// the chain's endpoint.
	Addr() string
	// GetPeers returns up to n live peers: gossip partners' addresses
	// (Gossip) or the keys of the other neurons registered (Chain).
	GetPeers(n int) []string
	// GetSynapses returns up to n live definitions, local ones first, then by
	// weight; the messages are copies the caller may keep.
	GetSynapses(n int) []*bittensorpb.Synapse
	// GetSynapsesWhere is GetSynapses over the definitions keep accepts
	// (all when keep is nil), filtered before they are counted. keep runs
	// under the metagraph's lock: quick, no calls back, no changes.
	GetSynapsesWhere(n int, keep func(*bittensorpb.Synapse) bool) []*bittensorpb.Synapse
	// Weights returns the weight of each synapse, 0 for unknown ones.
	Weights(synapses []*bittensorpb.Synapse) []float64
	// SetWeights sets the weight of each synapse (finite values; the lengths
	// match). Chain also publishes them.
	SetWeights(synapses []*bittensorpb.Synapse, weights []float64) error
	// Stats counts what the metagraph has accepted and refused, and its sizes.
	Stats() Stats
	// Stop withdraws the local synapses where the backend can (Chain revokes
	// its lease), stops every goroutine and closes every connection.
	Stop() error
}

var (
	_ Metagraph = (*Gossip)(nil)
	_ Metagraph = (*Chain)(nil)
)
