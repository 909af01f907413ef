package metagraph

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// This file holds the metagraph's rules for synapse definitions and gossip
// batches (peers.go has those for peers): plain Go over values and a
// time passed in by the caller. No locks, no I/O, no goroutines; the Metagraph
// (gossip.go, chain.go) is the thin shell that adds those.
//
// Synapse definitions
//   - A definition is identified by (neuron key, synapse key): a neuron can only
//     ever replace its own definitions, since it must sign them.
//   - It is accepted only when well formed, of a known version, with enough
//     proof of work and a valid signature, and refreshed (nonce = owner's clock
//     in ms) no longer than TTL ago and no further than MaxClockSkew ahead.
//   - The highest nonce per identity wins; equal or lower nonces are stale.
//   - A definition expires TTL after its owner's refresh time, on every member
//     at once: re-gossiping an old definition cannot keep it alive, and an
//     expired one is refused again by the same rule.
//   - At most Size definitions are kept: the remote ones with the oldest
//     refresh are evicted first; local ones never are.

// synapseID identifies a definition: its owner and the owner's synapse.
type synapseID struct{ neuron, synapse string }

func idOf(s *bittensorpb.Synapse) synapseID {
	return synapseID{neuron: s.GetNeuronKey(), synapse: s.GetSynapseKey()}
}

// synapseEntry is one stored definition. def is never modified once stored
// (a refresh stores a new message), so it may be shared with outgoing batches.
type synapseEntry struct {
	def    *bittensorpb.Synapse
	local  bool
	weight float64
	// nonceFloor is, for a local entry, the highest nonce the network showed us
	// for it (a previous run of this neuron): the next refresh goes above it.
	nonceFloor int64
}

// Stats counts what the metagraph has done since it was created.
type Stats struct {
	Synapses   int    // definitions stored now, local ones included
	Peers      int    // addresses in the peer table now (bootstrap and those that answered), live or not
	Live       int    // live peers now (what GetPeers returns)
	Candidates int    // unverified addresses learned from gossip, not yet tried
	Accepted   uint64 // definitions stored or replaced by a newer nonce
	Rejected   uint64 // definitions refused as forged, unworked, malformed, expired or from the future
	Expired    uint64 // definitions dropped after their TTL
	Evicted    uint64 // definitions dropped because the cache was full
	Rounds     uint64 // gossip rounds run (GossipOnce calls)
	// FailedRounds counts the rounds whose exchange with a peer failed.
	FailedRounds uint64
}

// metagraphState is the metagraph's data and rules.
type metagraphState struct {
	cfg        Config
	self       string // own advertised address; "" until known
	synapses   map[synapseID]*synapseEntry
	local      []synapseID           // subscription order
	peers      map[string]*peerEntry // bootstrap peers and addresses that answered
	candidates candidateSet          // addresses learned from gossip that never answered
	stats      Stats
}

func newMetagraphState(cfg Config, now time.Time) *metagraphState {
	st := &metagraphState{
		cfg:        cfg,
		synapses:   make(map[synapseID]*synapseEntry),
		peers:      make(map[string]*peerEntry),
		candidates: newCandidateSet(),
	}
	for _, b := range cfg.Bootstrap {
		st.peers[b] = &peerEntry{addr: b, bootstrap: true, learned: now}
	}
	return st
}

// setSelf records our own advertised address, which is never our own peer.
func (st *metagraphState) setSelf(addr string) {
	st.self = addr
	delete(st.peers, addr)
	st.candidates.remove(addr)
}

// ---- synapse definitions ----

// subscribe stores a signed local definition, new or refreshed. A remote copy
// of it (a previous run of this neuron) becomes local, its nonce a floor.
func (st *metagraphState) subscribe(def *bittensorpb.Synapse) error {
	id := idOf(def)
	old, ok := st.synapses[id]
	if ok && old.local {
		old.def = def
		return nil
	}
	if len(st.local) >= st.cfg.Size {
		return fmt.Errorf("metagraph: subscribe synapse %s: %d local synapses fill the cache (size %d)",
			keys.Label(id.synapse), len(st.local), st.cfg.Size)
	}
	e := &synapseEntry{def: def, local: true}
	if ok {
		e.weight, e.nonceFloor = old.weight, old.def.GetNonce()
	}
	st.synapses[id] = e
	st.local = append(st.local, id)
	st.trim()
	return nil
}

// nextNonce is the nonce of the next refresh of local definition id: the
// current time in ms, strictly above every nonce used or seen for it.
func (st *metagraphState) nextNonce(id synapseID, now time.Time) int64 {
	n := now.UnixMilli()
	if e, ok := st.synapses[id]; ok {
		n = max(n, e.def.GetNonce()+1, e.nonceFloor+1)
	}
	return n
}

