package metagraph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	bittensorpb "github.com/opentensor/bittensor-go/proto"

	"github.com/opentensor/bittensor-go/neuron/internal/connpool"
)

// maxGossipStreams bounds the exchanges one peer connection may run at once
// (a peer makes one per period).
const maxGossipStreams = 4

// grpcTransport is the Metagraph.Gossip gRPC service and its client side: a
// pool of connections to peers, every call under the caller's deadline, every
// message within MaxMessageBytes in both directions.
type grpcTransport struct {
	cfg       Config
	pool      *connpool.Pool
	ownsPool  bool
	callSizes []grpc.CallOption

	mu     sync.Mutex
	server *grpc.Server
	served chan error // receives Serve's result, then closes
	closed bool
}

// newGRPCTransport returns the gRPC transport for cfg, dialing through pool
// (one of MaxPeers connections, owned and closed by the transport, when nil);
// nothing listens or dials until Listen or Exchange.
func newGRPCTransport(cfg Config, pool *connpool.Pool) *grpcTransport {
	owned := pool == nil
	if owned {
		pool = connpool.New(connpool.Config{
			MaxConns:    cfg.MaxPeers,
			DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
		})
	}
	return &grpcTransport{cfg: cfg, pool: pool, ownsPool: owned, callSizes: messageSizes(cfg.MaxMessageBytes)}
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

// Exchange calls Metagraph.Gossip on addr over a pooled connection (the pool
// holds at most MaxPeers, evicting the least recently used). A failed call
// discards the connection so that the next attempt (after the caller's
// backoff) dials afresh.
func (t *grpcTransport) Exchange(ctx context.Context, addr string, batch *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error) {
	if err := validateHostPort(addr); err != nil {
		return nil, fmt.Errorf("metagraph: gossip: %w", err)
	}
	conn, err := t.pool.Get(addr)
	if errors.Is(err, connpool.ErrClosed) {
		return nil, fmt.Errorf("metagraph: gossip %s: transport closed", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("metagraph: gossip %s: %w", addr, err)
	}
	out, err := bittensorpb.NewMetagraphClient(conn).Gossip(ctx, batch, t.callSizes...)
	if err != nil {
		conn.Discard()
		return nil, fmt.Errorf("metagraph: gossip %s: %w", addr, err)
	}
	conn.Release()
	return out, nil
}

// Close stops the server (gracefully, for at most GossipTimeout) and closes
// every pooled connection, unless the pool is shared.
func (t *grpcTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	srv, served := t.server, t.served
	t.mu.Unlock()
	var poolErr error
	if t.ownsPool {
		if err := t.pool.Close(); err != nil {
			poolErr = fmt.Errorf("metagraph: gossip connections: %w", err)
		}
	}
	if srv == nil {
		return poolErr
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
		return errors.Join(poolErr, fmt.Errorf("metagraph: gossip server: %w", err))
	}
	return poolErr
}

// messageSizes are the call options bounding a message in both directions.
func messageSizes(maxBytes int) []grpc.CallOption {
	return []grpc.CallOption{grpc.MaxCallRecvMsgSize(maxBytes), grpc.MaxCallSendMsgSize(maxBytes)}
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
