package metagraph

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// MemoryNetwork connects metagraphs inside one process without sockets, for
// tests and benchmarks of the gossip rules. Every exchange is marshalled and
// unmarshalled as on the wire (so members never share messages), the message
// size limit is enforced like gRPC's, and an unknown or closed address fails
// with codes.Unavailable. Handlers run on the caller's goroutine.
type MemoryNetwork struct {
	maxMessageBytes int

	mu      sync.RWMutex
	members map[string]GossipHandler
}

// NewMemoryNetwork returns an empty network whose messages may be up to
// maxMessageBytes long.
func NewMemoryNetwork(maxMessageBytes int) *MemoryNetwork {
	return &MemoryNetwork{maxMessageBytes: maxMessageBytes, members: make(map[string]GossipHandler)}
}

// Transport returns the transport of the member at addr, for WithTransport.
func (n *MemoryNetwork) Transport(addr string) Transport {
	return &memoryTransport{net: n, addr: addr}
}

// memoryTransport is one member's end of a MemoryNetwork.
type memoryTransport struct {
	net  *MemoryNetwork
	addr string

	mu        sync.Mutex
	listening bool
	closed    bool
}

// Listen registers h under the transport's address.
func (t *memoryTransport) Listen(h GossipHandler) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.listening {
		return "", fmt.Errorf("metagraph: listen on %s: transport closed or already listening", t.addr)
	}
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if _, taken := t.net.members[t.addr]; taken {
		return "", fmt.Errorf("metagraph: listen on %s: address in use", t.addr)
	}
	t.net.members[t.addr] = h
	t.listening = true
	return t.addr, nil
}

// Exchange delivers batch to the member at addr and returns its answer.
func (t *memoryTransport) Exchange(ctx context.Context, addr string, batch *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error) {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("metagraph: gossip %s: transport closed", addr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("metagraph: gossip %s: %w", addr, status.FromContextError(err).Err())
	}
	t.net.mu.RLock()
	h, ok := t.net.members[addr]
	t.net.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("metagraph: gossip %s: %w", addr, status.Error(codes.Unavailable, "no member listens at this address"))
	}
	in := new(bittensorpb.GossipBatch)
	if err := t.net.carry(batch, in); err != nil {
		return nil, fmt.Errorf("metagraph: gossip %s: request: %w", addr, err)
	}
	out, err := h.Gossip(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("metagraph: gossip %s: %w", addr, err)
	}
	answer := new(bittensorpb.GossipBatch)
	if err := t.net.carry(out, answer); err != nil {
		return nil, fmt.Errorf("metagraph: gossip %s: answer: %w", addr, err)
	}
	return answer, nil
}

// carry copies msg into dst through its wire encoding, within the size limit.
func (n *MemoryNetwork) carry(msg, dst *bittensorpb.GossipBatch) error {
	b, err := proto.Marshal(msg)
	if err != nil {
		return status.Errorf(codes.Internal, "marshal gossip batch: %v", err)
	}
	if len(b) > n.maxMessageBytes {
		return status.Errorf(codes.ResourceExhausted, "gossip batch is %d bytes, limit %d", len(b), n.maxMessageBytes)
	}
	if err := proto.Unmarshal(b, dst); err != nil {
		return status.Errorf(codes.Internal, "unmarshal gossip batch: %v", err)
	}
	return nil
}

// Close removes the member from the network; others then fail to reach it.
// Closing twice is harmless.
func (t *memoryTransport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.listening {
		t.net.mu.Lock()
		delete(t.net.members, t.addr)
		t.net.mu.Unlock()
	}
	return nil
}
