package neuron

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/proto"
)

// gatedEcho answers Forward with the request's tensors. When entered is set it
// reports each call on it, then waits for a value on release.
type gatedEcho struct {
	bittensorpb.UnimplementedBittensorServer
	entered chan struct{}
	release chan struct{}
}

func (e *gatedEcho) Forward(ctx context.Context, req *bittensorpb.TensorMessage) (*bittensorpb.TensorMessage, error) {
	if e.entered != nil {
		e.entered <- struct{}{}
		select {
		case <-e.release:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return &bittensorpb.TensorMessage{Tensors: req.GetTensors()}, nil
}

// startPlumbing serves srv with an Axon's interceptors and limits on a free
// local port and returns a client and the metrics.
func startPlumbing(t *testing.T, cfg AxonConfig, srv bittensorpb.BittensorServer) (bittensorpb.BittensorClient, *axonMetrics) {
	t.Helper()
	m := new(axonMetrics)
	guard := NewReplayGuard(cfg.MaxCallers, cfg.MaxClockSkew, cfg.Now)
	s := grpc.NewServer(cfg.serverOptions(m, newAdmission(cfg.MaxConcurrent, cfg.MaxQueued), guard)...)
	bittensorpb.RegisterBittensorServer(s, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		s.Stop()
		<-done
	})
	return bittensorpb.NewBittensorClient(cc), m
}

func testConfig() AxonConfig {
	cfg := DefaultAxonConfig()
	cfg.Address = "127.0.0.1:0"
	return cfg
}

func signedRequest(t *testing.T, key *Key, nonce int64) *bittensorpb.TensorMessage {
	t.Helper()
	text, err := EncodeText([]string{"hi"})
	if err != nil {
		t.Fatal(err)
	}
	m := &bittensorpb.TensorMessage{SynapseKey: "s", Tensors: []*bittensorpb.Tensor{text}}
	SignMessage(m, key, nonce)
	return m
}

func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if s := status.Convert(err); s.Code() != code || s.Message() != msg {
		t.Fatalf("status = %v %q, want %v %q", s.Code(), s.Message(), code, msg)
	}
}

func TestAuthInterceptor(t *testing.T) {
	client, m := startPlumbing(t, testConfig(), &gatedEcho{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := testKey(t, 1)
	now := time.Now().UnixNano()

	if _, err := client.Forward(ctx, signedRequest(t, key, now)); err != nil {
		t.Fatalf("signed request: %v", err)
	}
	_, err := client.Forward(ctx, signedRequest(t, key, now))
	wantStatus(t, err, codes.Unauthenticated, "axon: replayed or stale nonce: nonce "+itoa(now)+" from "+shortKey(key.PublicHex())+" was already used")

	forged := signedRequest(t, key, now+1)
	forged.Tensors[0].Buffer[4] ^= 1
	_, err = client.Forward(ctx, forged)
	wantStatus(t, err, codes.Unauthenticated, "axon: bad signature from "+shortKey(key.PublicHex()))

	// The forged message did not spend nonce now+1.
	if _, err := client.Forward(ctx, signedRequest(t, key, now+1)); err != nil {
		t.Fatalf("signed request after a forgery: %v", err)
	}
	s := settledStats(t, m.snapshot, 4)
	if s.Requests != 4 || s.Codes[codes.OK] != 2 || s.Codes[codes.Unauthenticated] != 2 || s.Errors != 2 {
		t.Fatalf("stats = %+v, want 4 requests, 2 OK, 2 UNAUTHENTICATED", s)
	}
	if s.BytesIn == 0 || s.BytesOut == 0 || s.Latency <= 0 || s.MaxLatency > s.Latency {
		t.Fatalf("stats = %+v: bytes and latency not counted", s)
	}
}

func TestAdmissionRefusesPastTheQueue(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConcurrent, cfg.MaxQueued = 1, 0
	srv := &gatedEcho{entered: make(chan struct{}, 1), release: make(chan struct{})}
	client, m := startPlumbing(t, cfg, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := testKey(t, 1)
	now := time.Now().UnixNano()

	first := make(chan error, 1)
	go func() {
		_, err := client.Forward(ctx, signedRequest(t, key, now))
		first <- err
	}()
	<-srv.entered // the first request holds the only slot
	_, err := client.Forward(ctx, signedRequest(t, key, now+1))
	wantStatus(t, err, codes.ResourceExhausted, "axon: busy: 1 requests running and 0 queued")
	srv.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatalf("first request: %v", err)
	}
	// The slot is free again once gRPC has ended the first RPC (its End
	// event, which may come just after the client has the answer).
	settledStats(t, m.snapshot, 2)
	srv.entered = nil
	if _, err := client.Forward(ctx, signedRequest(t, key, now+2)); err != nil {
		t.Fatalf("request after the busy one finished: %v", err)
	}
	if s := settledStats(t, m.snapshot, 3); s.Codes[codes.ResourceExhausted] != 1 || s.Codes[codes.OK] != 2 {
		t.Fatalf("stats codes = %v, want 1 RESOURCE_EXHAUSTED and 2 OK", s.Codes)
	}
}

// settledStats waits (bounded) until n RPCs have ended and returns the stats.
// gRPC reports an RPC's end to the stats handler after the client already has
// the answer, so the last RPC's status can lag behind the reply.
func settledStats(t *testing.T, snapshot func() AxonStats, n uint64) AxonStats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := snapshot()
		var ended uint64
		for _, c := range s.Codes {
			ended += c
		}
		if ended >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d RPCs ended: %+v", ended, n, s)
		}
		time.Sleep(time.Millisecond)
	}
}
