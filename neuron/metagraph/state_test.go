package metagraph

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// stateConfig is the configuration of the rules tests: 8 bits of work, TTL of
// 30 periods of one second.
func stateConfig() Config {
	c := LocalConfig()
	c.Period = time.Second
	c.Refresh = time.Second
	c.TTL = 30 * time.Second
	c.MaxClockSkew = 5 * time.Second
	c.MaxBackoff = 8 * time.Second
	c.PoWBits = 8
	c.Size = 4
	return c
}

func TestStateAcceptsValidDefinition(t *testing.T) {
	clock := newManualClock()
	st := newMetagraphState(stateConfig(), clock.Now())
	owner := labelKey(t, "owner")
	d := signedDef(t, owner, "syn", clock.Now(), 8)
	if err := st.accept(d, clock.Now()); err != nil {
		t.Fatalf("accept valid definition: %v", err)
	}
	got := st.synapseList(10, clock.Now())
	if len(got) != 1 || got[0].GetNeuronKey() != owner.PublicHex() || got[0].GetNonce() != d.GetNonce() {
		t.Fatalf("stored %v, want the accepted definition", got)
	}
	if s := st.snapshot(clock.Now()); s.Accepted != 1 || s.Rejected != 0 || s.Synapses != 1 {
		t.Fatalf("stats %+v, want 1 accepted", s)
	}
}

func TestStateRejects(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	now := clock.Now()
	owner, forger := labelKey(t, "owner"), labelKey(t, "forger")
	good := signedDef(t, owner, "syn", now, cfg.PoWBits)

	flipSig := copySynapse(good)
	flipSig.Signature[3] ^= 1

	movedAddress := copySynapse(good) // a relay rewrites the address, redoes the work
	movedAddress.Address = "10.6.6.6"
	rework(movedAddress, cfg.PoWBits)

	forgedOwner := copySynapse(good) // claims owner's key, worked and signed by forger
	forgedOwner.Nonce += 5
	digest := rework(forgedOwner, cfg.PoWBits)
	forgedOwner.Signature = forger.Sign(digest[:])

	noWork := unworked(t, good, owner, cfg.PoWBits)

	oldVersion := copySynapse(good)
	oldVersion.Version = "0.0.1"
	if err := SignSynapse(oldVersion, owner, good.GetNonce(), cfg.PoWBits); !errors.Is(err, ErrUnknownSynapseVersion) {
		t.Fatalf("signing an unknown version: %v, want ErrUnknownSynapseVersion", err)
	}

	badAddress := copySynapse(good)
	badAddress.Address = "10.0.0.1; rm -rf /"
	upperKey := copySynapse(good)
	upperKey.SynapseKey = "ABCDEF" + upperKey.SynapseKey[6:]
	badPort := copySynapse(good)
	badPort.Port = "70000"

	expired := signedDef(t, owner, "syn2", now.Add(-cfg.TTL-time.Millisecond), cfg.PoWBits)
	future := signedDef(t, owner, "syn3", now.Add(cfg.MaxClockSkew+time.Millisecond), cfg.PoWBits)

	cases := []struct {
		name string
		def  *bittensorpb.Synapse
		want error
	}{
		{"bad signature", flipSig, keys.ErrBadSignature},
		{"field changed after signing", movedAddress, keys.ErrBadSignature},
		{"forged owner", forgedOwner, keys.ErrBadSignature},
		{"bad proof of work", noWork, ErrBadProofOfWork},
		{"unknown version", oldVersion, ErrUnknownSynapseVersion},
		{"malformed address", badAddress, ErrMalformedSynapse},
		{"upper-case key", upperKey, ErrMalformedSynapse},
		{"port out of range", badPort, ErrMalformedSynapse},
		{"nil", nil, ErrMalformedSynapse},
		{"expired", expired, ErrExpiredSynapse},
		{"from the future", future, ErrFutureSynapse},
	}
	st := newMetagraphState(cfg, now)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := st.accept(c.def, now); !errors.Is(err, c.want) {
				t.Fatalf("accept: %v, want %v", err, c.want)
			}
		})
	}
	if n := len(st.synapseList(100, now)); n != 0 {
		t.Fatalf("%d definitions stored after rejections, want 0", n)
	}
	if got := st.snapshot(now).Rejected; got != uint64(len(cases)) {
		t.Fatalf("rejected count %d, want %d", got, len(cases))
	}
}

