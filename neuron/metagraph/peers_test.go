package metagraph

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// candidateAddrs returns the candidates, sorted.
func (st *metagraphState) candidateAddrs() []string {
	return slices.Sorted(slices.Values(st.candidates.addrs))
}

func TestPeers(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	cfg.Bootstrap = []string{"boot.example:8092"}
	cfg.MaxPeerFailures = 3
	start := clock.Now()
	st := newMetagraphState(cfg, start)
	st.setSelf("me.example:8092")
	rng := rand.New(rand.NewPCG(1, 2))

	// Addresses told by others are candidates: ours, malformed ones and bad
	// ports are dropped; none is live, listed or passed on.
	for _, a := range []string{"me.example:8092", "not an address", "p1.example:0", "p1.example:65536",
		strings.Repeat("h", 300) + ":1", "p1.example:8092", "p2.example:8092", "p3.example:8092"} {
		st.learnPeer(a, start, rng)
	}
	if got, want := st.candidateAddrs(), []string{"p1.example:8092", "p2.example:8092", "p3.example:8092"}; !slices.Equal(got, want) {
		t.Fatalf("candidates %v, want %v", got, want)
	}
	if got := st.peerList(10, start); len(got) != 0 {
		t.Fatalf("peers %v listed as live before they answered", got)
	}
	if s := st.snapshot(start); s.Live != 0 || s.Peers != 1 || s.Candidates != 3 {
		t.Fatalf("stats %+v, want the bootstrap peer, 3 candidates, none live", s)
	}
	if b := st.batch(start); !slices.Equal(b.GetPeers(), []string{"me.example:8092"}) {
		t.Fatalf("batch peers %v, want only our own address: candidates are not passed on", b.GetPeers())
	}

	// A candidate that answers becomes a live peer; one that fails is dropped.
	st.peerReached("p1.example:8092", start)
	st.peerReached("p3.example:8092", start.Add(time.Millisecond))
	st.peerFailed("p2.example:8092", start)
	now := start.Add(time.Millisecond)
	if got := st.peerList(10, now); !slices.Equal(got, []string{"p3.example:8092", "p1.example:8092"}) {
		t.Fatalf("live peers %v, want [p3 p1], most recently reached first", got)
	}
	if got := st.candidateAddrs(); len(got) != 0 {
		t.Fatalf("candidates %v left after each was tried", got)
	}
	if _, ok := st.peers["p2.example:8092"]; ok {
		t.Fatal("a candidate that failed became a peer")
	}
	if b := st.batch(now); !slices.Equal(b.GetPeers(), []string{"me.example:8092", "p3.example:8092", "p1.example:8092"}) {
		t.Fatalf("batch peers %v, want self then live peers", b.GetPeers())
	}
	// Someone naming a peer again renews it, and does not make it a candidate.
	st.learnPeer("p1.example:8092", now, rng)
	if st.candidates.len() != 0 {
		t.Fatal("a known peer became a candidate again")
	}

	// A failing peer stops being live at once, backs off (period, then
	// doubling) and is dropped after MaxPeerFailures failures; the bootstrap
	// peer is only backed off.
	for i := 1; i <= cfg.MaxPeerFailures; i++ {
		st.peerFailed("p1.example:8092", now)
		st.peerFailed("boot.example:8092", now)
		if i == 1 && slices.Contains(st.peerList(10, now), "p1.example:8092") {
			t.Fatal("a peer whose last exchange failed is still live")
		}
		if i < cfg.MaxPeerFailures {
			wait := cfg.Period << (i - 1)
			if got := st.peers["p1.example:8092"].retryAt; !got.Equal(now.Add(wait)) {
				t.Fatalf("after %d failures retry at +%v, want +%v", i, got.Sub(now), wait)
			}
			for range 20 {
				if p, _ := st.pickPeer(now, rng); p == "p1.example:8092" {
					t.Fatal("picked a peer that is backing off")
				}
			}
			now = now.Add(wait)
		}
	}
	if _, ok := st.peers["p1.example:8092"]; ok {
		t.Fatal("peer kept after MaxPeerFailures failures")
	}
	if _, ok := st.peers["boot.example:8092"]; !ok {
		t.Fatal("bootstrap peer dropped")
	}

	// A live peer not reached again within the TTL stops being live, and is
	// forgotten when nobody announced it either.
	reachedAt := st.peers["p3.example:8092"].reached
	if got := st.peerList(10, reachedAt.Add(cfg.TTL+time.Millisecond)); len(got) != 0 {
		t.Fatalf("peers %v still live a TTL after they last answered", got)
	}
	st.expire(reachedAt.Add(cfg.TTL + time.Second))
	if _, ok := st.peers["p3.example:8092"]; ok {
		t.Fatal("peer kept past the TTL")
	}
	if _, ok := st.peers["boot.example:8092"]; !ok {
		t.Fatal("bootstrap peer expired")
	}
}

