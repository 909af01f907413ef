package metagraph

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	"github.com/opentensor/bittensor-go/neuron/internal/connpool"
	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// grpcMember starts a metagraph serving gRPC on a free port of 127.0.0.1.
func grpcMember(t *testing.T, name string, bootstrap ...string) (*Gossip, synapseID) {
	t.Helper()
	cfg := LocalConfig()
	cfg.Bootstrap = bootstrap
	key := labelKey(t, name)
	mg, err := NewGossip(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := mg.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mg.Stop(); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	})
	if !strings.HasPrefix(mg.Addr(), "127.0.0.1:") || strings.HasSuffix(mg.Addr(), ":0") {
		t.Fatalf("%s listens at %q, want 127.0.0.1 and the picked port", name, mg.Addr())
	}
	syn := labelKey(t, name+" synapse").PublicHex()
	if err := mg.Subscribe(NewSynapseDefinition(syn, "127.0.0.1", 8091)); err != nil {
		t.Fatal(err)
	}
	return mg, synapseID{key.PublicHex(), syn}
}

func knowsAll(mg *Gossip, ids ...synapseID) bool {
	got := synapseKeys(mg.GetSynapses(100))
	if len(got) != len(ids) {
		return false
	}
	for _, id := range ids {
		if _, ok := got[id]; !ok {
			return false
		}
	}
	return true
}

// Three real gRPC servers, bootstrap chain A ← B ← C, rounds driven by hand.
func TestGRPCBootstrapChainConverges(t *testing.T) {
	a, idA := grpcMember(t, "A")
	b, idB := grpcMember(t, "B", a.Addr())
	c, idC := grpcMember(t, "C", b.Addr())
	members := []*Gossip{c, b, a}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const maxRounds = 8
	for r := 1; ; r++ {
		for _, m := range members {
			if err := m.GossipOnce(ctx); err != nil {
				t.Fatalf("round %d: %v", r, err)
			}
		}
		if knowsAll(a, idA, idB, idC) && knowsAll(b, idA, idB, idC) && knowsAll(c, idA, idB, idC) {
			t.Logf("converged in %d rounds", r)
			break
		}
		if r == maxRounds {
			t.Fatalf("not converged after %d rounds", maxRounds)
		}
	}
	// A never had a bootstrap: it learned B (and C) from their calls.
	if p := a.GetPeers(10); len(p) == 0 {
		t.Fatal("A has no live peer")
	}
	for _, m := range members {
		for _, d := range m.GetSynapses(10) {
			if err := VerifySynapse(d, m.cfg.PoWBits); err != nil {
				t.Fatalf("stored definition does not verify: %v", err)
			}
		}
	}
}

// A failing peer is backed off and retried, not dropped at once.
func TestGRPCPeerDown(t *testing.T) {
	a, _ := grpcMember(t, "A")
	b, _ := grpcMember(t, "B", a.Addr())
	addrA := a.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.GossipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	err := b.GossipOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), addrA) {
		t.Fatalf("gossip with a stopped peer: %v, want an error naming %s", err, addrA)
	}
	if code := status.Code(err); code != codes.Unavailable && code != codes.DeadlineExceeded {
		t.Fatalf("gossip with a stopped peer: code %v, want Unavailable", code)
	}
	b.mu.Lock()
	p := b.state.peers[addrA]
	b.mu.Unlock()
	if p == nil || p.failures != 1 || !p.retryAt.After(time.Now()) {
		t.Fatalf("peer after one failure: %+v, want kept and backing off", p)
	}
	if len(b.GetPeers(10)) != 0 {
		t.Fatal("a failing peer is still listed as live")
	}
	// While it backs off, a round has nobody to ask and fails nothing.
	if err := b.GossipOnce(ctx); err != nil {
		t.Fatalf("round during backoff: %v", err)
	}
}

