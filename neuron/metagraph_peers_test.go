package neuron

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestPeers(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	cfg.Bootstrap = []string{"boot.example:8092"}
	cfg.MaxPeerFailures = 3
	cfg.MaxPeers = 4
	start := clock.Now()
	st := newMetagraphState(cfg, start)
	st.setSelf("me.example:8092")
	rng := rand.New(rand.NewPCG(1, 2))

	for _, a := range []string{"me.example:8092", "not an address", "p1.example:8092", "p2.example:8092", "p3.example:8092", "p4.example:8092"} {
		st.learnPeer(a, start)
	}
	if len(st.peers) != 4 { // boot, p1, p2, p3: self and garbage skipped, p4 over the cap
		t.Fatalf("%d peers known, want 4: %v", len(st.peers), slices.Sorted(maps.Keys(st.peers)))
	}
	if got := st.peerList(10, start); len(got) != 0 {
		t.Fatalf("peers %v listed as live before we reached them", got)
	}

	// Reaching a peer, or being called by it, makes it live; only live peers
	// are passed on, most recent first.
	st.peerReached("p1.example:8092", start)
	st.peerHeard("p3.example:8092", start.Add(time.Millisecond))
	if got := st.peerList(10, start.Add(time.Millisecond)); !slices.Equal(got, []string{"p3.example:8092", "p1.example:8092"}) {
		t.Fatalf("live peers %v, want [p3 p1]", got)
	}
	if b := st.batch(start); !slices.Equal(b.GetPeers(), []string{"me.example:8092", "p3.example:8092", "p1.example:8092"}) {
		t.Fatalf("batch peers %v, want self then live peers", b.GetPeers())
	}

	// A failing peer backs off (period, then doubling) and is dropped after
	// MaxPeerFailures failures; the bootstrap peer is only backed off.
	now := start
	for i := 1; i <= cfg.MaxPeerFailures; i++ {
		st.peerFailed("p2.example:8092", now)
		st.peerFailed("boot.example:8092", now)
		if i < cfg.MaxPeerFailures {
			wait := cfg.Period << (i - 1)
			if got := st.peers["p2.example:8092"].retryAt; !got.Equal(now.Add(wait)) {
				t.Fatalf("after %d failures retry at +%v, want +%v", i, got.Sub(now), wait)
			}
			for range 20 {
				if p, _ := st.pickPeer(now, rng); p == "p2.example:8092" {
					t.Fatal("picked a peer that is backing off")
				}
			}
			now = now.Add(wait)
		}
	}
	if _, ok := st.peers["p2.example:8092"]; ok {
		t.Fatal("peer kept after MaxPeerFailures failures")
	}
	if _, ok := st.peers["boot.example:8092"]; !ok {
		t.Fatal("bootstrap peer dropped")
	}

	// A peer neither reached nor re-learned within the TTL is forgotten.
	late := start.Add(cfg.TTL + time.Second)
	st.expire(late)
	for _, a := range []string{"p1.example:8092", "p3.example:8092"} {
		if _, ok := st.peers[a]; ok {
			t.Fatalf("peer %s kept past the TTL", a)
		}
	}
	if _, ok := st.peers["boot.example:8092"]; !ok {
		t.Fatal("bootstrap peer expired")
	}
}

func TestPickPeerJoinsThroughBootstrapFirst(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	cfg.Bootstrap = []string{"boot.example:8092"}
	now := clock.Now()
	st := newMetagraphState(cfg, now)
	for _, a := range []string{"a.example:1", "b.example:1", "c.example:1"} {
		st.peerHeard(a, now) // callers arrived before our first round
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		if p, ok := st.pickPeer(now, rng); !ok || p != "boot.example:8092" {
			t.Fatalf("picked %q before the bootstrap peer was reached", p)
		}
	}
	st.peerReached("boot.example:8092", now)
	seen := make(map[string]bool)
	for range 200 {
		p, ok := st.pickPeer(now, rng)
		if !ok {
			t.Fatal("no peer picked")
		}
		seen[p] = true
	}
	if len(seen) != 4 {
		t.Fatalf("picked only %v out of 4 ready peers", slices.Sorted(maps.Keys(seen)))
	}
	// With every peer backing off there is nobody to ask.
	for _, a := range []string{"boot.example:8092", "a.example:1", "b.example:1", "c.example:1"} {
		st.peerFailed(a, now)
	}
	if p, ok := st.pickPeer(now, rng); ok {
		t.Fatalf("picked %q while every peer backs off", p)
	}
}