// A caller's first peer is its claim about its own address: a candidate, not
// a live peer, until we reach it.
func TestCallerClaimIsOnlyCandidate(t *testing.T) {
	clock := newManualClock()
	now := clock.Now()
	st := newMetagraphState(stateConfig(), now)
	rng := rand.New(rand.NewPCG(5, 6))
	st.sink(&bittensorpb.GossipBatch{Version: MetagraphVersion, Peers: []string{"caller.example:8092", "friend.example:8092"}}, now, rng)
	if got := st.peerList(10, now); len(got) != 0 {
		t.Fatalf("live peers %v after an unverified claim", got)
	}
	if got := st.candidateAddrs(); !slices.Equal(got, []string{"caller.example:8092", "friend.example:8092"}) {
		t.Fatalf("candidates %v, want the caller and its friend", got)
	}
	// With no peer to ask, the round tries a candidate.
	p, ok := st.pickPeer(now, rng)
	if !ok || !st.candidates.has(p) {
		t.Fatalf("picked %q, %v; want a candidate", p, ok)
	}
	st.peerReached(p, now)
	if got := st.peerList(10, now); !slices.Equal(got, []string{p}) {
		t.Fatalf("live peers %v, want the candidate that answered", got)
	}
}

// A batch is read up to MaxBatchPeers addresses, however many it holds.
func TestBatchPeersPartlyRead(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	cfg.MaxBatchPeers, cfg.MaxCandidates = 4, 100
	now := clock.Now()
	st := newMetagraphState(cfg, now)
	b := &bittensorpb.GossipBatch{Version: MetagraphVersion}
	for i := range 50 {
		b.Peers = append(b.Peers, fmt.Sprintf("p%d.example:8092", i))
	}
	st.sink(b, now, rand.New(rand.NewPCG(1, 1)))
	if got, want := st.candidateAddrs(), []string{"p0.example:8092", "p1.example:8092", "p2.example:8092", "p3.example:8092"}; !slices.Equal(got, want) {
		t.Fatalf("candidates %v, want the first %d addresses only", got, cfg.MaxBatchPeers)
	}
}

func TestCandidatesRandomReplacement(t *testing.T) {
	const size = 8
	cfg := stateConfig()
	cfg.MaxCandidates = size
	now := newManualClock().Now()
	fill := func(seed uint64, honestAt, total int) *metagraphState {
		st := newMetagraphState(cfg, now)
		rng := rand.New(rand.NewPCG(seed, 0))
		for i := range total {
			addr := fmt.Sprintf("junk%d.example:1", i)
			if i == honestAt {
				addr = "honest.example:8092"
			}
			st.learnPeer(addr, now, rng)
			if n := st.candidates.len(); n != min(i+1, size) {
				t.Fatalf("seed %d: %d candidates after %d addresses, limit %d", seed, n, i+1, size)
			}
			if !st.candidates.has(addr) {
				t.Fatalf("seed %d: the newest address %s was not taken", seed, addr)
			}
		}
		for i, a := range st.candidates.addrs {
			if st.candidates.index[a] != i {
				t.Fatalf("index of %s is %d, at position %d", a, st.candidates.index[a], i)
			}
		}
		return st
	}

	// Same seed, same choices.
	if a, b := fill(9, -1, 1000).candidateAddrs(), fill(9, -1, 1000).candidateAddrs(); !slices.Equal(a, b) {
		t.Fatalf("same seed, different candidates: %v and %v", a, b)
	}

	// An honest address announced into a full table, then followed by k more
	// junk addresses, survives each with chance 1-1/size: about
	// (7/8)^8 = 34% of the time for k = size. Oldest-first replacement would
	// always evict it, refusing new entries would never take it.
	const trials, k = 2000, size
	survived := 0
	for seed := range uint64(trials) {
		if fill(seed, 100, 100+1+k).candidates.has("honest.example:8092") {
			survived++
		}
	}
	want := 1.0
	for range k {
		want *= 1 - 1.0/size
	}
	// Binomial(2000, 0.344) has a standard deviation of 21; allow 5.
	if got := float64(survived); got < want*trials-105 || got > want*trials+105 {
		t.Fatalf("honest address survived %d of %d floods, want about %.0f", survived, trials, want*trials)
	}
}

