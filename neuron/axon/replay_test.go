package axon

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the guard.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// advance moves the clock by d.
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// ns returns the clock plus d in Unix nanoseconds: the nonce a caller whose
// clock is d ahead of the server's would send.
func (c *fakeClock) ns(d time.Duration) int64 { return c.t.Add(d).UnixNano() }

const testWindow = time.Minute

func newTestGuard() (*replayGuard, *fakeClock) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return newReplayGuard(testWindow, c.now), c
}

func mustAccept(t *testing.T, g *replayGuard, caller string, nonce int64) {
	t.Helper()
	if err := g.Check(caller, nonce); err != nil {
		t.Fatalf("Check(%s, %d) = %v, want accepted", caller, nonce, err)
	}
}

func mustRefuse(t *testing.T, g *replayGuard, caller string, nonce int64, want string) {
	t.Helper()
	err := g.Check(caller, nonce)
	if !errors.Is(err, ErrReplay) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Check(%s, %d) = %v, want ErrReplay containing %q", caller, nonce, err, want)
	}
}

func TestReplayGuardRefusesReplays(t *testing.T) {
	g, c := newTestGuard()
	n := c.ns(0)
	mustAccept(t, g, "a", n)
	mustRefuse(t, g, "a", n, fmt.Sprintf("nonce %d from a was already used", n))
	mustAccept(t, g, "b", n) // callers are independent
	mustRefuse(t, g, "b", n, "already used")
	if g.Len() != 2 {
		t.Fatalf("Len = %d, want 2", g.Len())
	}
}

func TestReplayGuardAcceptsReorderedNoncesOnceEach(t *testing.T) {
	g, c := newTestGuard()
	// Nonces from all over the window, in an order far from sorted: the
	// newest first, then the oldest, then the ones in between.
	order := []time.Duration{
		testWindow, -testWindow, 0, -time.Second, 30 * time.Second, time.Nanosecond,
		-time.Nanosecond, -59 * time.Second, 59 * time.Second, 2 * time.Second,
	}
	for _, d := range order {
		mustAccept(t, g, "a", c.ns(d))
	}
	for _, d := range order {
		mustRefuse(t, g, "a", c.ns(d), "already used")
	}
	if g.Len() != len(order) {
		t.Fatalf("Len = %d, want %d", g.Len(), len(order))
	}
}

func TestReplayGuardWindowEdges(t *testing.T) {
	g, c := newTestGuard()
	mustRefuse(t, g, "a", c.ns(-testWindow)-1, "is more than 1m0s behind the server clock")
	mustRefuse(t, g, "a", c.ns(testWindow)+1, "is more than 1m0s ahead of the server clock")
	mustRefuse(t, g, "a", c.ns(-time.Hour), "behind")
	mustRefuse(t, g, "a", minNonce, "behind")
	mustRefuse(t, g, "a", maxNonce, "ahead")
	if g.Len() != 0 {
		t.Fatalf("refused nonces left %d entries", g.Len())
	}
	mustAccept(t, g, "a", c.ns(-testWindow)) // both edges belong to the window
	mustAccept(t, g, "a", c.ns(testWindow))

	// A delayed message: signed a second before the window opened on it, it
	// is refused once it is older than the window, even though never used.
	delayed := c.ns(time.Second)
	c.advance(testWindow + time.Second)
	mustAccept(t, g, "b", delayed) // still exactly at the edge
	c.advance(time.Nanosecond)
	mustRefuse(t, g, "c", delayed, "behind")
	// And one that was too new is accepted once the clock caught up.
	early := c.ns(testWindow + time.Second)
	mustRefuse(t, g, "a", early, "ahead")
	c.advance(time.Second)
	mustAccept(t, g, "a", early)
}

