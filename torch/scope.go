package torch

import "sync"

// Scope owns tensors and frees them all at Close. An op's result joins the
// scope of its first operand that has one, so everything computed from a
// scoped input (a training step's activations, say) is freed together.
// A Scope is safe for concurrent use.
type Scope struct {
	mu      sync.Mutex
	tensors map[*Tensor]struct{}
	done    bool
}

// NewScope returns an empty, open scope.
func NewScope() *Scope { return &Scope{tensors: make(map[*Tensor]struct{})} }

// WithScope runs fn with a fresh scope and closes it when fn returns.
func WithScope(fn func(s *Scope)) {
	s := NewScope()
	defer s.Close()
	fn(s)
}

// Track moves t (and whatever is computed from it afterwards) into the scope
// and returns it. A tensor already in another scope moves here.
func (s *Scope) Track(t *Tensor) *Tensor {
	if t == nil || t.h == nil {
		return t
	}
	if t.scope == s {
		return t
	}
	if t.scope != nil {
		t.scope.remove(t)
	}
	if t.managed {
		t.cleanup.Stop()
		t.managed = false
	}
	if !s.add(t) {
		t.manage()
	}
	return t
}

// Keep takes t out of the scope, so that Close leaves it alone; the garbage
// collector (or Free) releases it later. It returns t.
func (s *Scope) Keep(t *Tensor) *Tensor {
	if t == nil || t.h == nil || t.scope != s {
		return t
	}
	s.remove(t)
	t.manage()
	return t
}

// Len returns the number of live tensors the scope holds.
func (s *Scope) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tensors)
}

// Close frees every tensor of the scope. Tensors created from its tensors
// after Close are unscoped. Close is idempotent.
func (s *Scope) Close() {
	s.mu.Lock()
	ts := s.tensors
	s.tensors = nil
	s.done = true
	s.mu.Unlock()
	for t := range ts {
		t.scope = nil
		t.release()
	}
}

func (s *Scope) add(t *Tensor) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.tensors[t] = struct{}{}
	t.scope = s
	return true
}

func (s *Scope) remove(t *Tensor) {
	s.mu.Lock()
	delete(s.tensors, t)
	s.mu.Unlock()
	t.scope = nil
}

func (s *Scope) closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}
