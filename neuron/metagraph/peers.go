package metagraph

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// The metagraph's rules for peers, part of metagraphState (see
// state.go): plain Go over values, a time and a random source
// passed in.
//
//   - Addresses learned from gossip (every peer of a received batch, the
//     sender's claim about its own address in first place included) are
//     candidates: unverified, never counted, never passed on. Anyone can write
//     anything into a batch, so an address is believed only once it answers.
//   - Candidates are bounded by MaxCandidates. A new one is always taken; when
//     the set is full it replaces a uniformly random old one, so a flooder
//     dilutes the set but cannot pin it: whatever it sends, the latest honest
//     address is in the set, and each later insertion evicts it with chance
//     1/MaxCandidates only. A candidate is dropped when an exchange with it
//     fails; it comes back only if someone announces it again.
//   - An answer whose first peer (the answerer's own address) is ours came
//     from ourselves under another name (a flooder may announce "localhost:"
//     and our port): the exchange counts as failed, so we never become our
//     own peer.
//   - An exchange we start that succeeds makes the address a peer (promotes a
//     candidate). The peer table holds the bootstrap peers and addresses that
//     answered, at most MaxPeers (bootstrap peers beyond it are kept); when it
//     is full a newcomer takes the place of a peer that is not live, or is not
//     taken. Bootstrap peers are peers from the start and are tried.
//   - A peer is live while we reached it within the TTL and our last exchange
//     with it did not fail. Only live peers are listed (GetPeers, the nP of the
//     log line) and passed on, so the address of a dead member stops spreading
//     within one TTL, and junk never spreads at all.
//   - An exchange with a peer that fails backs it off (Period, doubling, up to
//     MaxBackoff); MaxPeerFailures failures in a row drop it (bootstrap peers
//     are kept and retried). A peer neither reached nor announced by anyone
//     within the TTL is dropped.
//   - Gossip partners: a bootstrap peer not yet reached first (joining), else
//     one round in candidateTryOdds a random candidate (every round when no
//     peer is ready), else a random peer not backing off. So after a flood
//     that filled the candidates with junk and stopped, an honest newcomer
//     announced once is tried within MaxCandidates candidate tries (each try
//     of junk drops it, nothing refills the set), that is within about
//     candidateTryOdds·MaxCandidates rounds (TestMetagraphFloodThenNewcomer).
//     A flood that goes on adding j addresses a round only dilutes: a
//     newcomer re-announced every round is still in the set at our next try
//     with chance about exp(-j/MaxCandidates), so it is found about that
//     much later; bounding how fast one caller may send is the transport's
//     job, not this table's.

// candidateTryOdds is one over the chance that a round tries a candidate
// rather than a peer, when there are both.
const candidateTryOdds = 2

// peerEntry is one metagraph address of the peer table.
type peerEntry struct {
	addr      string
	bootstrap bool
	learned   time.Time // last time someone told us about it
	reached   time.Time // last successful exchange we started; zero if never
	failures  int       // consecutive failed exchanges
	retryAt   time.Time // no exchange before this time
}

// candidateSet holds unverified addresses, at most a limit, with random
// replacement. The order of addrs depends only on the calls made, so a seeded
// random source makes every choice reproducible.
type candidateSet struct {
	addrs []string
	index map[string]int // position in addrs
}

func newCandidateSet() candidateSet { return candidateSet{index: make(map[string]int)} }

func (c *candidateSet) len() int { return len(c.addrs) }

func (c *candidateSet) has(addr string) bool {
	_, ok := c.index[addr]
	return ok
}

// add takes addr (limit > 0), replacing a random entry when the set is full.
// A known address keeps its place.
func (c *candidateSet) add(addr string, limit int, rng *rand.Rand) {
	if c.has(addr) {
		return
	}
	if len(c.addrs) < limit {
		c.index[addr] = len(c.addrs)
		c.addrs = append(c.addrs, addr)
		return
	}
	i := rng.IntN(len(c.addrs))
	delete(c.index, c.addrs[i])
	c.addrs[i] = addr
	c.index[addr] = i
}

// remove drops addr if present.
func (c *candidateSet) remove(addr string) {
	i, ok := c.index[addr]
	if !ok {
		return
	}
	last := len(c.addrs) - 1
	c.addrs[i] = c.addrs[last]
	c.index[c.addrs[i]] = i
	c.addrs = c.addrs[:last]
	delete(c.index, addr)
}

// pick returns a uniformly random candidate; the set must not be empty.
func (c *candidateSet) pick(rng *rand.Rand) string { return c.addrs[rng.IntN(len(c.addrs))] }

// learnPeer takes an address someone told us about: a known peer's learned
// time is renewed, a new well-formed address that is not ours becomes a
// candidate.
func (st *metagraphState) learnPeer(addr string, now time.Time, rng *rand.Rand) {
	if p, ok := st.peers[addr]; ok {
		p.learned = now
		return
	}
	if addr == st.self || validateHostPort(addr) != nil {
		return
	}
	st.candidates.add(addr, st.cfg.MaxCandidates, rng)
}

