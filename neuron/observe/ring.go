package observe

// ring keeps the last cap values added: the page's recent history (test
// results, throughput samples) in bounded memory.
type ring[T any] struct {
	buf  []T
	next int  // where the next value goes
	full bool // every slot of buf holds a value
}

func newRing[T any](capacity int) *ring[T] { return &ring[T]{buf: make([]T, max(capacity, 1))} }

// add appends v, dropping the oldest value when the ring is full.
func (r *ring[T]) add(v T) {
	r.buf[r.next] = v
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// values returns a copy of the values, oldest first.
func (r *ring[T]) values() []T {
	if !r.full {
		return append([]T{}, r.buf[:r.next]...)
	}
	out := make([]T, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// series keeps a whole run's history of values in at most cap of them: it
// keeps every stride-th value added, and when full it drops every other value
// kept and doubles the stride. The first value is always kept; the spacing of
// the kept values is even. The training curves use it, so that the page
// shows the run from its start at a resolution that falls as the run grows.
type series[T any] struct {
	capacity int
	stride   uint64
	added    uint64 // values added so far, kept or not
	kept     []T
}

func newSeries[T any](capacity int) *series[T] {
	return &series[T]{capacity: max(capacity, 2), stride: 1}
}

// add offers v, the next value of the run.
func (s *series[T]) add(v T) {
	i := s.added
	s.added++
	if i%s.stride != 0 {
		return
	}
	if len(s.kept) == s.capacity {
		for j := 0; 2*j < len(s.kept); j++ {
			s.kept[j] = s.kept[2*j]
		}
		clear(s.kept[(len(s.kept)+1)/2:])
		s.kept = s.kept[:(len(s.kept)+1)/2]
		s.stride *= 2
		if i%s.stride != 0 {
			return
		}
	}
	s.kept = append(s.kept, v)
}

// values returns a copy of the kept values, oldest first.
func (s *series[T]) values() []T { return append([]T{}, s.kept...) }
