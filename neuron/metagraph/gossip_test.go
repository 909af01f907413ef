package metagraph

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/neuron/metagraph/metagraphtest"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// pair is two metagraphs on a MemoryNetwork with a fake clock; b bootstraps from a.
func pair(t *testing.T) (a, b *Gossip, clock *metagraphtest.Clock) {
	t.Helper()
	clock = newManualClock()
	net := NewMemoryNetwork(1 << 20)
	cfg := LocalConfig()
	a = memoryMember(t, net, cfg, clock, "a.test:8092", 1)
	b = memoryMember(t, net, cfg, clock, "b.test:8092", 1, "a.test:8092")
	return a, b, clock
}

func TestMetagraphRefreshesLocalDefinitions(t *testing.T) {
	a, b, clock := pair(t)
	ctx := context.Background()
	syn := labelKey(t, "a synapse").PublicHex()
	if err := a.Subscribe(NewSynapseDefinition(syn, "10.0.0.1", 8091)); err != nil {
		t.Fatal(err)
	}
	first := a.GetSynapses(1)[0]
	if err := VerifySynapse(first, a.cfg.PoWBits); err != nil {
		t.Fatalf("subscribed definition: %v", err)
	}
	if first.GetNeuronKey() != a.key.PublicHex() || first.GetSynapseKey() != syn || first.GetNonce() != clock.Now().UnixMilli() {
		t.Fatalf("subscribed definition %v: want a's key and the current time as nonce", first)
	}

	nonces := []int64{first.GetNonce()}
	for range 3 {
		clock.Advance(a.cfg.Period)
		if err := a.GossipOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.GossipOnce(ctx); err != nil {
			t.Fatal(err)
		}
		d := a.GetSynapses(1)[0]
		if err := VerifySynapse(d, a.cfg.PoWBits); err != nil {
			t.Fatalf("refreshed definition: %v", err)
		}
		nonces = append(nonces, d.GetNonce())
		if got := b.GetSynapses(10); len(got) != 1 || got[0].GetNonce() != d.GetNonce() {
			t.Fatalf("b holds %v, want a's latest definition (nonce %d)", got, d.GetNonce())
		}
	}
	for i := 1; i < len(nonces); i++ {
		if nonces[i] <= nonces[i-1] {
			t.Fatalf("nonces %v, want strictly increasing: one refresh per period", nonces)
		}
	}

	// Re-subscribing moves the synapse: new address, same identity, newer nonce.
	if err := a.Subscribe(NewSynapseDefinition(syn, "10.0.0.9", 9000)); err != nil {
		t.Fatal(err)
	}
	got := a.GetSynapses(10)
	if len(got) != 1 || got[0].GetAddress() != "10.0.0.9" || got[0].GetPort() != "9000" || got[0].GetNonce() <= nonces[len(nonces)-1] {
		t.Fatalf("after re-subscribe: %v", got)
	}
}

func TestMetagraphSubscribeRefusesMalformed(t *testing.T) {
	a, _, _ := pair(t)
	if err := a.Subscribe(nil); err == nil {
		t.Error("nil synapse accepted")
	}
	if err := a.Subscribe(NewSynapseDefinition("not a key", "10.0.0.1", 8091)); err == nil {
		t.Error("bad synapse key accepted")
	}
	if err := a.Subscribe(NewSynapseDefinition(labelKey(t, "s").PublicHex(), "10.0.0.1", 70000)); err == nil {
		t.Error("port 70000 accepted")
	}
	if n := len(a.GetSynapses(10)); n != 0 {
		t.Fatalf("%d synapses after refused subscriptions", n)
	}
}