func TestStateHighestNonceWins(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	st := newMetagraphState(cfg, clock.Now())
	owner := labelKey(t, "owner")
	first := signedDef(t, owner, "syn", clock.Now(), cfg.PoWBits)
	newer := copySynapse(first)
	newer.Address = "10.9.9.9"
	if err := SignSynapse(newer, owner, first.GetNonce()+1000, cfg.PoWBits); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	now := clock.Now()

	if err := st.accept(first, now); err != nil {
		t.Fatal(err)
	}
	if err := st.accept(first, now); !errors.Is(err, ErrStaleSynapse) {
		t.Fatalf("same nonce again: %v, want ErrStaleSynapse", err)
	}
	if err := st.accept(newer, now); err != nil {
		t.Fatalf("newer nonce: %v", err)
	}
	if err := st.accept(first, now); !errors.Is(err, ErrStaleSynapse) {
		t.Fatalf("older nonce after newer: %v, want ErrStaleSynapse", err)
	}
	got := st.synapseList(10, now)
	if len(got) != 1 || got[0].GetAddress() != "10.9.9.9" || got[0].GetNonce() != newer.GetNonce() {
		t.Fatalf("stored %v, want only the newer definition", got)
	}
	if r := st.snapshot(now).Rejected; r != 0 {
		t.Fatalf("stale re-gossip counted as %d rejections, want 0", r)
	}
}

func TestStateOtherNeuronCannotOverwrite(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	now := clock.Now()
	st := newMetagraphState(cfg, now)
	victim, other := labelKey(t, "victim"), labelKey(t, "other")
	mine := signedDef(t, victim, "syn", now, cfg.PoWBits)
	if err := st.accept(mine, now); err != nil {
		t.Fatal(err)
	}
	// other signs, with its own key, the victim's synapse key at a higher nonce
	// and its own address: it is stored as other's definition, beside the
	// victim's, which is untouched.
	claim := copySynapse(mine)
	claim.Address = "10.6.6.6"
	if err := SignSynapse(claim, other, mine.GetNonce()+1, cfg.PoWBits); err != nil {
		t.Fatal(err)
	}
	if err := st.accept(claim, now); err != nil {
		t.Fatalf("other's own definition: %v", err)
	}
	e := st.synapses[idOf(mine)]
	if e == nil || e.def.GetAddress() != mine.GetAddress() || e.def.GetNonce() != mine.GetNonce() {
		t.Fatalf("victim's definition changed to %v", e)
	}
	if len(st.synapses) != 2 {
		t.Fatalf("%d definitions stored, want 2", len(st.synapses))
	}
}

func TestStateExpiry(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	start := clock.Now()
	st := newMetagraphState(cfg, start)
	owner := labelKey(t, "owner")
	d := signedDef(t, owner, "syn", start, cfg.PoWBits)
	if err := st.accept(d, start); err != nil {
		t.Fatal(err)
	}

	atTTL := start.Add(cfg.TTL)
	st.expire(atTTL)
	if len(st.synapseList(10, atTTL)) != 1 {
		t.Fatal("definition dropped at exactly TTL, want it kept until TTL has passed")
	}
	after := atTTL.Add(time.Millisecond)
	if len(st.synapseList(10, after)) != 0 {
		t.Fatal("GetSynapses lists a definition past its TTL before expire ran")
	}
	st.expire(after)
	if _, ok := st.synapses[idOf(d)]; ok {
		t.Fatal("definition kept past its TTL")
	}
	if got := st.snapshot(after).Expired; got != 1 {
		t.Fatalf("expired count %d, want 1", got)
	}
	// Others keep re-gossiping the dead owner's last definition: refused.
	if err := st.accept(d, after); !errors.Is(err, ErrExpiredSynapse) {
		t.Fatalf("re-gossiped expired definition: %v, want ErrExpiredSynapse", err)
	}
	// The owner comes back with a fresh nonce: accepted again.
	back := signedDef(t, owner, "syn", after, cfg.PoWBits)
	if err := st.accept(back, after); err != nil {
		t.Fatalf("owner's fresh definition: %v", err)
	}
}

