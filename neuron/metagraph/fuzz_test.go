package metagraph

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// fuzzConfig keeps the work small so that valid seeds are cheap to build.
func fuzzConfig() Config {
	c := stateConfig()
	c.PoWBits = 4
	return c
}

// FuzzSynapseDefinition feeds outside bytes, decoded as a Synapse, through the
// acceptance rules: never a panic, only the package's errors, and anything
// accepted is a definition its owner signed.
func FuzzSynapseDefinition(f *testing.F) {
	clock := newManualClock()
	owner := labelKey(f, "owner")
	valid := signedDef(f, owner, "syn", clock.Now(), fuzzConfig().PoWBits)
	announced := announcedDef(f, owner, "syn", clock.Now(), fuzzConfig().PoWBits)
	for _, d := range []*bittensorpb.Synapse{valid, announced, {}, {Version: MetagraphVersion, Port: "0"}} {
		b, err := proto.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	known := []error{ErrMalformedSynapse, ErrUnknownSynapseVersion, ErrBadProofOfWork, keys.ErrBadSignature,
		ErrStaleSynapse, ErrExpiredSynapse, ErrFutureSynapse}

	f.Fuzz(func(t *testing.T, data []byte) {
		d := new(bittensorpb.Synapse)
		if err := proto.Unmarshal(data, d); err != nil {
			return
		}
		st := newMetagraphState(fuzzConfig(), clock.Now())
		err := st.accept(d, clock.Now())
		if err != nil {
			for _, k := range known {
				if errors.Is(err, k) {
					return
				}
			}
			t.Fatalf("accept: unclassified error %v", err)
		}
		if err := VerifySynapse(d, fuzzConfig().PoWBits); err != nil {
			t.Fatalf("accepted a definition that does not verify: %v", err)
		}
		if d.GetNeuronKey() != owner.PublicHex() {
			t.Fatalf("accepted a definition signed by an unknown key %q", d.GetNeuronKey())
		}
		// What is stored keeps the announcement that was signed.
		for _, s := range st.synapseList(10, clock.Now()) {
			if err := VerifySynapse(s, fuzzConfig().PoWBits); err != nil {
				t.Fatalf("stored copy does not verify: %v", err)
			}
		}
	})
}

// FuzzGossipBatch feeds outside bytes, decoded as a GossipBatch, to the
// Metagraph.Gossip handler: never a panic, and what it stores afterwards is
// only well-formed peers and verified definitions.
func FuzzGossipBatch(f *testing.F) {
	clock := newManualClock()
	owner := labelKey(f, "owner")
	valid := &bittensorpb.GossipBatch{
		Version: MetagraphVersion,
		Peers:   []string{"10.0.0.2:8092", "peer.example:1"},
		Synapses: []*bittensorpb.Synapse{signedDef(f, owner, "syn", clock.Now(), fuzzConfig().PoWBits),
			announcedDef(f, owner, "announced syn", clock.Now(), fuzzConfig().PoWBits)},
	}
	for _, b := range []*bittensorpb.GossipBatch{valid, {}, {Version: MetagraphVersion, Peers: []string{"::::"}}} {
		data, err := proto.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		in := new(bittensorpb.GossipBatch)
		if err := proto.Unmarshal(data, in); err != nil {
			return
		}
		net := NewMemoryNetwork(1 << 20)
		mg, err := NewGossip(fuzzConfig(), labelKey(t, "me"), WithTransport(net.Transport("me.test:8092")), WithClock(clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		out, err := mg.Gossip(context.Background(), in)
		if err != nil {
			return // refused as a whole with a status
		}
		if out.GetVersion() != MetagraphVersion {
			t.Fatalf("answer version %q", out.GetVersion())
		}
		for _, d := range mg.GetSynapses(1 << 20) {
			if err := VerifySynapse(d, fuzzConfig().PoWBits); err != nil {
				t.Fatalf("stored a definition that does not verify: %v", err)
			}
		}
		mg.mu.Lock()
		defer mg.mu.Unlock()
		for addr := range mg.state.peers {
			if err := validateHostPort(addr); err != nil {
				t.Fatalf("stored a bad peer address: %v", err)
			}
		}
		if len(mg.state.peers) > mg.cfg.MaxPeers {
			t.Fatalf("%d peers stored, limit %d", len(mg.state.peers), mg.cfg.MaxPeers)
		}
		if n := mg.state.candidates.len(); n > mg.cfg.MaxCandidates {
			t.Fatalf("%d candidates stored, limit %d", n, mg.cfg.MaxCandidates)
		}
		if live := mg.state.peerList(1<<20, clock.Now()); len(live) != 0 {
			t.Fatalf("live peers %v from a batch alone: only an answer to our own exchange proves an address", live)
		}
	})
}

// FuzzGossipBatchSink drives the peer rules with arbitrary batches: each of a
// few rounds sinks the batch (its peers rotated, so that every part of a long
// list gets read), picks a gossip partner and lets the exchange succeed or fail
// as the fuzzer says, then ages the state by a period. After every step the
// tables are within their limits, hold only well-formed addresses that are not
// ours, no address is both a peer and a candidate, and only an address whose
// exchange succeeded is counted, listed or passed on as live.
func FuzzGossipBatchSink(f *testing.F) {
	clock := newManualClock()
	owner := labelKey(f, "owner")
	seeds := []*bittensorpb.GossipBatch{
		{Version: MetagraphVersion, Peers: []string{"10.0.0.2:8092", "peer.example:1", "me.test:8092", "boot.test:8092"},
			Synapses: []*bittensorpb.Synapse{signedDef(f, owner, "syn", clock.Now(), fuzzConfig().PoWBits)}},
		{},
		{Version: MetagraphVersion, Peers: []string{"::::", "a:0", "[::1]:8092", "b:65536", "c.example:8092"}},
	}
	for i, b := range seeds {
		data, err := proto.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "x.example:1\ny.example:2\nz.example:3", uint64(i), uint64(0b1011_0110))
	}

	cfg := fuzzConfig()
	cfg.Bootstrap = []string{"boot.test:8092"}
	cfg.MaxPeers, cfg.MaxCandidates, cfg.MaxBatchPeers, cfg.MaxPeerFailures = 3, 4, 16, 2
	const rounds = 8

	f.Fuzz(func(t *testing.T, data []byte, extra string, seed, outcomes uint64) {
		in := new(bittensorpb.GossipBatch)
		if err := proto.Unmarshal(data, in); err != nil {
			in.Reset() // the peers of extra still come through
		}
		if extra != "" {
			in.Peers = append(in.Peers, strings.Split(extra, "\n")...)
		}
		now := clock.Now()
		st := newMetagraphState(cfg, now)
		st.setSelf("me.test:8092")
		rng := rand.New(rand.NewPCG(seed, 0))
		answered := make(map[string]bool) // addresses whose exchange with us succeeded
		for r := range rounds {
			b := proto.CloneOf(in)
			if n := len(b.Peers); n > 0 {
				k := r * cfg.MaxBatchPeers % n
				b.Peers = append(b.Peers[k:], b.Peers[:k]...)
			}
			st.sink(b, now, rng)
			checkPeerInvariants(t, st, cfg, answered, now)
			if p, ok := st.pickPeer(now, rng); ok {
				if outcomes>>r&1 == 1 {
					st.peerReached(p, now)
					answered[p] = true
				} else {
					st.peerFailed(p, now)
				}
			}
			checkPeerInvariants(t, st, cfg, answered, now)
			now = now.Add(cfg.Period)
			st.expire(now)
			checkPeerInvariants(t, st, cfg, answered, now)
		}
	})
}

// checkPeerInvariants fails t when the peer tables break a rule that holds
// whatever was received.
func checkPeerInvariants(t *testing.T, st *metagraphState, cfg Config, answered map[string]bool, now time.Time) {
	t.Helper()
	if n := st.candidates.len(); n > cfg.MaxCandidates {
		t.Fatalf("%d candidates, limit %d", n, cfg.MaxCandidates)
	}
	if len(st.candidates.index) != st.candidates.len() {
		t.Fatalf("candidate index holds %d addresses, the set %d", len(st.candidates.index), st.candidates.len())
	}
	if n := len(st.peers); n > max(cfg.MaxPeers, len(cfg.Bootstrap)) {
		t.Fatalf("%d peers, limit %d", n, cfg.MaxPeers)
	}
	for i, a := range st.candidates.addrs {
		if st.candidates.index[a] != i {
			t.Fatalf("candidate %q at %d indexed at %d", a, i, st.candidates.index[a])
		}
		if _, ok := st.peers[a]; ok {
			t.Fatalf("%q is both a peer and a candidate", a)
		}
	}
	for _, a := range append(slices.Clone(st.candidates.addrs), slices.Collect(maps.Keys(st.peers))...) {
		if a == st.self {
			t.Fatal("our own address is among the peers or candidates")
		}
		if err := validateHostPort(a); err != nil {
			t.Fatalf("stored a bad address: %v", err)
		}
	}
	live := st.peerList(1<<20, now)
	for _, a := range live {
		if !answered[a] {
			t.Fatalf("%q is live but never answered an exchange", a)
		}
	}
	if s := st.snapshot(now); s.Live != len(live) || s.Candidates != st.candidates.len() || s.Peers != len(st.peers) {
		t.Fatalf("stats %+v, want %d live, %d candidates, %d peers", s, len(live), st.candidates.len(), len(st.peers))
	}
	b := st.batch(now)
	if len(b.GetPeers()) == 0 || b.GetPeers()[0] != st.self || len(b.GetPeers()) > cfg.MaxBatchPeers {
		t.Fatalf("batch peers %q: want our address first, at most %d", b.GetPeers(), cfg.MaxBatchPeers)
	}
	for _, a := range b.GetPeers()[1:] {
		if !slices.Contains(live, a) {
			t.Fatalf("batch passes on %q, which is not live", a)
		}
	}
}