func TestReplayGuardPruningBoundsState(t *testing.T) {
	g, c := newTestGuard()
	// A steady 10 requests a (fake) second from one caller whose clock runs
	// 30 s ahead, for 20 windows. Every entry must go once its nonce is more
	// than W + W/replaySlices old, so at most rate × (2W + W/replaySlices)
	// entries are ever held, plus the one just added.
	const perSecond = 10
	step := time.Second / perSecond
	bound := int((2*testWindow+testWindow/replaySlices)/step) + 1
	most := 0
	for i := range 20 * int(testWindow/step) {
		c.advance(step)
		mustAccept(t, g, fmt.Sprint("k", i%7), c.ns(30*time.Second))
		most = max(most, g.Len())
		if g.Len() > bound {
			t.Fatalf("after %d requests the guard holds %d entries, over the bound %d", i+1, g.Len(), bound)
		}
	}
	// The state did grow to what the window holds (the bound is not slack).
	if lower := int((testWindow + 30*time.Second) / step); most < lower {
		t.Fatalf("the guard held at most %d entries, want at least %d", most, lower)
	}
	// After a quiet spell longer than the window, one request drops the rest.
	c.advance(2*testWindow + testWindow/replaySlices)
	mustAccept(t, g, "k", c.ns(0))
	if g.Len() != 1 {
		t.Fatalf("after the window passed the guard holds %d entries, want 1", g.Len())
	}
	if len(g.buckets) != 1 {
		t.Fatalf("after the window passed the guard keeps %d buckets, want 1", len(g.buckets))
	}
}

func TestReplayGuardThrowawayKeysCannotLockOutHonestCallers(t *testing.T) {
	g, c := newTestGuard()
	old := c.ns(-time.Second)
	mustAccept(t, g, "honest-old", old) // an existing honest caller
	// 20 000 fresh keys, each with nonces at both edges of the window, just
	// inside them, and at the exact nonces the honest callers will use.
	const attackers = 20_000
	honestNext, newcomer := c.ns(0), c.ns(time.Millisecond)
	for i := range attackers {
		k := fmt.Sprint("throwaway-", i)
		for _, n := range []int64{c.ns(-testWindow), c.ns(testWindow), c.ns(testWindow) - 1, c.ns(-testWindow) + 1, honestNext, newcomer} {
			mustAccept(t, g, k, n)
		}
	}
	if want := 1 + 6*attackers; g.Len() != want {
		t.Fatalf("Len = %d, want %d", g.Len(), want)
	}
	mustAccept(t, g, "honest-new", newcomer) // never seen before
	mustAccept(t, g, "honest-old", honestNext)
	mustRefuse(t, g, "honest-old", old, "already used") // still protected

	// The same holds while the flood goes on as the clock moves: every
	// attacker keeps sending at the edges, the honest callers stay accepted.
	for round := range 4 {
		c.advance(testWindow / 3)
		for i := range attackers / 10 {
			k := fmt.Sprint("round-", round, "-", i)
			mustAccept(t, g, k, c.ns(-testWindow))
			mustAccept(t, g, k, c.ns(testWindow))
		}
		mustAccept(t, g, fmt.Sprint("honest-new-", round), c.ns(0))
		mustAccept(t, g, "honest-old", c.ns(0))
		mustAccept(t, g, "honest-new", c.ns(-testWindow/2)) // a late one, still in the window
	}
}

func TestReplayGuardClockSteppingBack(t *testing.T) {
	g, c := newTestGuard()
	n := c.ns(0)
	mustAccept(t, g, "a", n)
	kept := c.ns(testWindow)
	mustAccept(t, g, "a", kept)
	// Far enough ahead that n's bucket is dropped, not kept's.
	c.advance(testWindow + 2*testWindow/replaySlices)
	mustAccept(t, g, "b", c.ns(0))
	if g.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (n's bucket dropped)", g.Len())
	}
	// The clock steps back to where n is fresh again: n was forgotten, so it
	// must be refused, as must every nonce below what was forgotten.
	c.t = time.Unix(0, n)
	mustRefuse(t, g, "a", n, "older than the nonces already forgotten")
	mustRefuse(t, g, "new", n, "older than the nonces already forgotten")
	mustRefuse(t, g, "a", kept, "already used") // remembered ones stay refused
	mustAccept(t, g, "a", c.ns(testWindow)-1)   // the rest of the window still works
}

// TestReplayGuardMatchesTheRule drives the guard with a deterministic
// pseudo-random mix of callers, nonces and clock steps (never back) and
// checks each answer against the rule evaluated on a plain record of every
// nonce ever accepted.
func TestReplayGuardMatchesTheRule(t *testing.T) {
	g, c := newTestGuard()
	type use struct {
		caller string
		nonce  int64
	}
	ever := map[use]bool{}
	x := uint64(12345)
	rnd := func(n uint64) uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x % n
	}
	w := int64(testWindow)
	accepted := 0
	for range 50_000 {
		if rnd(10) == 0 {
			c.advance(time.Duration(rnd(uint64(w / 4))))
		}
		now := c.ns(0)
		// Nonces from 2W before to 2W after the clock, on a coarse grid so
		// that repeats are common.
		u := use{caller: fmt.Sprint("c", rnd(5)), nonce: now - 2*w + int64(rnd(400))*w/100}
		want := now-w <= u.nonce && u.nonce <= now+w && !ever[u]
		err := g.Check(u.caller, u.nonce)
		if got := err == nil; got != want {
			t.Fatalf("Check(%s, now%+d) = %v, the rule says accepted=%v", u.caller, u.nonce-now, err, want)
		}
		if err != nil && !errors.Is(err, ErrReplay) {
			t.Fatalf("refusal %v does not wrap ErrReplay", err)
		}
		if want {
			ever[u] = true
			accepted++
		}
	}
	if accepted < 1000 {
		t.Fatalf("only %d nonces accepted: the test exercises little", accepted)
	}
}