func TestStateEvictionOrder(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig() // Size 4
	start := clock.Now()
	st := newMetagraphState(cfg, start)
	me := labelKey(t, "me")

	// The local definition is the oldest of all, and must survive.
	local := signedDef(t, me, "local", start, cfg.PoWBits)
	if err := st.subscribe(local); err != nil {
		t.Fatal(err)
	}
	var remote []*bittensorpb.Synapse
	for i, name := range []string{"r0", "r1", "r2", "r3", "r4"} {
		remote = append(remote, signedDef(t, labelKey(t, name), name, start.Add(time.Duration(i+1)*time.Second), cfg.PoWBits))
	}
	now := start.Add(10 * time.Second)
	// Accept r1..r3 first, then r4 (evicts r1), then r0 (older than all: evicted at once).
	for _, i := range []int{1, 2, 3, 4, 0} {
		if err := st.accept(remote[i], now); err != nil {
			t.Fatal(err)
		}
	}
	got := synapseKeys(st.synapseList(10, now))
	want := []*bittensorpb.Synapse{local, remote[2], remote[3], remote[4]}
	if len(got) != len(want) {
		t.Fatalf("stored %d definitions, want %d", len(got), len(want))
	}
	for _, w := range want {
		if _, ok := got[idOf(w)]; !ok {
			t.Fatalf("definition %s evicted; want the oldest remote ones evicted first", keys.Label(w.GetSynapseKey()))
		}
	}
	if ev := st.snapshot(now).Evicted; ev != 2 {
		t.Fatalf("evicted %d, want 2", ev)
	}
	first := st.synapseList(1, now)
	if len(first) != 1 || idOf(first[0]) != idOf(local) {
		t.Fatal("local definition not listed first")
	}
}

func TestStateLocalNeverExpires(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	start := clock.Now()
	st := newMetagraphState(cfg, start)
	local := signedDef(t, labelKey(t, "me"), "local", start, cfg.PoWBits)
	if err := st.subscribe(local); err != nil {
		t.Fatal(err)
	}
	later := start.Add(3 * cfg.TTL)
	st.expire(later)
	if len(st.synapseList(10, later)) != 1 {
		t.Fatal("local definition expired")
	}
	due := st.dueLocal(later)
	if len(due) != 1 || due[0].GetNonce() != later.UnixMilli() {
		t.Fatalf("due refresh %v, want one with nonce %d", due, later.UnixMilli())
	}
	if len(st.dueLocal(start.Add(cfg.Period/4))) != 0 {
		t.Fatal("refresh due a quarter period after the last one")
	}
}

func TestStateLocalNonceFloor(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	start := clock.Now()
	st := newMetagraphState(cfg, start)
	me := labelKey(t, "me")
	local := signedDef(t, me, "local", start, cfg.PoWBits)
	if err := st.subscribe(local); err != nil {
		t.Fatal(err)
	}
	// A previous run of this neuron signed a newer nonce (its clock ran ahead).
	previous := signedDef(t, me, "local", start.Add(3*time.Second), cfg.PoWBits)
	if err := st.accept(previous, start); err != nil {
		t.Fatalf("newer copy of own definition: %v", err)
	}
	if got := st.synapses[idOf(local)].def.GetNonce(); got != local.GetNonce() {
		t.Fatalf("network copy replaced the local definition (nonce %d)", got)
	}
	due := st.dueLocal(start)
	if len(due) != 1 || due[0].GetNonce() <= previous.GetNonce() {
		t.Fatalf("next refresh %v, want a nonce above %d", due, previous.GetNonce())
	}
}

func TestStateWeights(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	cfg.Size = 10
	now := clock.Now()
	st := newMetagraphState(cfg, now)
	local := signedDef(t, labelKey(t, "me"), "local", now, cfg.PoWBits)
	if err := st.subscribe(local); err != nil {
		t.Fatal(err)
	}
	var defs []*bittensorpb.Synapse
	for _, name := range []string{"a", "b", "c"} {
		d := signedDef(t, labelKey(t, name), name, now, cfg.PoWBits)
		if err := st.accept(d, now); err != nil {
			t.Fatal(err)
		}
		defs = append(defs, d)
	}
	unknown := signedDef(t, labelKey(t, "x"), "x", now, cfg.PoWBits)

	if w := st.weights(append(defs, unknown)); !slices.Equal(w, []float64{0, 0, 0, 0}) {
		t.Fatalf("initial weights %v, want zeros", w)
	}
	if err := st.setWeights([]*bittensorpb.Synapse{defs[0], defs[1], defs[2], unknown}, []float64{0.1, 0.7, 0.3, 9}); err != nil {
		t.Fatal(err)
	}
	if w := st.weights([]*bittensorpb.Synapse{defs[2], unknown, defs[1]}); !slices.Equal(w, []float64{0.3, 0, 0.7}) {
		t.Fatalf("weights %v, want [0.3 0 0.7] (unknown synapse not stored)", w)
	}
	order := st.synapseList(10, now)
	wantOrder := []*bittensorpb.Synapse{local, defs[1], defs[2], defs[0]}
	for i, w := range wantOrder {
		if idOf(order[i]) != idOf(w) {
			t.Fatalf("position %d is %s, want local first then by weight", i, keys.Label(order[i].GetSynapseKey()))
		}
	}
	if err := st.setWeights(defs, []float64{1, 2}); err == nil {
		t.Fatal("length mismatch accepted")
	}
	if err := st.setWeights(defs[:1], []float64{math.NaN()}); err == nil {
		t.Fatal("NaN weight accepted")
	}
	if w := st.weights(defs[:1]); w[0] != 0.1 {
		t.Fatalf("refused SetWeights changed a weight to %v", w[0])
	}
	// Weights go with the definition when it expires.
	later := now.Add(cfg.TTL + time.Second)
	st.expire(later)
	if w := st.weights(defs[1:2]); w[0] != 0 {
		t.Fatalf("weight of an expired synapse is %v, want 0", w[0])
	}
}

