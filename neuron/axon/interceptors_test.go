package axon

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/peertest"
	"github.com/opentensor/bittensor-go/neuron/keys"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
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

// plumbingSynapse is the only synapse key the plumbing serves.
const plumbingSynapse = "s"

// plumbing is an Axon's gRPC server options serving a test's server, and a
// client connection to it.
type plumbing struct {
	conn      *grpc.ClientConn
	client    bittensorpb.BittensorClient
	metrics   *axonMetrics
	admission *admission
	guard     *replayGuard
}

// startPlumbing serves srv with an Axon's interceptors and limits on a free
// local port, as if it served the synapse plumbingSynapse.
func startPlumbing(t *testing.T, cfg Config, srv bittensorpb.BittensorServer) *plumbing {
	t.Helper()
	p := &plumbing{
		metrics:   new(axonMetrics),
		admission: newAdmission(cfg.MaxConcurrent, cfg.MaxQueued),
		guard:     newReplayGuard(cfg.ReplayWindow, cfg.Now),
	}
	served := func(key string) error {
		if key != plumbingSynapse {
			return status.Errorf(codes.NotFound, "axon: unknown synapse %q", keys.Label(key))
		}
		return nil
	}
	s := grpc.NewServer(cfg.serverOptions(p.metrics, p.admission, served, p.guard)...)
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
	if p.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatal(err)
	}
	p.client = bittensorpb.NewBittensorClient(p.conn)
	t.Cleanup(func() {
		p.conn.Close()
		s.Stop()
		<-done
	})
	return p
}

func signedRequest(t *testing.T, key *keys.Key, nonce int64) *bittensorpb.TensorMessage {
	t.Helper()
	return peertest.SignedRequestTo(t, plumbingSynapse, key, nonce)
}

func TestAuthInterceptor(t *testing.T) {
	p := startPlumbing(t, AxonConfig(), &gatedEcho{})
	client, m := p.client, p.metrics
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := fixture.Key(t, 1)
	now := time.Now().UnixNano()

	if _, err := client.Forward(ctx, signedRequest(t, key, now)); err != nil {
		t.Fatalf("signed request: %v", err)
	}
	_, err := client.Forward(ctx, signedRequest(t, key, now))
	peertest.WantStatus(t, err, codes.Unauthenticated, "axon: replayed or stale nonce: nonce "+fixture.Itoa(now)+" from "+keys.Label(key.PublicHex())+" was already used")

	forged := signedRequest(t, key, now+1)
	forged.Tensors[0].Buffer[4] ^= 1
	_, err = client.Forward(ctx, forged)
	peertest.WantStatus(t, err, codes.Unauthenticated, "axon: bad signature from "+keys.Label(key.PublicHex()))

	// The forged message did not spend nonce now+1.
	if _, err := client.Forward(ctx, signedRequest(t, key, now+1)); err != nil {
		t.Fatalf("signed request after a forgery: %v", err)
	}
	s := SettledStats(t, m.snapshot, 4)
	if s.Requests != 4 || s.Codes[codes.OK] != 2 || s.Codes[codes.Unauthenticated] != 2 || s.Errors != 2 {
		t.Fatalf("stats = %+v, want 4 requests, 2 OK, 2 UNAUTHENTICATED", s)
	}
	if s.BytesIn == 0 || s.BytesOut == 0 || s.Latency <= 0 || s.MaxLatency > s.Latency {
		t.Fatalf("stats = %+v: bytes and latency not counted", s)
	}
}

func TestAuthInterceptorUnknownSynapseSpendsNothing(t *testing.T) {
	p := startPlumbing(t, AxonConfig(), &gatedEcho{})
	client, m, guard := p.client, p.metrics, p.guard
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := fixture.Key(t, 1)
	now := time.Now().UnixNano()

	// Signed, forged and unsigned requests for a synapse nobody serves: all
	// NOT_FOUND, and none leaves anything in the replay guard.
	unknown := fixture.Key(t, 9).PublicHex()
	forged := peertest.SignedRequestTo(t, unknown, key, now+1)
	forged.Signature[0] ^= 1
	for i, req := range []*bittensorpb.TensorMessage{
		peertest.SignedRequestTo(t, unknown, key, now),
		peertest.SignedRequestTo(t, unknown, fixture.Key(t, 2), now),
		forged,
		{SynapseKey: unknown},
	} {
		_, err := client.Forward(ctx, req)
		peertest.WantStatus(t, err, codes.NotFound, `axon: unknown synapse "`+keys.Label(unknown)+`"`)
		if guard.Len() != 0 {
			t.Fatalf("request %d to an unknown synapse left %d replay entries", i, guard.Len())
		}
	}
	// The nonces were not spent: the same ones toward the served synapse pass.
	if _, err := client.Forward(ctx, signedRequest(t, key, now)); err != nil {
		t.Fatalf("nonce used before only toward an unknown synapse: %v", err)
	}
	if _, err := client.Forward(ctx, signedRequest(t, key, now+1)); err != nil {
		t.Fatalf("nonce of a forged request: %v", err)
	}
	if guard.Len() != 2 {
		t.Fatalf("guard holds %d entries after 2 accepted requests", guard.Len())
	}
	if s := SettledStats(t, m.snapshot, 6); s.Codes[codes.NotFound] != 4 || s.Codes[codes.OK] != 2 {
		t.Fatalf("stats codes = %v, want 4 NOT_FOUND and 2 OK", s.Codes)
	}
}