// A candidate that answers takes the place of a peer that is not live when
// the table is full, and is not taken when every peer is live.
func TestPromotionWhenPeerTableFull(t *testing.T) {
	cfg := stateConfig()
	cfg.MaxPeers = 2
	now := newManualClock().Now()
	st := newMetagraphState(cfg, now)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, a := range []string{"a.example:1", "b.example:1", "c.example:1", "d.example:1"} {
		st.learnPeer(a, now, rng)
	}
	st.peerReached("a.example:1", now)
	st.peerReached("b.example:1", now)
	st.peerReached("c.example:1", now)
	if got := st.peerList(10, now); !slices.Equal(got, []string{"a.example:1", "b.example:1"}) {
		t.Fatalf("live peers %v: a full table of live peers took a newcomer", got)
	}
	if st.candidates.has("c.example:1") {
		t.Fatal("a candidate that answered stayed a candidate")
	}
	st.peerFailed("b.example:1", now)
	st.peerReached("d.example:1", now)
	if got := slices.Sorted(maps.Keys(st.peers)); !slices.Equal(got, []string{"a.example:1", "d.example:1"}) {
		t.Fatalf("peer table %v, want the failing peer replaced by the one that answered", got)
	}
}

func TestPickPeer(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	cfg.Bootstrap = []string{"boot.example:8092"}
	now := clock.Now()
	st := newMetagraphState(cfg, now)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, a := range []string{"a.example:1", "b.example:1", "c.example:1"} {
		st.learnPeer(a, now, rng) // callers arrived before our first round
	}
	for range 20 {
		if p, ok := st.pickPeer(now, rng); !ok || p != "boot.example:8092" {
			t.Fatalf("picked %q before the bootstrap peer was reached", p)
		}
	}
	st.peerReached("boot.example:8092", now)

	// One round in candidateTryOdds tries a candidate, uniformly; the others a peer.
	const picks = 4000
	count := make(map[string]int)
	for range picks {
		p, ok := st.pickPeer(now, rng)
		if !ok {
			t.Fatal("no peer picked")
		}
		count[p]++
	}
	// Binomial(4000, 1/2) has a standard deviation of 32; allow 5.
	if n := count["boot.example:8092"]; n < picks/2-160 || n > picks/2+160 {
		t.Fatalf("picked the only peer %d times in %d, want about half", n, picks)
	}
	for _, a := range []string{"a.example:1", "b.example:1", "c.example:1"} {
		if n := count[a]; n < picks/6-120 || n > picks/6+120 {
			t.Fatalf("picked candidate %s %d times in %d, want about a sixth: %v", a, n, picks, count)
		}
	}

	// With the only peer backing off, every round tries a candidate; a
	// candidate that fails is gone, and with nobody left there is nobody to ask.
	st.peerFailed("boot.example:8092", now)
	for st.candidates.len() > 0 {
		p, ok := st.pickPeer(now, rng)
		if !ok || !st.candidates.has(p) {
			t.Fatalf("picked %q, %v while only candidates are ready", p, ok)
		}
		st.peerFailed(p, now)
	}
	if p, ok := st.pickPeer(now, rng); ok {
		t.Fatalf("picked %q while every peer backs off and no candidate is left", p)
	}
}
