package metagraph

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/metagraph/metagraphtest"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// memberNetwork is n metagraphs on a MemoryNetwork sharing one fake clock.
// Member i bootstraps from a random earlier member (a random tree); a round
// advances the clock by one period and lets every running member gossip once,
// in random order.
type memberNetwork struct {
	tb      testing.TB
	cfg     Config
	clock   *metagraphtest.Clock
	net     *MemoryNetwork
	rng     *rand.Rand
	members []*member
}

type member struct {
	mg      *Gossip
	addr    string
	synapse synapseID
	stopped bool
}

// networkConfig is LocalConfig with a TTL of 20 periods and a
// refresh every 4 (a refresh costs every member a verification per synapse;
// which synapses are known does not depend on it).
func networkConfig() Config {
	c := LocalConfig()
	c.TTL = 20 * c.Period
	c.Refresh = 4 * c.Period
	return c
}

func newMemberNetwork(tb testing.TB, n int, cfg Config, seed uint64) *memberNetwork {
	tb.Helper()
	nw := &memberNetwork{
		tb:    tb,
		cfg:   cfg,
		clock: newManualClock(),
		net:   NewMemoryNetwork(cfg.MaxMessageBytes),
		rng:   rand.New(rand.NewPCG(seed, 1)),
	}
	for i := range n {
		c := cfg
		if i > 0 {
			c.Bootstrap = []string{nw.members[nw.rng.IntN(i)].addr}
		}
		addr := fmt.Sprintf("m%d.test:8092", i)
		key := labelKey(tb, fmt.Sprintf("seed %d neuron %d", seed, i))
		mg, err := NewGossip(c, key,
			WithTransport(nw.net.Transport(addr)), WithClock(nw.clock.Now), WithRandSeed(seed*1000+uint64(i)))
		if err != nil {
			tb.Fatal(err)
		}
		if err := mg.Listen(); err != nil {
			tb.Fatal(err)
		}
		synKey := labelKey(tb, fmt.Sprintf("seed %d synapse %d", seed, i)).PublicHex()
		if err := mg.Subscribe(NewSynapseDefinition(synKey, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), 8091)); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { mg.Stop() })
		nw.members = append(nw.members, &member{mg: mg, addr: addr, synapse: synapseID{key.PublicHex(), synKey}})
	}
	return nw
}

// round advances the clock one period and runs one gossip round on every
// running member. Failed exchanges (with stopped members) are part of the game.
func (nw *memberNetwork) round(ctx context.Context) {
	nw.clock.Advance(nw.cfg.Period)
	for _, i := range nw.rng.Perm(len(nw.members)) {
		if m := nw.members[i]; !m.stopped {
			_ = m.mg.GossipOnce(ctx)
		}
	}
}

// live returns the synapse identities of the running members.
func (nw *memberNetwork) live() map[synapseID]bool {
	out := make(map[synapseID]bool)
	for _, m := range nw.members {
		if !m.stopped {
			out[m.synapse] = true
		}
	}
	return out
}

// converged reports whether every running member knows exactly the running
// members' synapses.
func (nw *memberNetwork) converged() bool {
	want := nw.live()
	for _, m := range nw.members {
		if m.stopped {
			continue
		}
		got := synapseKeys(m.mg.GetSynapses(len(nw.members) * 2))
		if len(got) != len(want) {
			return false
		}
		for id := range got {
			if !want[id] {
				return false
			}
		}
	}
	return true
}

// roundsToConverge runs rounds until converged, at most limit; it returns the
// number of rounds, or limit+1 if it never converged.
func (nw *memberNetwork) roundsToConverge(ctx context.Context, limit int) int {
	for r := 1; r <= limit; r++ {
		nw.round(ctx)
		if nw.converged() {
			return r
		}
	}
	return limit + 1
}

// knownBy counts the running members that hold synapse id.
func (nw *memberNetwork) knownBy(id synapseID) int {
	n := 0
	for _, m := range nw.members {
		if !m.stopped {
			if _, ok := synapseKeys(m.mg.GetSynapses(len(nw.members) * 2))[id]; ok {
				n++
			}
		}
	}
	return n
}

// convergenceBound is the goal: 2·log2(n) + 2 rounds.
func convergenceBound(n int) int {
	l := 0
	for 1<<l < n {
		l++
	}
	return 2*l + 2
}

func TestNetworkConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("64-member simulation")
	}
	ctx := context.Background()
	const n = 64
	nw := newMemberNetwork(t, n, networkConfig(), 1)
	bound := convergenceBound(n)
	r := nw.roundsToConverge(ctx, bound)
	if r > bound {
		t.Fatalf("%d members did not converge within %d rounds", n, bound)
	}
	t.Logf("%d members converged in %d rounds (bound %d)", n, r, bound)
	for _, m := range nw.members {
		if got := m.mg.GetSynapses(1); len(got) != 1 || idOf(got[0]) != m.synapse {
			t.Fatalf("member %s does not list its own synapse first", m.addr)
		}
		if p := m.mg.GetPeers(n); len(p) == 0 {
			t.Fatalf("member %s has no live peer after convergence", m.addr)
		}
	}
}

