package connpool

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestPool(maxConns int, idle time.Duration) (*Pool, *fakeClock) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	p := New(Config{
		MaxConns:    maxConns,
		IdleTimeout: idle,
		DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
		Now:         clock.now,
	})
	return p, clock
}

// target returns the i-th test target; nothing listens there and nothing
// dials it, since no call is made.
func target(i int) string { return fmt.Sprintf("127.0.0.1:%d", 10000+i) }

func get(t *testing.T, p *Pool, target string) *Lease {
	t.Helper()
	l, err := p.Get(target)
	if err != nil {
		t.Fatalf("Get(%s): %v", target, err)
	}
	return l
}

func isClosed(l *Lease) bool { return l.ClientConn().GetState() == connectivity.Shutdown }

func TestPoolSharesOneConnectionPerTarget(t *testing.T) {
	p, _ := newTestPool(4, time.Hour)
	a1, a2, b := get(t, p, target(1)), get(t, p, target(1)), get(t, p, target(2))
	if a1.ClientConn() != a2.ClientConn() || a1.ClientConn() == b.ClientConn() || p.Len() != 2 {
		t.Fatalf("shared=%v distinct=%v len=%d, want true true 2",
			a1.ClientConn() == a2.ClientConn(), a1.ClientConn() != b.ClientConn(), p.Len())
	}
	if a1.Target() != target(1) {
		t.Fatalf("Target = %q", a1.Target())
	}
	a1.Release()
	a1.Release() // a second Release does nothing: a2 still holds the connection
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !isClosed(a2) || !isClosed(b) {
		t.Fatal("Close left a connection open")
	}
	if _, err := p.Get(target(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	a2.Release() // after Close: harmless
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestPoolEvictsLeastRecentlyUsed(t *testing.T) {
	p, clock := newTestPool(3, time.Hour)
	leases := make([]*Lease, 4)
	for i := range 3 {
		leases[i] = get(t, p, target(i))
		leases[i].Release()
		clock.advance(time.Second)
	}
	// Use target 0 again: target 1 is now the least recently used.
	get(t, p, target(0)).Release()
	clock.advance(time.Second)
	leases[3] = get(t, p, target(3))
	leases[3].Release()
	if p.Len() != 3 {
		t.Fatalf("len = %d, want the bound 3", p.Len())
	}
	for i, wantClosed := range []bool{false, true, false, false} {
		if isClosed(leases[i]) != wantClosed {
			t.Errorf("target %d closed = %v, want %v", i, isClosed(leases[i]), wantClosed)
		}
	}
	// The evicted target comes back with a new connection, evicting target 2.
	again := get(t, p, target(1))
	defer again.Release()
	if again.ClientConn() == leases[1].ClientConn() || isClosed(again) || !isClosed(leases[2]) {
		t.Fatal("re-getting an evicted target did not make a new connection and evict the next oldest")
	}
}

func TestPoolNeverClosesALeasedConnection(t *testing.T) {
	p, _ := newTestPool(1, time.Hour)
	held := get(t, p, target(1))
	other := get(t, p, target(2)) // evicts target 1 from the pool, not from its user
	if p.Len() != 1 {
		t.Fatalf("len = %d, want 1", p.Len())
	}
	if isClosed(held) {
		t.Fatal("eviction closed a connection under its user")
	}
	held.Release()
	if !isClosed(held) {
		t.Fatal("an evicted connection stayed open after its last Release")
	}
	other.Discard()
	if p.Len() != 0 || !isClosed(other) {
		t.Fatalf("Discard: len = %d, closed = %v; want 0, true", p.Len(), isClosed(other))
	}
}

func TestPoolDiscardWaitsForOtherUsers(t *testing.T) {
	p, _ := newTestPool(2, time.Hour)
	a, b := get(t, p, target(1)), get(t, p, target(1))
	a.Discard()
	if isClosed(b) {
		t.Fatal("Discard closed a connection another Lease uses")
	}
	fresh := get(t, p, target(1))
	defer fresh.Release()
	if fresh.ClientConn() == b.ClientConn() {
		t.Fatal("Get after Discard returned the discarded connection")
	}
	b.Release()
	if !isClosed(b) || isClosed(fresh) {
		t.Fatal("the discarded connection did not close at its last Release, or the fresh one closed")
	}
}

func TestPoolClosesIdleConnections(t *testing.T) {
	p, clock := newTestPool(8, time.Minute)
	old := get(t, p, target(1))
	old.Release()
	busy := get(t, p, target(2)) // leased for longer than the idle timeout
	clock.advance(30 * time.Second)
	recent := get(t, p, target(3))
	recent.Release()
	clock.advance(31 * time.Second) // old and busy: 61 s; recent: 31 s
	get(t, p, target(4)).Release()  // any Get sweeps
	if !isClosed(old) || isClosed(busy) || isClosed(recent) || p.Len() != 3 {
		t.Fatalf("after the idle timeout: old closed=%v busy closed=%v recent closed=%v len=%d; want true false false 3",
			isClosed(old), isClosed(busy), isClosed(recent), p.Len())
	}
	busy.Release() // its use ends now, so its idle time starts now
	clock.advance(59 * time.Second)
	get(t, p, target(4)).Release()
	if isClosed(busy) || !isClosed(recent) {
		t.Fatalf("busy closed=%v (want false: idle 59 s), recent closed=%v (want true: idle 90 s)", isClosed(busy), isClosed(recent))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPoolConcurrentUse runs many users over more targets than the pool holds;
// under -race it checks the locking, and at the end every connection that is
// not pooled is closed.
func TestPoolConcurrentUse(t *testing.T) {
	const maxConns, targets, workers, rounds = 4, 10, 8, 200
	p, clock := newTestPool(maxConns, time.Minute)
	var mu sync.Mutex
	seen := make(map[*grpc.ClientConn]bool)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				l, err := p.Get(target((w + i) % targets))
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				if isClosed(l) {
					t.Errorf("Get returned a closed connection to %s", l.Target())
				}
				mu.Lock()
				seen[l.ClientConn()] = true
				mu.Unlock()
				if i%7 == 0 {
					clock.advance(time.Second)
				}
				if i%13 == 0 {
					l.Discard()
				} else {
					l.Release()
				}
			}
		})
	}
	wg.Wait()
	if n := p.Len(); n > maxConns {
		t.Fatalf("len = %d, over the bound %d", n, maxConns)
	}
	open := 0
	for cc := range seen {
		if cc.GetState() != connectivity.Shutdown {
			open++
		}
	}
	if open != p.Len() {
		t.Fatalf("%d connections open, %d pooled: evicted ones leaked", open, p.Len())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
