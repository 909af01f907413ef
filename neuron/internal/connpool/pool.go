// Package connpool keeps a bounded set of gRPC client connections, one per
// target, shared by every caller that talks to that target.
//
// The rules:
//
//   - Get returns a Lease on the connection to a target, creating the
//     connection when the pool has none (grpc.NewClient does not dial: gRPC
//     connects on the first call, within that call's deadline). A Lease is one
//     use; Release ends it.
//   - The pool holds at most MaxConns connections. Making room for a new target
//     evicts the least recently used connection: the one whose last Get or
//     Release is the oldest. An evicted connection leaves the pool at once but
//     is closed only when its last Lease is released, so no call ever loses its
//     connection to an eviction.
//   - A connection no Lease has used for IdleTimeout is closed by the next Get
//     (and gRPC drops an idle channel's transport after the same time by
//     itself).
//   - Discard takes a connection out of the pool (after a failed call, so that
//     the next Get dials afresh); it too is closed after its last Lease.
//   - Close closes every connection, failing the calls still in flight, and
//     makes later Gets fail with ErrClosed.
//
// A Pool is safe for concurrent use.
package connpool

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// ErrClosed is returned by Get after Close.
var ErrClosed = errors.New("connpool: closed")

// Config configures a Pool. Zero fields take the defaults given.
type Config struct {
	// MaxConns bounds the connections held (default 64).
	MaxConns int
	// IdleTimeout is how long an unused connection stays open (default 5 min).
	IdleTimeout time.Duration
	// DialOptions are passed to grpc.NewClient for every connection.
	DialOptions []grpc.DialOption
	// Now is the pool's clock (default time.Now).
	Now func() time.Time
}

// Defaults of Config's zero fields.
const (
	DefaultMaxConns    = 64
	DefaultIdleTimeout = 5 * time.Minute
)

// Pool is a bounded, least-recently-used set of gRPC client connections.
type Pool struct {
	maxConns int
	idle     time.Duration
	dialOpts []grpc.DialOption
	now      func() time.Time

	mu      sync.Mutex
	lru     *list.List // of *conn, most recently used first
	targets map[string]*list.Element
	closed  bool
}

// conn is one pooled connection. Its fields other than cc are guarded by the
// pool's mutex.
type conn struct {
	target string
	cc     *grpc.ClientConn
	refs   int       // Leases not yet released
	used   time.Time // last Get or Release
	gone   bool      // out of the pool: close when refs reaches 0
}

// New returns an empty pool configured by cfg.
func New(cfg Config) *Pool {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	opts := append([]grpc.DialOption{grpc.WithIdleTimeout(cfg.IdleTimeout)}, cfg.DialOptions...)
	return &Pool{
		maxConns: cfg.MaxConns,
		idle:     cfg.IdleTimeout,
		dialOpts: opts,
		now:      cfg.Now,
		lru:      list.New(),
		targets:  make(map[string]*list.Element),
	}
}

// Get returns a Lease on the connection to target, creating it if needed. The
// caller must Release the Lease when its call is done.
func (p *Pool) Get(target string) (*Lease, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	now := p.now()
	p.closeIdleLocked(now)
	if e, ok := p.targets[target]; ok {
		c := e.Value.(*conn)
		c.refs++
		c.used = now
		p.lru.MoveToFront(e)
		return &Lease{p: p, c: c}, nil
	}
	cc, err := grpc.NewClient(target, p.dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("connpool: connection to %s: %w", target, err)
	}
	for p.lru.Len() >= p.maxConns {
		p.removeLocked(p.lru.Back())
	}
	c := &conn{target: target, cc: cc, refs: 1, used: now}
	p.targets[target] = p.lru.PushFront(c)
	return &Lease{p: p, c: c}, nil
}

// closeIdleLocked removes the connections without Leases unused since before
// now-IdleTimeout. The list is in order of use, so the scan stops at the first
// connection used since.
func (p *Pool) closeIdleLocked(now time.Time) {
	cutoff := now.Add(-p.idle)
	for e := p.lru.Back(); e != nil; {
		c := e.Value.(*conn)
		if c.used.After(cutoff) {
			return
		}
		prev := e.Prev()
		if c.refs == 0 {
			p.removeLocked(e)
		}
		e = prev
	}
}

// removeLocked takes e's connection out of the pool, closing it unless a Lease
// still uses it (then its last Release closes it).
func (p *Pool) removeLocked(e *list.Element) {
	c := p.lru.Remove(e).(*conn)
	delete(p.targets, c.target)
	c.gone = true
	if c.refs == 0 {
		_ = c.cc.Close() // nothing to report: no call uses it
	}
}

// release ends one Lease on c.
func (p *Pool) release(c *conn, discard bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.refs--
	if discard && !c.gone {
		p.removeLocked(p.targets[c.target])
	}
	if c.gone {
		if c.refs == 0 {
			_ = c.cc.Close()
		}
		return
	}
	c.used = p.now()
	p.lru.MoveToFront(p.targets[c.target])
}

// Len returns how many connections the pool holds.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lru.Len()
}

// Close closes every pooled connection, failing the calls in flight on them,
// and makes later Gets fail; a connection evicted earlier but still leased
// closes at its last Release as always. Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for e := p.lru.Front(); e != nil; e = e.Next() {
		c := e.Value.(*conn)
		c.gone = true
		if err := c.cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("connpool: close %s: %w", c.target, err))
		}
	}
	p.lru.Init()
	clear(p.targets)
	return errors.Join(errs...)
}

// Lease is one use of a pooled connection. It is a grpc.ClientConnInterface,
// so generated clients can be built on it. Release or Discard ends it; later
// calls of either do nothing.
type Lease struct {
	p     *Pool
	c     *conn
	ended atomic.Bool
}

var _ grpc.ClientConnInterface = (*Lease)(nil)

// Target returns the target the Lease's connection was made for.
func (l *Lease) Target() string { return l.c.target }

// ClientConn returns the leased connection.
func (l *Lease) ClientConn() *grpc.ClientConn { return l.c.cc }

// Invoke implements grpc.ClientConnInterface.
func (l *Lease) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return l.c.cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (l *Lease) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return l.c.cc.NewStream(ctx, desc, method, opts...)
}

// Release ends the Lease, keeping the connection pooled for the next Get.
func (l *Lease) Release() {
	if l.ended.CompareAndSwap(false, true) {
		l.p.release(l.c, false)
	}
}

// Discard ends the Lease and takes its connection out of the pool, so that the
// next Get for the target makes a new one; the connection closes once no
// Lease uses it.
func (l *Lease) Discard() {
	if l.ended.CompareAndSwap(false, true) {
		l.p.release(l.c, true)
	}
}
