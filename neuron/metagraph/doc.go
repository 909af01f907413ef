// Package metagraph is a neuron's view of the network: the signed,
// proof-of-work synapse definitions of every neuron it knows, the peers it
// counts, and the weight it gives each synapse. One interface, Metagraph,
// has two backends:
//
//   - Gossip (gossip.go, the default): every period a member exchanges a
//     GossipBatch with one random peer over the Metagraph.Gossip gRPC
//     service (grpc.go) or, in tests, a MemoryNetwork (memory.go).
//   - Chain (chain.go): the definitions live in etcd under a lease whose TTL
//     is their lifetime; every member lists and watches the prefix. etcd is
//     a store, not a trust root: every value read from it is judged by the
//     same rules as a gossiped one, and published weights are signed too.
//
// The rules are plain Go over values and a time passed in, apart from both
// backends: definitions (definition.go: fields, proof of work, signature),
// the cache (state.go: newest nonce wins, expiry TTL after the owner's
// refresh on every member, bounded size), gossip peers (peers.go), and what
// the chain stores where (chain_rules.go).
//
//	key, _ := keys.NewKey()
//	mg, err := metagraph.NewGossip(metagraph.DefaultConfig(), key)
//	err = mg.Subscribe(metagraph.NewSynapseDefinition(synapseKey.PublicHex(), "10.0.0.5", 8091))
//	err = mg.Start(ctx)
//	defer mg.Stop()
//	synapses := mg.GetSynapses(1000) // local first, then by weight
//
// A chain backend instead (same Subscribe, Start, Stop):
//
//	chain := metagraph.DefaultChainConfig()
//	chain.Endpoints, err = metagraph.ParseChainEndpoint("etcd://10.0.0.1:2379,10.0.0.2:2379")
//	mg, err := metagraph.NewChain(ctx, metagraph.DefaultConfig(), chain, key) // fails fast with ErrChainUnreachable
//	rows := mg.WeightMatrix() // every neuron's signed, published weights
package metagraph