// dueLocal returns the local definitions due for a refresh (the last is at
// least Refresh old, less half a period of ticker jitter, or the network holds
// a newer nonce), as unsigned copies with their next nonce chosen.
func (st *metagraphState) dueLocal(now time.Time) []*bittensorpb.Synapse {
	var due []*bittensorpb.Synapse
	for _, id := range st.local {
		e := st.synapses[id]
		if now.Sub(time.UnixMilli(e.def.GetNonce())) < st.cfg.Refresh-st.cfg.Period/2 && e.nonceFloor < e.def.GetNonce() {
			continue
		}
		d := copySynapse(e.def)
		d.Nonce = st.nextNonce(id, now)
		due = append(due, d)
	}
	return due
}

// screen applies every rule that needs no cryptography: structure, version,
// time window, and whether the nonce is newer than what we hold. Only a
// definition that passes is worth verifying.
func (st *metagraphState) screen(def *bittensorpb.Synapse, now time.Time) error {
	if err := checkSynapseFields(def); err != nil {
		return err
	}
	at := time.UnixMilli(def.GetNonce())
	if at.After(now.Add(st.cfg.MaxClockSkew)) {
		return fmt.Errorf("metagraph: synapse %s: %w: refreshed at %s, now %s",
			keys.Label(def.GetSynapseKey()), ErrFutureSynapse, at.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	}
	if now.Sub(at) > st.cfg.TTL {
		return fmt.Errorf("metagraph: synapse %s: %w: refreshed %v ago, ttl %v",
			keys.Label(def.GetSynapseKey()), ErrExpiredSynapse, now.Sub(at).Round(time.Millisecond), st.cfg.TTL)
	}
	if e, ok := st.synapses[idOf(def)]; ok && def.GetNonce() <= max(e.def.GetNonce(), e.nonceFloor) {
		return fmt.Errorf("metagraph: synapse %s: %w %d, have %d",
			keys.Label(def.GetSynapseKey()), ErrStaleSynapse, def.GetNonce(), e.def.GetNonce())
	}
	return nil
}

// admit stores a definition whose proof of work and signature have been
// verified, after screening it again (the cache may have changed since).
// A newer copy of one of our own local definitions only raises the floor of
// our next nonce. Call trim after a run of admits.
func (st *metagraphState) admit(def *bittensorpb.Synapse, now time.Time) error {
	if err := st.screen(def, now); err != nil {
		return err
	}
	id := idOf(def)
	if e, ok := st.synapses[id]; ok {
		if e.local {
			e.nonceFloor = def.GetNonce()
			return nil
		}
		e.def = copySynapse(def)
	} else {
		st.synapses[id] = &synapseEntry{def: copySynapse(def)}
	}
	st.stats.Accepted++
	return nil
}

// accept is the whole rule for one received definition: screen, verify, admit,
// keep the cache within its size.
func (st *metagraphState) accept(def *bittensorpb.Synapse, now time.Time) error {
	err := st.screen(def, now)
	if err == nil {
		err = verifyWorkAndSignature(def, st.cfg.PoWBits)
	}
	if err == nil {
		err = st.admit(def, now)
	}
	st.count(err)
	st.trim()
	return err
}

// count records a refusal. A stale nonce is the normal fate of re-gossip and
// is not counted.
func (st *metagraphState) count(err error) {
	if err != nil && !errors.Is(err, ErrStaleSynapse) {
		st.stats.Rejected++
	}
}

// trim evicts remote definitions, oldest refresh first, until at most Size remain.
func (st *metagraphState) trim() {
	over := len(st.synapses) - st.cfg.Size
	if over <= 0 {
		return
	}
	remote := make([]*bittensorpb.Synapse, 0, len(st.synapses))
	for _, e := range st.synapses {
		if !e.local {
			remote = append(remote, e.def)
		}
	}
	slices.SortFunc(remote, func(a, b *bittensorpb.Synapse) int {
		return cmp.Or(cmp.Compare(a.GetNonce(), b.GetNonce()), compareIDs(idOf(a), idOf(b)))
	})
	for _, d := range remote[:min(over, len(remote))] {
		delete(st.synapses, idOf(d))
		st.stats.Evicted++
	}
}

// expire drops remote definitions refreshed longer than TTL ago, and peers
// neither reached nor learned of within the TTL (see expirePeers).
func (st *metagraphState) expire(now time.Time) {
	for id, e := range st.synapses {
		if !e.local && now.Sub(time.UnixMilli(e.def.GetNonce())) > st.cfg.TTL {
			delete(st.synapses, id)
			st.stats.Expired++
		}
	}
	st.expirePeers(now)
}

// live reports whether a definition is within its TTL at now.
func (st *metagraphState) live(e *synapseEntry, now time.Time) bool {
	return e.local || now.Sub(time.UnixMilli(e.def.GetNonce())) <= st.cfg.TTL
}

// synapseList returns up to n live definitions: local ones in subscription
// order, then remote ones by weight (highest first), then newest refresh.
// The messages are shared: copy before handing them out.
func (st *metagraphState) synapseList(n int, now time.Time) []*bittensorpb.Synapse {
	return st.synapseListWhere(n, now, nil)
}

// synapseCopiesWhere is synapseListWhere with each message copied, for a
// backend to hand out.
func (st *metagraphState) synapseCopiesWhere(n int, now time.Time, keep func(*bittensorpb.Synapse) bool) []*bittensorpb.Synapse {
	list := st.synapseListWhere(n, now, keep)
	for i, d := range list {
		list[i] = copySynapse(d)
	}
	return list
}

// synapseListWhere is synapseList over the definitions keep accepts (all
// when keep is nil).
func (st *metagraphState) synapseListWhere(n int, now time.Time, keep func(*bittensorpb.Synapse) bool) []*bittensorpb.Synapse {
	if n <= 0 {
		return nil
	}
	out := make([]*bittensorpb.Synapse, 0, min(n, len(st.synapses)))
	for _, id := range st.local {
		if len(out) == n {
			return out
		}
		if d := st.synapses[id].def; keep == nil || keep(d) {
			out = append(out, d)
		}
	}
	remote := make([]*synapseEntry, 0, len(st.synapses)-len(st.local))
	for _, e := range st.synapses {
		if !e.local && st.live(e, now) && (keep == nil || keep(e.def)) {
			remote = append(remote, e)
		}
	}
	slices.SortFunc(remote, func(a, b *synapseEntry) int {
		return cmp.Or(cmp.Compare(b.weight, a.weight), cmp.Compare(b.def.GetNonce(), a.def.GetNonce()), compareIDs(idOf(a.def), idOf(b.def)))
	})
	for _, e := range remote[:min(n-len(out), len(remote))] {
		out = append(out, e.def)
	}
	return out
}

// weights returns the weight of each definition's identity (0 when unknown).
func (st *metagraphState) weights(defs []*bittensorpb.Synapse) []float64 {
	w := make([]float64, len(defs))
	for i, d := range defs {
		if e, ok := st.synapses[idOf(d)]; ok {
			w[i] = e.weight
		}
	}
	return w
}

// setWeights sets the weight of each definition's identity. Identities no
// longer stored (expired or evicted since) are skipped.
func (st *metagraphState) setWeights(defs []*bittensorpb.Synapse, w []float64) error {
	if len(defs) != len(w) {
		return fmt.Errorf("metagraph: set weights: %d synapses but %d weights", len(defs), len(w))
	}
	for i, x := range w {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("metagraph: set weights: weight %d of synapse %s is %v", i, keys.Label(defs[i].GetSynapseKey()), x)
		}
	}
	for i, d := range defs {
		if e, ok := st.synapses[idOf(d)]; ok {
			e.weight = w[i]
		}
	}
	return nil
}

