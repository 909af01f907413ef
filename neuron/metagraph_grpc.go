package neuron

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// maxGossipStreams bounds the exchanges one peer connection may run at once
// (a peer makes one per period).
const maxGossipStreams = 4

// grpcTransport is the Metagraph.Gossip gRPC service and its client side: a
// pool of connections to peers, every call under the caller's deadline, every
// message within MaxMessageBytes in both directions.
type grpcTransport struct {
	cfg MetagraphConfig

	mu     sync.Mutex
	conns  map[string]*pooledConn
	server *grpc.Server
	served chan error // receives Serve's result, then closes
	closed bool
}

type pooledConn struct {
	cc       *grpc.ClientConn
	client   bittensorpb.MetagraphClient
	lastUsed time.Time
}

// newGRPCTransport returns the gRPC transport for cfg; nothing listens or
// dials until Listen or Exchange.
func newGRPCTransport(cfg MetagraphConfig) *grpcTransport {
	return &grpcTransport{cfg: cfg, conns: make(map[string]*pooledConn)}
}

// Listen binds cfg's host and port and serves Metagraph.Gossip on it. The
// address returned is RemoteIP with the bound port (the bound address itself
// when RemoteIP is empty).
func (t *grpcTransport) Listen(h GossipHandler) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return "", errors.New("metagraph: listen: transport closed")
	}
	if t.server != nil {
		return "", errors.New("metagraph: listen: already listening")
	}
	lis, err := net.Listen("tcp", t.cfg.listenAddress())
	if err != nil {
		return "", fmt.Errorf("metagraph: listen on %s: %w", t.cfg.listenAddress(), err)
	}
	t.server = grpc.NewServer(
		grpc.MaxRecvMsgSize(t.cfg.MaxMessageBytes),
		grpc.MaxSendMsgSize(t.cfg.MaxMessageBytes),
		grpc.ConnectionTimeout(t.cfg.GossipTimeout),
		grpc.MaxConcurrentStreams(maxGossipStreams),
	)
	bittensorpb.RegisterMetagraphServer(t.server, gossipService{h: h})
	t.served = make(chan error, 1)
	go func(srv *grpc.Server, served chan<- error) {
		served <- srv.Serve(lis)
		close(served)
	}(t.server, t.served)

	addr := lis.Addr().String()
	if t.cfg.RemoteIP != "" {
		addr = net.JoinHostPort(t.cfg.RemoteIP, strconv.Itoa(lis.Addr().(*net.TCPAddr).Port))
	}
	return addr, nil
}

// Exchange calls Metagraph.Gossip on addr. A failed call closes the connection
// so that the next attempt (after the caller's backoff) dials afresh.
func (t *grpcTransport) Exchange(ctx context.Context, addr string, batch *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error) {
	pc, err := t.conn(addr)
	if err != nil {
		return nil, err
	}
	out, err := pc.client.Gossip(ctx, batch)
	if err != nil {
		t.drop(addr, pc)
		return nil, fmt.Errorf("metagraph: gossip %s: %w", addr, err)
	}
	return out, nil
}

// conn returns the pooled connection to addr, creating it (and evicting the
// least recently used one when the pool holds MaxPeers) if needed.
func (t *grpcTransport) conn(addr string) (*pooledConn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("metagraph: gossip %s: transport closed", addr)
	}
	if pc, ok := t.conns[addr]; ok {
		pc.lastUsed = time.Now()
		return pc, nil
	}
	if err := validateHostPort(addr); err != nil {
		return nil, fmt.Errorf("metagraph: gossip: %w", err)
	}
	if len(t.conns) >= t.cfg.MaxPeers {
		var oldest string
		for a, pc := range t.conns {
			if oldest == "" || pc.lastUsed.Before(t.conns[oldest].lastUsed) {
				oldest = a
			}
		}
		t.conns[oldest].cc.Close()
		delete(t.conns, oldest)
	}
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(t.cfg.MaxMessageBytes),
			grpc.MaxCallSendMsgSize(t.cfg.MaxMessageBytes),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("metagraph: gossip %s: %w", addr, err)
	}
	pc := &pooledConn{cc: cc, client: bittensorpb.NewMetagraphClient(cc), lastUsed: time.Now()}
	t.conns[addr] = pc
	return pc, nil
}

// drop closes pc if it is still the pooled connection to addr.
func (t *grpcTransport) drop(addr string, pc *pooledConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns[addr] == pc {
		delete(t.conns, addr)
		pc.cc.Close()
	}
}

// Close stops the server (gracefully, for at most GossipTimeout) and closes
// every pooled connection.
func (t *grpcTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for addr, pc := range t.conns {
		pc.cc.Close()
		delete(t.conns, addr)
	}
	srv, served := t.server, t.served
	t.mu.Unlock()
	if srv == nil {
		return nil
	}
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(t.cfg.GossipTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		srv.Stop() // ends the calls still running; GracefulStop then returns
		<-stopped
	}
	if err := <-served; err != nil {
		return fmt.Errorf("metagraph: gossip server: %w", err)
	}
	return nil
}

// gossipService adapts a GossipHandler to the generated server interface.
type gossipService struct {
	bittensorpb.UnimplementedMetagraphServer
	h GossipHandler
}

// Gossip implements bittensorpb.MetagraphServer.
func (s gossipService) Gossip(ctx context.Context, in *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error) {
	return s.h.Gossip(ctx, in)
}
