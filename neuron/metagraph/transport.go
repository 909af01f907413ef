package metagraph

import (
	"context"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// GossipHandler answers one incoming gossip exchange: it takes the peer's
// batch and returns ours. The Metagraph is one; errors should be gRPC statuses.
type GossipHandler interface {
	Gossip(ctx context.Context, in *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error)
}

// Transport carries gossip exchanges between metagraphs. The real one
// is the Metagraph.Gossip gRPC service (the default); MemoryNetwork connects
// members inside one process for tests and benchmarks.
type Transport interface {
	// Listen starts handing incoming exchanges to h and returns the address
	// peers reach this member at. It is called once.
	Listen(h GossipHandler) (addr string, err error)
	// Exchange sends batch to the member at addr and returns its answer,
	// within ctx's deadline. The batch must not be modified by the transport.
	Exchange(ctx context.Context, addr string, batch *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error)
	// Close stops listening and releases every connection; exchanges in
	// progress end with an error.
	Close() error
}
