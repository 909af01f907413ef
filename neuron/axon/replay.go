package axon

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"
)

// This file holds the Axon's replay rule: which nonce a caller may use, and
// what the guard must remember to enforce it.
//
// The rule
//   - A nonce is the caller's clock in Unix nanoseconds (Nonces). With the
//     server's clock at now and the freshness window W, a nonce n from caller c
//     is accepted when now-W <= n <= now+W and c has not had n accepted before;
//     it is then recorded. Everything else is refused: a nonce outside the
//     window as stale or too new (a replay of an old message that was never
//     delivered is as refused as one that was), a nonce inside it as used.
//   - A recorded nonce older than now-W can be forgotten, since the first rule
//     refuses it anyway. So the guard keeps only what was accepted inside the
//     window, and nothing else bounds it: no request of one caller can change
//     what another caller's fresh, unused nonce gets. There is no cap on
//     callers and no floor that others could raise, so a flood of throwaway
//     keys costs its sender admission slots and the server memory for its
//     entries, never an honest caller a refusal.
//   - Should the server's clock step back, the lower edge of the window does
//     not follow it below the nonces already forgotten: nonces older than
//     those are refused as stale too, so a forgotten nonce is never accepted
//     again. This only ever narrows the window, by at most the step back, and
//     no caller can cause it.
//   - The guard is consulted only after the message's signature was verified
//     and its synapse was found, so nobody can spend another caller's nonces
//     and requests that would be refused anyway leave no state.
//
// Memory
//
// The guard holds one entry per request accepted whose nonce is at most
// W+W/replaySlices old. An entry's nonce is at most W ahead of the clock when
// it is accepted, so at a sustained rate of R accepted requests per second it
// holds at most R × (2W + W/replaySlices) entries, about 60 bytes each (24 of
// key in a map slot; BenchmarkReplayGuardCheck reports the measured B/entry).
// The Axon's admission bounds R: MaxConcurrent requests run at once, and each
// recorded one first had its ed25519 signature verified, tens of microseconds
// of CPU. At 10 000 accepted requests a second and the default W of one
// minute, that is 1.3 million entries, about 75 MiB; an Axon under honest load
// holds a small fraction of that.
//
// There is no cap on the total, on purpose. Keys cost nothing, so throwaway
// keys can fill any cap; once full, the guard would have to refuse a caller
// that is new to it (an honest one among them), or forget nonces still inside
// the window and then refuse everything below them (the floor an earlier
// version raised, which let a flood lock out new callers). Refusing the keys
// that hold the most entries instead would pick out the busiest honest peers.
// So the window and the admission rate are the bound.
//
// Entries live in buckets, one per 1/replaySlices of W of nonce time. A nonce
// is looked up in its own bucket only, and a bucket whose newest possible
// nonce left the window is dropped whole: pruning is amortised O(1) per
// request, and memory is returned as soon as a bucket goes (a single map would
// keep its peak size forever).

// ErrReplay is wrapped by every refusal of replayGuard.Check.
var ErrReplay = errors.New("replayed or stale nonce")

// replaySlices is how many buckets one window W of nonce time is split into.
// Up to W/replaySlices of nonces older than the window stay in memory until
// their bucket is dropped.
const replaySlices = 8

// callerID names a caller in the guard's state: the first 128 bits of the
// SHA-256 digest of its key. Two callers could share replay state only by
// having equal IDs, and making a key's ID equal to a given one is a second
// preimage of SHA-256, out of anybody's reach; colliding two keys of one's
// own only spends one's own nonces. The ID keeps an entry small and retains
// no request memory.
type callerID [16]byte

func callerIDOf(caller string) callerID {
	sum := sha256.Sum256([]byte(caller))
	return callerID(sum[:16])
}

// replayKey is one recorded (caller, nonce).
type replayKey struct {
	caller callerID
	nonce  int64
}

