package prefetch

import (
	"context"
	"iter"
)

// Depth is how many values Seq prepares ahead of its consumer.
const Depth = 4

// Seq returns the values produce sends, in the order sent, prepared on a
// goroutine up to Depth values ahead of the consumer.
//
// Each range over the sequence runs produce once, on a goroutine of its
// own, with a context that ends when ctx ends or when the consumer stops
// ranging. send queues a value and reports whether the consumer may still
// take it; once that context has ended send refuses every value, and once
// send returns false produce should return. The sequence ends when produce
// returns, or early when ctx ends, after at most Depth values already
// queued (check ctx.Err() after the loop); the range waits for produce to
// return before it does.
//
// Every value produce sends either reaches the consumer or, when the
// consumer stops first, is handed to discard (if not nil) on the ranging
// goroutine or the producing one: values holding resources (tensors) are
// freed there.
func Seq[T any](ctx context.Context, produce func(ctx context.Context, send func(T) bool), discard func(T)) iter.Seq[T] {
	drop := func(v T) {
		if discard != nil {
			discard(v)
		}
	}
	return func(yield func(T) bool) {
		ctx, cancel := context.WithCancel(ctx)
		queue := make(chan T, Depth)
		done := make(chan struct{})
		send := func(v T) bool {
			if ctx.Err() != nil { // refuse even while the queue has room
				drop(v)
				return false
			}
			select {
			case queue <- v:
				return true
			case <-ctx.Done():
				drop(v)
				return false
			}
		}
		go func() {
			defer close(done)
			defer close(queue)
			produce(ctx, send)
		}()
		defer func() {
			cancel()
			<-done
			for v := range queue { // prepared but not taken
				drop(v)
			}
		}()
		for v := range queue {
			if !yield(v) {
				return
			}
		}
	}
}