// snapshot returns the counters and current sizes.
func (st *metagraphState) snapshot(now time.Time) Stats {
	s := st.stats
	s.Synapses, s.Peers, s.Candidates = len(st.synapses), len(st.peers), st.candidates.len()
	for _, p := range st.peers {
		if st.livePeer(p, now) {
			s.Live++
		}
	}
	return s
}

// ---- gossip batches ----

// batch is what we tell a peer: our own address first, then live peers;
// local definitions first, then the freshest remote ones, within
// MaxBatchSynapses and MaxMessageBytes.
func (st *metagraphState) batch(now time.Time) *bittensorpb.GossipBatch {
	b := &bittensorpb.GossipBatch{Version: MetagraphVersion}
	if st.self != "" {
		b.Peers = append(b.Peers, st.self)
	}
	b.Peers = append(b.Peers, st.peerList(st.cfg.MaxBatchPeers-len(b.Peers), now)...)

	remote := make([]*bittensorpb.Synapse, 0, len(st.synapses)-len(st.local))
	for _, e := range st.synapses {
		if !e.local && st.live(e, now) {
			remote = append(remote, e.def)
		}
	}
	slices.SortFunc(remote, func(a, b *bittensorpb.Synapse) int {
		return cmp.Or(cmp.Compare(b.GetNonce(), a.GetNonce()), compareIDs(idOf(a), idOf(b)))
	})
	room := st.cfg.MaxMessageBytes - proto.Size(b)
	b.Synapses = make([]*bittensorpb.Synapse, 0, min(len(st.synapses), st.cfg.MaxBatchSynapses))
	add := func(d *bittensorpb.Synapse) bool {
		size := protowire.SizeTag(3) + protowire.SizeBytes(proto.Size(d))
		if len(b.Synapses) == st.cfg.MaxBatchSynapses || size > room {
			return false
		}
		room -= size
		b.Synapses = append(b.Synapses, d)
		return true
	}
	for _, id := range st.local {
		if !add(st.synapses[id].def) {
			return b
		}
	}
	for _, d := range remote {
		if !add(d) {
			break
		}
	}
	return b
}