// replayGuard enforces the replay rule above with an injected clock. It is safe
// for concurrent use; its Check must only be called for messages whose
// signature was verified.
type replayGuard struct {
	window int64 // W in nanoseconds
	slice  int64 // nonce time covered by one bucket, in nanoseconds
	now    func() time.Time

	mu sync.Mutex
	// buckets maps slice index ⌊nonce/slice⌋ to the nonces recorded in it.
	buckets map[int64]map[replayKey]struct{}
	// forgotten is the end of the newest bucket dropped: every nonce below
	// it may have been forgotten, so none below it is accepted.
	forgotten int64
	// pruneAt is the end of the oldest bucket kept: nothing can be dropped
	// before now-W reaches it.
	pruneAt int64
	entries int
}

// newReplayGuard returns a guard accepting nonces within window (at least one
// nanosecond) either side of now() in Unix nanoseconds. A nil now means
// time.Now.
func newReplayGuard(window time.Duration, now func() time.Time) *replayGuard {
	if now == nil {
		now = time.Now
	}
	w := max(int64(window), 1)
	return &replayGuard{
		window:    w,
		slice:     max(w/replaySlices, 1),
		now:       now,
		buckets:   make(map[int64]map[replayKey]struct{}),
		forgotten: minNonce,
		pruneAt:   maxNonce,
	}
}

const (
	minNonce = -1 << 63
	maxNonce = 1<<63 - 1
)

// Check accepts nonce from caller, recording it, or refuses it with an error
// wrapping ErrReplay. caller is the message's neuron_key.
func (g *replayGuard) Check(caller string, nonce int64) error {
	id := callerIDOf(caller)
	now := g.now().UnixNano()
	low, high := now-g.window, now+g.window
	w := time.Duration(g.window)
	if nonce > high {
		return fmt.Errorf("%w: nonce %d from %s is more than %v ahead of the server clock",
			ErrReplay, nonce, keys.Label(caller), w)
	}
	if nonce < low {
		return fmt.Errorf("%w: nonce %d from %s is more than %v behind the server clock",
			ErrReplay, nonce, keys.Label(caller), w)
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	g.prune(low)
	if nonce < g.forgotten {
		return fmt.Errorf("%w: nonce %d from %s is older than the nonces already forgotten (the server clock stepped back)",
			ErrReplay, nonce, keys.Label(caller))
	}
	s := floorDiv(nonce, g.slice)
	b := g.buckets[s]
	if b == nil {
		b = make(map[replayKey]struct{})
		g.buckets[s] = b
		g.pruneAt = min(g.pruneAt, g.sliceEnd(s))
	}
	k := replayKey{caller: id, nonce: nonce}
	if _, used := b[k]; used {
		return fmt.Errorf("%w: nonce %d from %s was already used", ErrReplay, nonce, keys.Label(caller))
	}
	b[k] = struct{}{}
	g.entries++
	return nil
}

// prune drops every bucket whose nonces are all below low, the lower edge of
// the window. It scans the buckets (at most about 2×replaySlices+2) only when
// the oldest one is due, so once per slice of time.
func (g *replayGuard) prune(low int64) {
	if low < g.pruneAt {
		return
	}
	g.pruneAt = maxNonce
	for s, b := range g.buckets {
		end := g.sliceEnd(s)
		if end <= low {
			g.entries -= len(b)
			g.forgotten = max(g.forgotten, end)
			delete(g.buckets, s)
			continue
		}
		g.pruneAt = min(g.pruneAt, end)
	}
}

// sliceEnd returns the first nonce after bucket s.
func (g *replayGuard) sliceEnd(s int64) int64 {
	if s >= maxNonce/g.slice {
		return maxNonce
	}
	return (s + 1) * g.slice
}

// floorDiv is ⌊a/b⌋ for b > 0, also for negative a.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// Len returns how many nonces the guard holds now: those accepted inside the
// window, and possibly some older ones whose bucket was not dropped yet.
func (g *replayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.entries
}