func TestGRPCRefusesBadBatches(t *testing.T) {
	a, _ := grpcMember(t, "A")
	cc, err := grpc.NewClient(a.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := bittensorpb.NewMetagraphClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	tooMany := make([]*bittensorpb.Synapse, a.cfg.MaxBatchSynapses+1)
	for i := range tooMany {
		tooMany[i] = &bittensorpb.Synapse{}
	}
	huge := &bittensorpb.GossipBatch{Version: MetagraphVersion, Synapses: []*bittensorpb.Synapse{{BlockHash: strings.Repeat("x", a.cfg.MaxMessageBytes)}}}
	garbage := &bittensorpb.GossipBatch{Version: MetagraphVersion, Peers: []string{"not an address", "127.0.0.1:0"},
		Synapses: []*bittensorpb.Synapse{{Version: MetagraphVersion, NeuronKey: "zz", Nonce: -1}}}
	cases := []struct {
		name  string
		batch *bittensorpb.GossipBatch
		want  codes.Code
	}{
		{"unknown version", &bittensorpb.GossipBatch{Version: "0.0.0"}, codes.InvalidArgument},
		{"too many synapses", &bittensorpb.GossipBatch{Version: MetagraphVersion, Synapses: tooMany}, codes.ResourceExhausted},
		{"over the message limit", huge, codes.ResourceExhausted},
		{"bad entries are skipped, not fatal", garbage, codes.OK},
	}
	for _, c := range cases {
		_, err := client.Gossip(ctx, c.batch)
		if got := status.Code(err); got != c.want {
			t.Errorf("%s: %v, want code %v", c.name, err, c.want)
		}
	}
	// Still serving, and the garbage left no trace.
	out, err := client.Gossip(ctx, &bittensorpb.GossipBatch{Version: MetagraphVersion})
	if err != nil {
		t.Fatalf("valid batch after bad ones: %v", err)
	}
	if len(out.GetSynapses()) != 1 {
		t.Fatalf("answer carries %d synapses, want A's own", len(out.GetSynapses()))
	}
	if s := a.Stats(); s.Peers != 0 || s.Synapses != 1 {
		t.Fatalf("stats after garbage %+v, want no peers and only the local synapse", s)
	}
}

// Start runs the loop on real time; three members find each other and Stop
// ends everything.
func TestMetagraphStartStop(t *testing.T) {
	a, idA := grpcMember(t, "A")
	b, idB := grpcMember(t, "B", a.Addr())
	c, idC := grpcMember(t, "C", a.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, m := range []*Gossip{a, b, c} {
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Start(ctx); err == nil {
		t.Fatal("second Start accepted")
	}
	// The loop runs on its own ticker: poll, bounded by a timeout.
	eventually.True(t, 15*time.Second, func() bool {
		return knowsAll(a, idA, idB, idC) && knowsAll(b, idA, idB, idC) && knowsAll(c, idA, idB, idC)
	}, "members converge by gossip every 50 ms")
	for _, m := range []*Gossip{a, b, c} {
		if err := m.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := m.Stop(); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		if err := m.Start(ctx); err == nil {
			t.Fatal("Start after Stop accepted")
		}
	}
}

func TestNewMetagraphRefusesBadConfig(t *testing.T) {
	key := labelKey(t, "k")
	bad := map[string]func(*Config){
		"negative port":    func(c *Config) { c.Port = -1 },
		"zero size":        func(c *Config) { c.Size = 0 },
		"ttl below period": func(c *Config) { c.TTL = c.Period },
		"refresh < period": func(c *Config) { c.Refresh = c.Period / 2 },
		"too much work":    func(c *Config) { c.PoWBits = 64 },
		"bad bootstrap":    func(c *Config) { c.Bootstrap = []string{"nohostport"} },
		"bad remote ip":    func(c *Config) { c.RemoteIP = "a b" },
	}
	for name, f := range bad {
		cfg := DefaultConfig()
		f(&cfg)
		if _, err := NewGossip(cfg, key); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, cfg := range map[string]Config{"default": DefaultConfig(), "local": LocalConfig()} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s config: %v", name, err)
		}
	}
	if _, err := NewGossip(DefaultConfig(), nil); err == nil {
		t.Error("nil key accepted")
	}
}

func ExampleGossip() {
	key, _ := keys.NewKey()
	synapseKey, _ := keys.NewKey()
	cfg := LocalConfig() // DefaultConfig() on a real network
	mg, err := NewGossip(cfg, key)
	if err != nil {
		panic(err)
	}
	if err := mg.Subscribe(NewSynapseDefinition(synapseKey.PublicHex(), "127.0.0.1", 8091)); err != nil {
		panic(err)
	}
	if err := mg.Start(context.Background()); err != nil {
		panic(err)
	}
	defer mg.Stop()
	local := mg.GetSynapses(1000)
	fmt.Println(len(local), local[0].GetPort())
	// Output: 1 8091
}

// WithConnPool makes gossip dial through a pool the caller shares (a
// neuron's, with its Dendrite) and leaves it open on Stop.
func TestGossipDialsThroughSharedPool(t *testing.T) {
	a, _ := grpcMember(t, "pool A")
	pool := connpool.New(connpool.Config{
		MaxConns:    4,
		DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
	})
	defer pool.Close()
	cfg := LocalConfig()
	cfg.Bootstrap = []string{a.Addr()}
	b, err := NewGossip(cfg, labelKey(t, "pool B"), WithConnPool(pool))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := b.GossipOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := pool.Len(); got != 1 {
		t.Fatalf("the shared pool holds %d connections after one exchange, want 1", got)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Get(a.Addr()); err != nil {
		t.Fatalf("the shared pool was closed with the metagraph: %v", err)
	}
}