// checkBatch refuses a batch this metagraph cannot take, with the gRPC status
// a peer sees.
func (c Config) checkBatch(b *bittensorpb.GossipBatch) error {
	switch {
	case b == nil:
		return status.Error(codes.InvalidArgument, "metagraph: empty gossip batch")
	case b.GetVersion() != MetagraphVersion:
		return status.Errorf(codes.InvalidArgument, "metagraph: gossip batch version %.40q, want %q", b.GetVersion(), MetagraphVersion)
	case len(b.GetPeers()) > c.MaxBatchPeers:
		return status.Errorf(codes.ResourceExhausted, "metagraph: gossip batch has %d peers, limit %d", len(b.GetPeers()), c.MaxBatchPeers)
	case len(b.GetSynapses()) > c.MaxBatchSynapses:
		return status.Errorf(codes.ResourceExhausted, "metagraph: gossip batch has %d synapses, limit %d", len(b.GetSynapses()), c.MaxBatchSynapses)
	}
	return nil
}

// screenBatch learns the batch's peers (as candidates; at most MaxBatchPeers
// of them are read, whatever the batch holds) and returns the definitions
// worth verifying (new nonces that pass every cheap rule).
func (st *metagraphState) screenBatch(b *bittensorpb.GossipBatch, now time.Time, rng *rand.Rand) []*bittensorpb.Synapse {
	peers := b.GetPeers()
	for _, p := range peers[:min(len(peers), st.cfg.MaxBatchPeers)] {
		st.learnPeer(p, now, rng)
	}
	var fresh []*bittensorpb.Synapse
	for _, d := range b.GetSynapses() {
		err := st.screen(d, now)
		if err == nil {
			fresh = append(fresh, d)
		}
		st.count(err)
	}
	return fresh
}

// admitBatch stores the screened definitions whose verification succeeded
// (verified[i]) and counts the others as rejected.
func (st *metagraphState) admitBatch(fresh []*bittensorpb.Synapse, verified []bool, now time.Time) {
	for i, d := range fresh {
		if !verified[i] {
			st.stats.Rejected++
			continue
		}
		st.count(st.admit(d, now))
	}
	st.trim()
}

// sink takes a whole received batch in one step (the shell splits it to verify
// outside its lock); rng decides which candidates new addresses replace.
func (st *metagraphState) sink(b *bittensorpb.GossipBatch, now time.Time, rng *rand.Rand) {
	fresh := st.screenBatch(b, now, rng)
	verified := make([]bool, len(fresh))
	for i, d := range fresh {
		verified[i] = verifyWorkAndSignature(d, st.cfg.PoWBits) == nil
	}
	st.admitBatch(fresh, verified, now)
}

// ---- helpers ----

// copySynapse copies the known fields only: unknown fields are not covered by
// the signature and must not travel on with a definition.
func copySynapse(s *bittensorpb.Synapse) *bittensorpb.Synapse {
	c := &bittensorpb.Synapse{
		Version:     s.GetVersion(),
		NeuronKey:   s.GetNeuronKey(),
		SynapseKey:  s.GetSynapseKey(),
		Address:     s.GetAddress(),
		Port:        s.GetPort(),
		BlockHash:   s.GetBlockHash(),
		Nonce:       s.GetNonce(),
		ProofOfWork: slices.Clone(s.GetProofOfWork()),
		Signature:   slices.Clone(s.GetSignature()),
	}
	copyAnnouncement(c, s)
	return c
}

func compareIDs(a, b synapseID) int {
	return cmp.Or(cmp.Compare(a.neuron, b.neuron), cmp.Compare(a.synapse, b.synapse))
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
