package neuron

import (
	"container/list"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrReplay is wrapped by every refusal of ReplayGuard.Check.
var ErrReplay = errors.New("replayed or stale nonce")

// replayMemory is how many of its largest accepted nonces the guard keeps per
// caller. A nonce below all of them is refused, so up to this many newer
// requests from one caller may overtake an older one in flight.
const replayMemory = 64

// ReplayGuard refuses a TensorMessage nonce that a caller has used before,
// keeping bounded state. Per caller it keeps the replayMemory largest nonces it
// accepted: a nonce is accepted once, when it is larger than the smallest kept
// one (or fewer are kept) and not among them. Everything accepted and no longer
// kept is below the smallest kept nonce, so no nonce is ever accepted twice,
// while requests that arrive slightly out of order still pass.
//
// At most maxCallers callers are remembered; the least recently seen one is
// forgotten to make room. Forgetting raises a floor to that caller's largest
// nonce, and a caller the guard does not remember must present a nonce above
// the floor, so a forgotten caller's old messages stay refused. Nonces more
// than maxSkew ahead of the guard's clock are refused, which bounds how far a
// flood of fresh keys can raise the floor: callers that take nonces from the
// clock, as Nonces does, are never locked out for longer than maxSkew.
//
// Check must only be called after the message's signature was verified, so
// that nobody can spend another caller's nonces. It is safe for concurrent use.
type ReplayGuard struct {
	maxCallers int
	maxSkew    time.Duration
	now        func() time.Time

	mu      sync.Mutex
	lru     *list.List // of *callerNonces, most recently seen first
	callers map[string]*list.Element
	floor   int64
}

// callerNonces is one caller's replay state.
type callerNonces struct {
	caller string
	kept   []int64 // ascending; at most replayMemory
}

// NewReplayGuard returns a guard remembering at most maxCallers callers and
// refusing nonces more than maxSkew ahead of now() in Unix nanoseconds. A nil
// now means time.Now.
func NewReplayGuard(maxCallers int, maxSkew time.Duration, now func() time.Time) *ReplayGuard {
	if now == nil {
		now = time.Now
	}
	return &ReplayGuard{
		maxCallers: max(maxCallers, 1),
		maxSkew:    maxSkew,
		now:        now,
		lru:        list.New(),
		callers:    make(map[string]*list.Element),
		floor:      minNonce,
	}
}

// minNonce is below every nonce: the floor before any caller was forgotten.
const minNonce = -1 << 63

// Check accepts nonce from caller, recording it, or refuses it with an error
// wrapping ErrReplay.
func (g *ReplayGuard) Check(caller string, nonce int64) error {
	limit := g.now().Add(g.maxSkew).UnixNano()
	if nonce > limit {
		return fmt.Errorf("%w: nonce %d from %s is more than %v ahead of the server clock",
			ErrReplay, nonce, shortKey(caller), g.maxSkew)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.callers[caller]
	if !ok {
		if nonce <= g.floor {
			return fmt.Errorf("%w: nonce %d from %s is not above %d, the newest nonce of a forgotten caller",
				ErrReplay, nonce, shortKey(caller), g.floor)
		}
		g.forgetOldest()
		c := &callerNonces{caller: caller, kept: make([]int64, 0, 4)}
		c.kept = append(c.kept, nonce)
		g.callers[caller] = g.lru.PushFront(c)
		return nil
	}
	g.lru.MoveToFront(e)
	c := e.Value.(*callerNonces)
	i, seen := slices.BinarySearch(c.kept, nonce)
	switch {
	case seen:
		return fmt.Errorf("%w: nonce %d from %s was already used", ErrReplay, nonce, shortKey(caller))
	case len(c.kept) == replayMemory && i == 0:
		return fmt.Errorf("%w: nonce %d from %s is older than the last %d it sent",
			ErrReplay, nonce, shortKey(caller), replayMemory)
	case len(c.kept) == replayMemory:
		// Drop the smallest kept nonce; the new one goes in order.
		copy(c.kept, c.kept[1:i])
		c.kept[i-1] = nonce
	default:
		c.kept = slices.Insert(c.kept, i, nonce)
	}
	return nil
}

// forgetOldest makes room for one more caller, raising the floor to the
// largest nonce of the caller it forgets.
func (g *ReplayGuard) forgetOldest() {
	if len(g.callers) < g.maxCallers {
		return
	}
	e := g.lru.Back()
	c := g.lru.Remove(e).(*callerNonces)
	delete(g.callers, c.caller)
	g.floor = max(g.floor, c.kept[len(c.kept)-1])
}

// Len returns how many callers the guard remembers.
func (g *ReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.callers)
}