func TestCheckBatch(t *testing.T) {
	cfg := stateConfig()
	cfg.MaxBatchPeers, cfg.MaxBatchSynapses = 2, 2
	cases := []struct {
		name  string
		batch *bittensorpb.GossipBatch
		want  codes.Code
	}{
		{"ok", &bittensorpb.GossipBatch{Version: MetagraphVersion, Peers: []string{"a:1", "b:2"}}, codes.OK},
		{"nil", nil, codes.InvalidArgument},
		{"2020 version", &bittensorpb.GossipBatch{Version: "0.0.0"}, codes.InvalidArgument},
		{"too many peers", &bittensorpb.GossipBatch{Version: MetagraphVersion, Peers: []string{"a:1", "b:2", "c:3"}}, codes.ResourceExhausted},
		{"too many synapses", &bittensorpb.GossipBatch{Version: MetagraphVersion, Synapses: make([]*bittensorpb.Synapse, 3)}, codes.ResourceExhausted},
	}
	for _, c := range cases {
		if got := status.Code(cfg.checkBatch(c.batch)); got != c.want {
			t.Errorf("%s: code %v, want %v", c.name, got, c.want)
		}
	}
}

func TestBatchLimits(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	cfg.Size, cfg.MaxBatchSynapses = 10, 3
	now := clock.Now()
	st := newMetagraphState(cfg, now)
	local := signedDef(t, labelKey(t, "me"), "local", now.Add(-5*time.Second), cfg.PoWBits)
	if err := st.subscribe(local); err != nil {
		t.Fatal(err)
	}
	var defs []*bittensorpb.Synapse
	for i, name := range []string{"a", "b", "c", "d"} {
		d := signedDef(t, labelKey(t, name), name, now.Add(time.Duration(i-4)*time.Second), cfg.PoWBits)
		if err := st.accept(d, now); err != nil {
			t.Fatal(err)
		}
		defs = append(defs, d)
	}
	b := st.batch(now)
	got := synapseKeys(b.GetSynapses())
	if len(b.GetSynapses()) != 3 {
		t.Fatalf("batch carries %d synapses, limit 3", len(b.GetSynapses()))
	}
	for _, w := range []*bittensorpb.Synapse{local, defs[3], defs[2]} {
		if _, ok := got[idOf(w)]; !ok {
			t.Fatalf("batch lacks %s; want local first, then the freshest", keys.Label(w.GetSynapseKey()))
		}
	}
}

func TestBatchFitsMessageLimit(t *testing.T) {
	clock := newManualClock()
	cfg := stateConfig()
	cfg.Size, cfg.MaxMessageBytes = 50, 2048
	now := clock.Now()
	st := newMetagraphState(cfg, now)
	st.setSelf("me.example:8092")
	local := signedDef(t, labelKey(t, "me"), "local", now.Add(-time.Second), cfg.PoWBits)
	if err := st.subscribe(local); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		d := NewSynapseDefinition(labelKey(t, fmt.Sprint("syn ", i)).PublicHex(), strings.Repeat("h", 60)+".example", 8091)
		d.BlockHash = strings.Repeat("b", maxBlockHashLen)
		if err := SignSynapse(d, labelKey(t, fmt.Sprint("owner ", i)), now.UnixMilli(), cfg.PoWBits); err != nil {
			t.Fatal(err)
		}
		if err := st.accept(d, now); err != nil {
			t.Fatal(err)
		}
	}
	b := st.batch(now)
	if size := proto.Size(b); size > cfg.MaxMessageBytes {
		t.Fatalf("batch is %d bytes, limit %d", size, cfg.MaxMessageBytes)
	}
	if len(b.GetSynapses()) < 2 || idOf(b.GetSynapses()[0]) != idOf(local) {
		t.Fatalf("batch carries %d synapses; want the local one first and as many others as fit", len(b.GetSynapses()))
	}
	if err := cfg.checkBatch(b); err != nil {
		t.Fatalf("own batch refused by the same config: %v", err)
	}
}