// FuzzReplayGuard checks the guard against the rule, as
// TestReplayGuardMatchesTheRule does, on sequences the fuzzer picks: each
// three bytes move the clock forward (or, rarely, back), name one of four
// callers and pick a nonce within three windows of the clock.
func FuzzReplayGuard(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 10, 1, 200, 255, 2, 64})
	f.Add([]byte{1, 0, 100, 200, 0, 100, 1, 0, 100, 0, 1, 127})
	f.Fuzz(func(t *testing.T, ops []byte) {
		g, c := newTestGuard()
		w := int64(testWindow)
		ever := map[string]bool{}
		var maxNow int64 = minNonce
		for len(ops) >= 3 {
			step, who, at := ops[0], ops[1], int8(ops[2])
			ops = ops[3:]
			if step == 255 {
				c.advance(-testWindow / 3) // the server clock steps back
			} else {
				c.advance(time.Duration(step) * testWindow / 64)
			}
			now := c.ns(0)
			maxNow = max(maxNow, now)
			caller := fmt.Sprint("c", who%4)
			nonce := now + int64(at)*w/42
			key := fmt.Sprint(caller, "/", nonce)
			inWindow := now-w <= nonce && nonce <= now+w
			err := g.Check(caller, nonce)
			switch {
			case err != nil && !errors.Is(err, ErrReplay):
				t.Fatalf("refusal %v does not wrap ErrReplay", err)
			case err == nil && (!inWindow || ever[key]):
				t.Fatalf("Check(%s, now%+d) accepted a nonce the rule refuses", caller, nonce-now)
			case err != nil && inWindow && !ever[key] && nonce >= maxNow-w:
				// Only a step back may refuse a fresh nonce, and only one
				// older than the window was at the newest clock.
				t.Fatalf("Check(%s, now%+d) = %v, the rule says accepted", caller, nonce-now, err)
			}
			if err == nil {
				ever[key] = true
			}
		}
	})
}

func TestReplayGuardConcurrentChecksAcceptEachNonceOnce(t *testing.T) {
	g, c := newTestGuard()
	const goroutines, callers, nonces = 8, 4, 200
	var mu sync.Mutex
	wins := map[string]int{}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every goroutine tries every (caller, nonce): each must win once.
			for i := range callers * nonces {
				caller, nonce := fmt.Sprint("c", i%callers), c.ns(time.Duration(i/callers))
				if g.Check(caller, nonce) == nil {
					mu.Lock()
					wins[fmt.Sprint(caller, "/", nonce)]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(wins) != callers*nonces {
		t.Fatalf("%d (caller, nonce) pairs accepted, want %d", len(wins), callers*nonces)
	}
	for k, n := range wins {
		if n != 1 {
			t.Fatalf("%s accepted %d times", k, n)
		}
	}
}

func TestFloorDiv(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{
		{7, 2, 3}, {6, 2, 3}, {0, 5, 0}, {-1, 5, -1}, {-5, 5, -1}, {-6, 5, -2}, {minNonce, 1, minNonce},
	} {
		if got := floorDiv(tc.a, tc.b); got != tc.want {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// BenchmarkReplayGuardCheck measures an accepted Check at a steady state of
// about 21 000 held entries (one request per fake microsecond, a 10 ms
// window), pruning included, and reports the heap each held entry costs.
func BenchmarkReplayGuardCheck(b *testing.B) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	g := newReplayGuard(10*time.Millisecond, c.now)
	callers := make([]string, 1024)
	for i := range callers {
		callers[i] = fmt.Sprintf("%064x", i) // key-sized
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; b.Loop(); i++ {
		c.advance(time.Microsecond)
		if err := g.Check(callers[i%len(callers)], c.ns(0)); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := g.Len(); n > 1000 {
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B/entry")
	}
	runtime.KeepAlive(g)
}
