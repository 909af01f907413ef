package neuron

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// The metagraph's rules for peers, part of metagraphState (see
// metagraph_state.go): plain Go over values and a time passed in.
//
//   - Peers are metagraph addresses learned from bootstrap and from batches.
//     A batch's first peer is its sender's own address.
//   - A peer is live while we reached it, or it called us, within the TTL and
//     our last exchange with it did not fail. Only live peers are passed on to
//     others, so the address of a dead member stops spreading within one TTL.
//   - An exchange that fails backs the peer off (Period, doubling, up to
//     MaxBackoff); MaxPeerFailures failures in a row drop it (bootstrap peers
//     are kept and retried). A peer neither reached, heard from nor passed
//     on to us within the TTL is dropped.
//   - Gossip partners: a bootstrap peer not yet reached first (joining), else
//     half the time a peer never reached (new addresses get tried and passed
//     on quickly), else any peer not backing off, uniformly.

// peerEntry is one known metagraph address.
type peerEntry struct {
	addr      string
	bootstrap bool
	learned   time.Time // last time someone told us about it
	reached   time.Time // last successful exchange we started; zero if never
	heard     time.Time // last exchange it started with us; zero if never
	failures  int       // consecutive failed exchanges
	retryAt   time.Time // no exchange before this time
}

// learnPeer adds a well-formed address that is not ours, while the peer list
// has room; a known address gets its learned time renewed.
func (st *metagraphState) learnPeer(addr string, now time.Time) {
	if p := st.addPeer(addr, now); p != nil {
		p.learned = now
	}
}

// pickPeer chooses a peer not backing off. A bootstrap peer never reached
// comes first (joining the network); otherwise, half the time, a peer we have
// never reached (so that new addresses are tried, and passed on, quickly);
// otherwise any, uniformly (preferring live peers mixes worse: they are mostly
// the neighbours that call us). An injected address costs a few failed
// rounds before MaxPeerFailures drops it.
func (st *metagraphState) pickPeer(now time.Time, rng *rand.Rand) (string, bool) {
	var ready, untried, join []string
	for addr, p := range st.peers {
		if p.retryAt.After(now) {
			continue
		}
		ready = append(ready, addr)
		if p.reached.IsZero() {
			untried = append(untried, addr)
			if p.bootstrap {
				join = append(join, addr)
			}
		}
	}
	from := ready
	switch {
	case len(join) > 0:
		from = join
	case len(untried) > 0 && rng.IntN(2) == 0:
		from = untried
	}
	if len(from) == 0 {
		return "", false
	}
	slices.Sort(from) // map order is random; the rng alone decides
	return from[rng.IntN(len(from))], true
}

// peerReached records a successful exchange we started with addr.
func (st *metagraphState) peerReached(addr string, now time.Time) {
	if p := st.addPeer(addr, now); p != nil {
		p.reached, p.failures, p.retryAt = now, 0, time.Time{}
	}
}

// peerHeard records an exchange the peer at addr started with us (addr is
// its own claim, the first peer of its batch; if it is false, our exchanges
// with it fail and it stops being live).
func (st *metagraphState) peerHeard(addr string, now time.Time) {
	if p := st.addPeer(addr, now); p != nil {
		p.heard = now
	}
}

// addPeer returns the entry of addr, adding it when the address is well
// formed, not ours and the list has room; otherwise nil.
func (st *metagraphState) addPeer(addr string, now time.Time) *peerEntry {
	if p, ok := st.peers[addr]; ok {
		return p
	}
	if addr == st.self || len(st.peers) >= st.cfg.MaxPeers || validateHostPort(addr) != nil {
		return nil
	}
	p := &peerEntry{addr: addr, learned: now}
	st.peers[addr] = p
	return p
}

// peerFailed records a failed exchange with addr: back off, or drop it after
// MaxPeerFailures failures in a row unless it is a bootstrap peer.
func (st *metagraphState) peerFailed(addr string, now time.Time) {
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
func (c MetagraphConfig) backoffInto(p *peerEntry, now time.Time) {
	wait := c.Period
	for i := 1; i < p.failures && wait < c.MaxBackoff; i++ {
		wait *= 2
	}
	p.retryAt = now.Add(min(wait, c.MaxBackoff))
}

// alive is the last time the peer showed it is alive; zero if never.
func (p *peerEntry) alive() time.Time { return laterOf(p.reached, p.heard) }

// livePeer reports whether we reached or heard from the peer within the TTL
// and our last exchange with it did not fail.
func (st *metagraphState) livePeer(p *peerEntry, now time.Time) bool {
	return !p.alive().IsZero() && p.failures == 0 && now.Sub(p.alive()) <= st.cfg.TTL
}

// peerList returns up to n live peers, most recently alive first.
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
		return cmp.Or(b.alive().Compare(a.alive()), cmp.Compare(a.addr, b.addr))
	})
	out := make([]string, 0, min(n, len(live)))
	for _, p := range live[:min(n, len(live))] {
		out = append(out, p.addr)
	}
	return out
}