func TestAuthInterceptorFloodOfThrowawayKeys(t *testing.T) {
	// Through the Axon's interceptors and config, with the clock injected: a
	// flood of signed requests from fresh keys with nonces at both edges of
	// the window locks out neither a new nor a known honest caller.
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := AxonConfig()
	cfg.Now = clock.now
	p := startPlumbing(t, cfg, &gatedEcho{})
	client, guard := p.client, p.guard
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := cfg.ReplayWindow
	known := fixture.Key(t, 1)
	if _, err := client.Forward(ctx, signedRequest(t, known, clock.ns(0))); err != nil {
		t.Fatalf("known caller: %v", err)
	}
	const attackers = 200
	for i := range attackers {
		k, err := keys.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int64{clock.ns(-w), clock.ns(w), clock.ns(time.Millisecond)} {
			if _, err := client.Forward(ctx, signedRequest(t, k, n)); err != nil {
				t.Fatalf("attacker %d, nonce %d: %v", i, n, err)
			}
		}
	}
	if want := 1 + 3*attackers; guard.Len() != want {
		t.Fatalf("guard holds %d entries, want %d", guard.Len(), want)
	}
	if _, err := client.Forward(ctx, signedRequest(t, fixture.Key(t, 2), clock.ns(time.Millisecond))); err != nil {
		t.Fatalf("new honest caller after the flood: %v", err)
	}
	if _, err := client.Forward(ctx, signedRequest(t, known, clock.ns(time.Millisecond))); err != nil {
		t.Fatalf("known honest caller after the flood: %v", err)
	}
	// Outside the window the same config refuses, both ways.
	_, err := client.Forward(ctx, signedRequest(t, known, clock.ns(-w)-1))
	peertest.WantStatus(t, err, codes.Unauthenticated, "axon: replayed or stale nonce: nonce "+fixture.Itoa(clock.ns(-w)-1)+" from "+keys.Label(known.PublicHex())+" is more than 1m0s behind the server clock")
}

func TestAdmissionRefusesPastTheQueue(t *testing.T) {
	cfg := AxonConfig()
	cfg.MaxConcurrent, cfg.MaxQueued = 1, 0
	srv := &gatedEcho{entered: make(chan struct{}, 1), release: make(chan struct{})}
	p := startPlumbing(t, cfg, srv)
	client, m := p.client, p.metrics
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := fixture.Key(t, 1)
	now := time.Now().UnixNano()

	first := make(chan error, 1)
	go func() {
		_, err := client.Forward(ctx, signedRequest(t, key, now))
		first <- err
	}()
	<-srv.entered // the first request holds the only slot
	_, err := client.Forward(ctx, signedRequest(t, key, now+1))
	peertest.WantStatus(t, err, codes.ResourceExhausted, "axon: busy: 1 requests running and 0 queued")
	srv.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatalf("first request: %v", err)
	}
	// The slot is free again once gRPC has ended the first RPC (its End
	// event, which may come just after the client has the answer).
	SettledStats(t, m.snapshot, 2)
	srv.entered = nil
	if _, err := client.Forward(ctx, signedRequest(t, key, now+2)); err != nil {
		t.Fatalf("request after the busy one finished: %v", err)
	}
	if s := SettledStats(t, m.snapshot, 3); s.Codes[codes.ResourceExhausted] != 1 || s.Codes[codes.OK] != 2 {
		t.Fatalf("stats codes = %v, want 1 RESOURCE_EXHAUSTED and 2 OK", s.Codes)
	}
}