// pickPeer chooses whom to gossip with. A bootstrap peer never reached comes
// first (joining the network); otherwise, one round in candidateTryOdds (or
// whenever no peer is ready), a random candidate, so that newcomers are tried
// and, once they answer, passed on; otherwise a random peer not backing off.
func (st *metagraphState) pickPeer(now time.Time, rng *rand.Rand) (string, bool) {
	var ready, join []string
	for addr, p := range st.peers {
		if p.retryAt.After(now) {
			continue
		}
		ready = append(ready, addr)
		if p.bootstrap && p.reached.IsZero() {
			join = append(join, addr)
		}
	}
	from := ready
	switch {
	case len(join) > 0:
		from = join
	case st.candidates.len() > 0 && (len(ready) == 0 || rng.IntN(candidateTryOdds) == 0):
		return st.candidates.pick(rng), true
	}
	if len(from) == 0 {
		return "", false
	}
	slices.Sort(from) // map order is random; the rng alone decides
	return from[rng.IntN(len(from))], true
}

// peerReached records a successful exchange we started with addr: a peer is
// refreshed, a candidate (or an address evicted from the candidates while we
// talked to it: it answered all the same) is promoted when the table has room.
func (st *metagraphState) peerReached(addr string, now time.Time) {
	st.candidates.remove(addr)
	p, ok := st.peers[addr]
	if !ok {
		if addr == st.self || validateHostPort(addr) != nil || !st.makeRoom(now) {
			return
		}
		p = &peerEntry{addr: addr, learned: now}
		st.peers[addr] = p
	}
	p.reached, p.failures, p.retryAt = now, 0, time.Time{}
}

// answeredBySelf reports whether an answer to our exchange is our own: its
// first peer, the answerer's claim about its address, is our address.
func (st *metagraphState) answeredBySelf(answer *bittensorpb.GossipBatch) bool {
	peers := answer.GetPeers()
	return st.self != "" && len(peers) > 0 && peers[0] == st.self
}

// makeRoom reports whether the peer table can take one more address, evicting
// for it the non-bootstrap peer that is not live and was alive longest ago.
func (st *metagraphState) makeRoom(now time.Time) bool {
	if len(st.peers) < st.cfg.MaxPeers {
		return true
	}
	var victim *peerEntry
	for _, p := range st.peers {
		if p.bootstrap || st.livePeer(p, now) {
			continue
		}
		if victim == nil || cmp.Or(p.reached.Compare(victim.reached), cmp.Compare(p.addr, victim.addr)) < 0 {
			victim = p
		}
	}
	if victim == nil {
		return false
	}
	delete(st.peers, victim.addr)
	return true
}

// peerFailed records a failed exchange with addr: a candidate is dropped; a
// peer backs off, or is dropped after MaxPeerFailures failures in a row
// unless it is a bootstrap peer.
func (st *metagraphState) peerFailed(addr string, now time.Time) {
	st.candidates.remove(addr)
	p, ok := st.peers[addr]
	if !ok {
		return
	}
	p.failures++
	if p.failures >= st.cfg.MaxPeerFailures && !p.bootstrap {
		delete(st.peers, addr)
		return
	}
	st.cfg.backoffInto(p, now)
}

// backoffInto sets the next retry time of a failing peer: Period doubled per
// failure beyond the first, capped at MaxBackoff.
func (c Config) backoffInto(p *peerEntry, now time.Time) {
	wait := c.Period
	for i := 1; i < p.failures && wait < c.MaxBackoff; i++ {
		wait *= 2
	}
	p.retryAt = now.Add(min(wait, c.MaxBackoff))
}

// livePeer reports whether we reached the peer within the TTL and our last
// exchange with it did not fail.
func (st *metagraphState) livePeer(p *peerEntry, now time.Time) bool {
	return !p.reached.IsZero() && p.failures == 0 && now.Sub(p.reached) <= st.cfg.TTL
}

// expirePeers drops the peers neither reached nor announced within the TTL
// (bootstrap peers stay). Candidates do not expire: they leave when they fail
// or are replaced.
func (st *metagraphState) expirePeers(now time.Time) {
	for addr, p := range st.peers {
		if !p.bootstrap && now.Sub(laterOf(p.learned, p.reached)) > st.cfg.TTL {
			delete(st.peers, addr)
		}
	}
}

// peerList returns up to n live peers, most recently reached first.
func (st *metagraphState) peerList(n int, now time.Time) []string {
	if n <= 0 {
		return nil
	}
	live := make([]*peerEntry, 0, len(st.peers))
	for _, p := range st.peers {
		if st.livePeer(p, now) {
			live = append(live, p)
		}
	}
	slices.SortFunc(live, func(a, b *peerEntry) int {
		return cmp.Or(b.reached.Compare(a.reached), cmp.Compare(a.addr, b.addr))
	})
	out := make([]string, 0, min(n, len(live)))
	for _, p := range live[:min(n, len(live))] {
		out = append(out, p.addr)
	}
	return out
}
