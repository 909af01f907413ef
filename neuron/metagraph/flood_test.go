package metagraph

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// THE FLOOD: a flooder sends 100 000 junk addresses (most well formed but
// unreachable, some malformed, some naming us) in full batches, then an honest
// newcomer joins through us and announces itself once. We must gossip with
// the newcomer within a bounded number of rounds, and the junk must neither
// count as peers nor spread.
//
// The bound: the flood leaves MaxCandidates = C junk candidates; the
// newcomer's claim replaces one of them, and after the flood nothing refills
// the set (the only peer we ask has no other live peers to tell). A round
// tries a uniformly random candidate with chance q = 1/candidateTryOdds = 1/2;
// junk fails and is dropped, so the newcomer is tried at the latest by the
// C-th candidate try, on average by the (C+1)/2-th. C tries take C/q = 2C
// rounds on average (standard deviation √(C(1-q))/q ≈ 11 for C = 64); the
// test allows 3C = 192 rounds, 5 standard deviations beyond the worst case.
func TestMetagraphFloodThenNewcomer(t *testing.T) {
	const (
		candidates = 64
		junk       = 100_000
		bound      = 3 * candidates
	)
	ctx := context.Background()
	clock := newManualClock()
	net := NewMemoryNetwork(1 << 20)
	cfg := LocalConfig()
	cfg.MaxCandidates = candidates
	mk := func(addr string, seed uint64, bootstrap ...string) *Gossip {
		return memoryMember(t, net, cfg, clock, addr, seed, bootstrap...)
	}
	friend := mk("friend.test:8092", 1)
	me := mk("me.test:8092", 2, "friend.test:8092")
	if err := me.GossipOnce(ctx); err != nil { // join through the bootstrap peer
		t.Fatal(err)
	}

	flooder := net.Transport("flooder.test:8092")
	t.Cleanup(func() { flooder.Close() })
	for sent := 0; sent < junk; {
		b := &bittensorpb.GossipBatch{Version: MetagraphVersion}
		for ; len(b.Peers) < cfg.MaxBatchPeers && sent < junk; sent++ {
			var addr string
			switch sent % 100 {
			case 0:
				addr = "me.test:8092"
			case 1:
				addr = strings.Repeat("x", sent%700) + ":8092"
			case 2:
				addr = fmt.Sprintf("j%d.junk.test:%d", sent, 65536+sent)
			case 3:
				addr = fmt.Sprintf("j%d junk", sent)
			default:
				addr = fmt.Sprintf("j%d.junk.test:8092", sent)
			}
			b.Peers = append(b.Peers, addr)
		}
		if _, err := flooder.Exchange(ctx, "me.test:8092", b); err != nil {
			t.Fatalf("flood batch refused as a whole after %d addresses: %v", sent, err)
		}
	}
	if s := me.Stats(); s.Candidates != candidates || s.Live != 1 || s.Peers != 1 {
		t.Fatalf("after the flood: %+v, want %d candidates and only the bootstrap peer live", s, candidates)
	}
	if p := me.GetPeers(junk); !slices.Equal(p, []string{"friend.test:8092"}) {
		t.Fatalf("after the flood GetPeers is %d long, want only the bootstrap peer", len(p))
	}

	newcomer := mk("newcomer.test:8092", 3, "me.test:8092")
	if err := newcomer.GossipOnce(ctx); err != nil { // its one announcement: its claim in our candidates
		t.Fatal(err)
	}
	if slices.Contains(me.GetPeers(10), "newcomer.test:8092") {
		t.Fatal("the newcomer's claim counted as a live peer before it answered")
	}
	rounds := 0
	for !slices.Contains(me.GetPeers(10), "newcomer.test:8092") {
		rounds++
		if rounds > bound {
			t.Fatalf("newcomer not gossiped with within %d rounds after the flood; stats %+v", bound, me.Stats())
		}
		clock.Advance(cfg.Period)
		_ = me.GossipOnce(ctx) // exchanges with junk fail; that is the point
	}
	t.Logf("newcomer reached in round %d after a flood of %d addresses (bound %d)", rounds, junk, bound)

	if s := me.Stats(); s.Live != 2 || s.Peers != 2 {
		t.Fatalf("after the newcomer answered: %+v, want the bootstrap peer and the newcomer, both live", s)
	}
	// The junk never spread: our batches carry live peers only.
	friend.mu.Lock()
	defer friend.mu.Unlock()
	for _, a := range friend.state.candidates.addrs {
		if strings.Contains(a, "junk") {
			t.Fatalf("junk address %s reached our peer", a)
		}
	}
	for a := range friend.state.peers {
		if strings.Contains(a, "junk") {
			t.Fatalf("junk address %s reached our peer", a)
		}
	}
}

// An address that is another name of ours (here an alias on the memory
// network; on a real one "localhost:" and our port) is tried like any
// candidate, but the answer carries our own address first: we never become
// our own peer.
func TestMetagraphNeverItsOwnPeer(t *testing.T) {
	ctx := context.Background()
	clock := newManualClock()
	net := NewMemoryNetwork(1 << 20)
	me, err := NewGossip(LocalConfig(), labelKey(t, "me"), WithTransport(net.Transport("me.test:8092")), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if err := me.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { me.Stop() })
	alias := net.Transport("alias.test:8092")
	if _, err := alias.Listen(me); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alias.Close() })

	flooder := net.Transport("flooder.test:8092")
	t.Cleanup(func() { flooder.Close() })
	if _, err := flooder.Exchange(ctx, "me.test:8092", &bittensorpb.GossipBatch{Version: MetagraphVersion, Peers: []string{"alias.test:8092"}}); err != nil {
		t.Fatal(err)
	}
	if s := me.Stats(); s.Candidates != 1 {
		t.Fatalf("stats %+v, want the alias as a candidate", s)
	}
	if err := me.GossipOnce(ctx); err == nil || !strings.Contains(err.Error(), "our own") {
		t.Fatalf("gossip with our own alias: %v, want an error saying the answer is ours", err)
	}
	if s := me.Stats(); s.Candidates != 0 || s.Peers != 0 || s.Live != 0 {
		t.Fatalf("stats %+v after talking to ourselves, want no peer and no candidate", s)
	}
}
