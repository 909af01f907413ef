package neuron

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for the guard.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestGuard(maxCallers int) (*ReplayGuard, *fakeClock) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	return NewReplayGuard(maxCallers, time.Minute, c.now), c
}

func mustAccept(t *testing.T, g *ReplayGuard, caller string, nonce int64) {
	t.Helper()
	if err := g.Check(caller, nonce); err != nil {
		t.Fatalf("Check(%s, %d) = %v, want accepted", caller, nonce, err)
	}
}

func mustRefuse(t *testing.T, g *ReplayGuard, caller string, nonce int64, want string) {
	t.Helper()
	err := g.Check(caller, nonce)
	if !errors.Is(err, ErrReplay) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Check(%s, %d) = %v, want ErrReplay containing %q", caller, nonce, err, want)
	}
}

func TestReplayGuardRefusesReplays(t *testing.T) {
	g, _ := newTestGuard(10)
	mustAccept(t, g, "a", 5)
	mustRefuse(t, g, "a", 5, "nonce 5 from a was already used")
	mustAccept(t, g, "a", 7)
	mustAccept(t, g, "a", 6) // arrived out of order, never used: fine
	mustRefuse(t, g, "a", 6, "already used")
	mustAccept(t, g, "b", 5) // callers are independent
	mustRefuse(t, g, "b", 5, "already used")
}

func TestReplayGuardWindow(t *testing.T) {
	g, _ := newTestGuard(10)
	for n := int64(1); n <= replayMemory; n++ {
		mustAccept(t, g, "a", 2*n) // even nonces 2..128
	}
	// The window is full: a nonce below all kept ones is refused even if unused,
	// one inside the window that was never used is accepted.
	mustRefuse(t, g, "a", 1, fmt.Sprintf("older than the last %d", replayMemory))
	mustAccept(t, g, "a", 3) // drops 2, the smallest kept
	mustRefuse(t, g, "a", 2, "older than the last")
	mustRefuse(t, g, "a", 3, "already used") // 3 is now the smallest kept
	mustAccept(t, g, "a", 1000)
	mustRefuse(t, g, "a", 3, "older than the last")
	for n := int64(2); n <= replayMemory; n++ {
		mustRefuse(t, g, "a", 2*n, "")
	}
}

func TestReplayGuardNeverAcceptsTwice(t *testing.T) {
	// Property check over a deterministic pseudo-random arrival order.
	g, _ := newTestGuard(4)
	accepted := map[int64]bool{}
	x := uint64(12345)
	for range 20000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		n := int64(x % 500)
		if err := g.Check("a", n); err == nil {
			if accepted[n] {
				t.Fatalf("nonce %d accepted twice", n)
			}
			accepted[n] = true
		}
	}
	if len(accepted) < replayMemory {
		t.Fatalf("only %d distinct nonces accepted", len(accepted))
	}
}

func TestReplayGuardBoundedAndForgottenCallersStayRefused(t *testing.T) {
	g, _ := newTestGuard(2)
	mustAccept(t, g, "a", 10)
	mustAccept(t, g, "b", 20)
	mustAccept(t, g, "a", 11) // a is now the most recent
	mustAccept(t, g, "c", 30) // forgets b, floor = 20
	if g.Len() != 2 {
		t.Fatalf("guard remembers %d callers, want 2", g.Len())
	}
	mustRefuse(t, g, "b", 20, "not above 20, the newest nonce of a forgotten caller")
	mustRefuse(t, g, "d", 15, "not above 20")
	mustAccept(t, g, "b", 21) // forgets a, floor = 20 still (a's newest is 11)
	mustRefuse(t, g, "a", 11, "not above 20")
	mustAccept(t, g, "a", 25)
}

func TestReplayGuardRefusesNoncesAheadOfTheClock(t *testing.T) {
	g, clock := newTestGuard(2)
	ahead := clock.t.Add(time.Minute + time.Nanosecond).UnixNano()
	mustRefuse(t, g, "a", ahead, "more than 1m0s ahead of the server clock")
	if g.Len() != 0 {
		t.Fatal("a refused nonce created caller state")
	}
	clock.t = clock.t.Add(time.Second)
	mustAccept(t, g, "a", ahead)
}