func TestNetworkForgetsStoppedMember(t *testing.T) {
	if testing.Short() {
		t.Skip("64-member simulation")
	}
	ctx := context.Background()
	cfg := networkConfig()
	const n = 64
	nw := newMemberNetwork(t, n, cfg, 2)
	if r := nw.roundsToConverge(ctx, convergenceBound(n)); r > convergenceBound(n) {
		t.Fatalf("did not converge within %d rounds", convergenceBound(n))
	}
	// A member stops; its last refresh is the nonce of its definition.
	dead := nw.members[7]
	last := time.UnixMilli(dead.mg.GetSynapses(1)[0].GetNonce())
	dead.stopped = true
	if err := dead.mg.Stop(); err != nil {
		t.Fatal(err)
	}

	// While its definition is within the TTL the others keep it (and keep
	// gossiping it to each other) ...
	for nw.clock.Now().Before(last.Add(cfg.TTL - cfg.Period)) {
		nw.round(ctx)
	}
	if k := nw.knownBy(dead.synapse); k != n-1 {
		t.Fatalf("one period before the TTL, %d of %d members know the stopped synapse, want all", k, n-1)
	}
	// ... and within TTL + a few rounds every member has forgotten it, although
	// they went on gossiping its last definition to each other until then.
	const few = 3
	for nw.clock.Now().Before(last.Add(cfg.TTL + few*cfg.Period)) {
		nw.round(ctx)
	}
	if k := nw.knownBy(dead.synapse); k != 0 {
		t.Fatalf("%d members still know the stopped synapse %d rounds after the TTL", k, few)
	}
	if !nw.converged() {
		t.Fatal("the running members no longer agree after the stop")
	}
	for _, m := range nw.members {
		if m.stopped {
			continue
		}
		for _, p := range m.mg.GetPeers(n) {
			if p == dead.addr {
				t.Fatalf("member %s still lists the stopped member as a live peer", m.addr)
			}
		}
	}
}

func TestNetworkIgnoresForger(t *testing.T) {
	if testing.Short() {
		t.Skip("64-member simulation")
	}
	ctx := context.Background()
	cfg := networkConfig()
	const n = 64
	nw := newMemberNetwork(t, n, cfg, 3)
	f := newForger(t, nw)
	for r := range convergenceBound(n) + 5 {
		nw.round(ctx)
		// Every round the forger pushes its batch to a few members (and
		// answers whoever calls it with the same).
		for range 8 {
			target := nw.members[nw.rng.IntN(n)].addr
			if _, err := f.transport.Exchange(ctx, target, f.batch()); err != nil {
				t.Fatalf("round %d: forger's exchange with %s refused as a whole: %v", r, target, err)
			}
		}
	}
	if !nw.converged() {
		t.Fatal("members did not converge while a forger flooded them")
	}
	// Every stored definition is the one its owner signed (address included).
	want := make(map[synapseID]string)
	for i, m := range nw.members {
		want[m.synapse] = fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
	}
	var rejected uint64
	for _, m := range nw.members {
		for _, d := range m.mg.GetSynapses(2 * n) {
			if addr, ok := want[idOf(d)]; !ok || d.GetAddress() != addr {
				t.Fatalf("member %s stores a definition the forger made: %v", m.addr, d)
			}
			if err := VerifySynapse(d, cfg.PoWBits); err != nil {
				t.Fatalf("member %s stores an invalid definition: %v", m.addr, err)
			}
		}
		rejected += m.mg.Stats().Rejected
	}
	if rejected == 0 {
		t.Fatal("no member counted a rejected definition; was the forger heard at all?")
	}
}

// forger floods members with definitions that must all be refused: copies of
// honest ones with a higher nonce and its own address (signature broken),
// honest keys signed by itself, definitions of its own with no work, from the
// future, or long expired.
type forger struct {
	tb        testing.TB
	nw        *memberNetwork
	key       *keys.Key
	transport Transport
}

func newForger(tb testing.TB, nw *memberNetwork) *forger {
	f := &forger{tb: tb, nw: nw, key: labelKey(tb, "forger"), transport: nw.net.Transport("forger.test:8092")}
	if _, err := f.transport.Listen(f); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.transport.Close() })
	return f
}

// Gossip answers members that pick the forger with another forged batch.
func (f *forger) Gossip(context.Context, *bittensorpb.GossipBatch) (*bittensorpb.GossipBatch, error) {
	return f.batch(), nil
}

func (f *forger) batch() *bittensorpb.GossipBatch {
	now := f.nw.clock.Now()
	bits := f.nw.cfg.PoWBits
	b := &bittensorpb.GossipBatch{Version: MetagraphVersion, Peers: []string{"forger.test:8092"}}
	victim := f.nw.members[f.nw.rng.IntN(len(f.nw.members))]
	for _, d := range victim.mg.GetSynapses(4) {
		hijack := copySynapse(d) // honest definition, redirected to the forger
		hijack.Address = "10.66.66.66"
		hijack.Nonce = now.UnixMilli() + 1
		rework(hijack, bits)
		b.Synapses = append(b.Synapses, hijack)

		impostor := copySynapse(d) // honest keys, forger's signature
		impostor.Nonce = now.UnixMilli() + 2
		digest := rework(impostor, bits)
		impostor.Signature = f.key.Sign(digest[:])
		b.Synapses = append(b.Synapses, impostor)
	}
	own := signedDef(f.tb, f.key, fmt.Sprintf("forged %d", now.UnixNano()), now, bits)
	b.Synapses = append(b.Synapses,
		unworked(f.tb, own, f.key, bits),
		signedDef(f.tb, f.key, "future", now.Add(f.nw.cfg.MaxClockSkew+time.Second), bits),
		signedDef(f.tb, f.key, "ancient", now.Add(-f.nw.cfg.TTL-time.Second), bits),
	)
	return b
}
