package neuron

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/opentensor/bittensor-go/proto"
)

// errPoolClosed is returned for calls made after the Dendrite was closed.
var errPoolClosed = errors.New("dendrite: closed")

// peerConn is the pooled client connection to one Axon endpoint, with the
// nonces this caller uses toward it. Nonces are kept per endpoint so that the
// requests in flight to one Axon are numbered closely together, well within the
// reordering its ReplayGuard tolerates.
type peerConn struct {
	endpoint string
	cc       *grpc.ClientConn
	client   bittensorpb.BittensorClient
	nonces   *Nonces
}

// connPool holds one gRPC client connection per endpoint, created on first use
// and closed by close. gRPC multiplexes concurrent calls over the connection
// and reconnects it after failures by itself.
type connPool struct {
	dialOpts []grpc.DialOption
	now      func() time.Time

	mu     sync.Mutex
	conns  map[string]*peerConn
	closed bool
}

func newConnPool(dialOpts []grpc.DialOption, now func() time.Time) *connPool {
	return &connPool{dialOpts: dialOpts, now: now, conns: make(map[string]*peerConn)}
}

// get returns the connection to endpoint, creating it when needed. Creating a
// connection does not dial: gRPC connects on the first call, within that
// call's deadline.
func (p *connPool) get(endpoint string) (*peerConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPoolClosed
	}
	if c, ok := p.conns[endpoint]; ok {
		return c, nil
	}
	cc, err := grpc.NewClient(endpoint, p.dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("dendrite: connection to %s: %w", endpoint, err)
	}
	c := &peerConn{endpoint: endpoint, cc: cc, client: bittensorpb.NewBittensorClient(cc), nonces: NewNonces(p.now)}
	p.conns[endpoint] = c
	return c, nil
}

// len returns the number of pooled connections.
func (p *connPool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// close closes every connection, failing the calls still in flight on them,
// and makes later get calls fail. It is idempotent.
func (p *connPool) close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.closed = true
	p.mu.Unlock()
	var errs []error
	for _, c := range conns {
		if err := c.cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("dendrite: close %s: %w", c.endpoint, err))
		}
	}
	return errors.Join(errs...)
}

// endpointOf returns the host:port of a synapse definition after checking that
// it names a host and a port number.
func endpointOf(s *bittensorpb.Synapse) (string, error) {
	if s == nil {
		return "", errors.New("dendrite: nil synapse")
	}
	if s.GetAddress() == "" {
		return "", fmt.Errorf("dendrite: synapse %s has no address", shortKey(s.GetSynapseKey()))
	}
	port, err := strconv.ParseUint(s.GetPort(), 10, 16)
	if err != nil || port == 0 {
		return "", fmt.Errorf("dendrite: synapse %s has port %q, want 1-65535", shortKey(s.GetSynapseKey()), s.GetPort())
	}
	return net.JoinHostPort(s.GetAddress(), s.GetPort()), nil
}