func TestMetagraphSynapsesAreCopiesAndWeighted(t *testing.T) {
	a, b, _ := pair(t)
	ctx := context.Background()
	for _, name := range []string{"a1", "a2"} {
		if err := a.Subscribe(NewSynapseDefinition(labelKey(t, name).PublicHex(), "10.0.0.1", 8091)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Subscribe(NewSynapseDefinition(labelKey(t, "b1").PublicHex(), "10.0.0.2", 8091)); err != nil {
		t.Fatal(err)
	}
	if err := b.GossipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := b.GetSynapses(10)
	if len(got) != 3 || got[0].GetSynapseKey() != labelKey(t, "b1").PublicHex() {
		t.Fatalf("b lists %d synapses, first %v; want 3, its own first", len(got), got[0])
	}
	remote := got[1:]
	if err := b.SetWeights(remote, []float64{0.25, 0.75}); err != nil {
		t.Fatal(err)
	}
	if w := b.Weights(remote); !slices.Equal(w, []float64{0.25, 0.75}) {
		t.Fatalf("weights %v", w)
	}
	order := b.GetSynapses(10)
	if idOf(order[1]) != idOf(remote[1]) || idOf(order[2]) != idOf(remote[0]) {
		t.Fatal("remote synapses not ordered by weight, highest first")
	}
	if n := len(b.GetSynapses(2)); n != 2 {
		t.Fatalf("GetSynapses(2) returned %d", n)
	}
	// Changing a returned message changes nothing inside.
	order[1].Address = "10.6.6.6"
	order[1].Signature[0] ^= 1
	again := b.GetSynapses(10)[1]
	if again.GetAddress() == "10.6.6.6" || VerifySynapse(again, b.cfg.PoWBits) != nil {
		t.Fatal("a returned synapse aliases the cache")
	}
	if s := b.Stats(); s.Synapses != 3 || s.Accepted != 2 || s.Live != 1 {
		t.Fatalf("stats %+v, want 3 synapses, 2 accepted, 1 live peer", s)
	}
	if p := b.GetPeers(10); !slices.Equal(p, []string{"a.test:8092"}) {
		t.Fatalf("b's peers %v", p)
	}
	// b called a and claimed its address: for a that is a candidate, not a
	// peer, until a's own exchange with b succeeds.
	if p := a.GetPeers(10); len(p) != 0 {
		t.Fatalf("a's peers %v: b's claim about itself counted before b answered", p)
	}
	if s := a.Stats(); s.Candidates != 1 || s.Live != 0 {
		t.Fatalf("a's stats %+v, want b as its one candidate", s)
	}
	if err := a.GossipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if p := a.GetPeers(10); !slices.Equal(p, []string{"b.test:8092"}) {
		t.Fatalf("a's peers %v after b answered a's exchange, want b", p)
	}
	if s := a.Stats(); s.Candidates != 0 || s.Live != 1 {
		t.Fatalf("a's stats %+v, want b promoted from candidate to live peer", s)
	}
}

func TestMetagraphGossipTimeout(t *testing.T) {
	clock := newManualClock()
	cfg := LocalConfig()
	cfg.Bootstrap = []string{"slow.test:8092"}
	cfg.GossipTimeout = 50 * time.Millisecond
	net := NewMemoryNetwork(1 << 20)
	slow := &blockingPeer{release: make(chan struct{})}
	defer close(slow.release)
	tr := net.Transport("slow.test:8092")
	if _, err := tr.Listen(slow); err != nil {
		t.Fatal(err)
	}
	mg, err := NewGossip(cfg, labelKey(t, "me"), WithTransport(net.Transport("me.test:8092")), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer mg.Stop()
	// The caller's context has no deadline: GossipTimeout must end the round.
	if err := mg.GossipOnce(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exchange with a peer that never answers: %v, want the gossip deadline", err)
	}
}

// blockingPeer answers only when its context ends.
type blockingPeer struct{ release chan struct{} }

func (p *blockingPeer) Gossip(ctx context.Context, _ *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.release:
		return &bittensorpb.GossipBatch{Version: MetagraphVersion}, nil
	}
}

func TestMetagraphRefusesBadAnswer(t *testing.T) {
	clock := newManualClock()
	cfg := LocalConfig()
	cfg.Bootstrap = []string{"old.test:8092"}
	net := NewMemoryNetwork(1 << 20)
	old := net.Transport("old.test:8092")
	if _, err := old.Listen(answerWith{&bittensorpb.GossipBatch{Version: "0.0.0"}}); err != nil {
		t.Fatal(err)
	}
	mg, err := NewGossip(cfg, labelKey(t, "me"), WithTransport(net.Transport("me.test:8092")), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer mg.Stop()
	if err := mg.GossipOnce(context.Background()); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("answer of an unknown version: %v, want InvalidArgument", err)
	}
	mg.mu.Lock()
	failures := mg.state.peers["old.test:8092"].failures
	mg.mu.Unlock()
	if failures != 1 {
		t.Fatalf("peer failures %d after a refused answer, want 1", failures)
	}
}

// answerWith answers every exchange with the same batch.
type answerWith struct{ b *bittensorpb.GossipBatch }

func (a answerWith) Gossip(context.Context, *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error) {
	return a.b, nil
}
