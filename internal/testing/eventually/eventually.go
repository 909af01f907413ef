// Package eventually is the tests' one poll loop: it checks a condition
// until it holds, at an interval that starts short and grows (1 ms, then
// half as long again each time, up to 50 ms), bounded by a timeout, and
// fails the test with what it waited for and, for NoError, the last error.
//
//	eventually.True(t, 5*time.Second, func() bool { return m.Knows(id) }, "A knows B")
//	took := eventually.NoError(t, 10*time.Second, func() error {
//		if n := len(list()); n != 1 {
//			return fmt.Errorf("%d synapses listed, want 1", n)
//		}
//		return nil
//	}, "the chain forgets B")
//
// The condition runs on the test's goroutine, so it may call t.Fatal
// itself. It is checked once more when the timeout is reached: a helper
// never fails without a check at its bound, and never waits past it by
// more than one check's time. Use it for state that something else changes
// (a gossip round, a lease's expiry, a goroutine's release), not for a
// channel or a log line that can be waited on directly.
package eventually

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

const (
	firstInterval = time.Millisecond
	maxInterval   = 50 * time.Millisecond
)

// next is the interval after one of d: half as long again, at most
// maxInterval.
func next(d time.Duration) time.Duration {
	return min(d+d/2, maxInterval)
}

// True calls cond until it returns true and returns how long that took.
// When timeout passes first, it fails t (Fatalf) with the message of format
// and args, the timeout and the number of checks.
func True(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) time.Duration {
	t.Helper()
	return poll(t, timeout, func() error {
		if cond() {
			return nil
		}
		return errFalse
	}, format, args...)
}

// NoError calls f until it returns nil and returns how long that took.
// When timeout passes first, it fails t (Fatalf) with the message of format
// and args, the timeout, the number of calls and f's last error. When f
// returns an error made by Stop, it fails t at once with that error.
func NoError(t testing.TB, timeout time.Duration, f func() error, format string, args ...any) time.Duration {
	t.Helper()
	return poll(t, timeout, f, format, args...)
}

// Stop wraps err so that NoError stops polling and fails the test at once:
// for a state that can no longer turn good, such as a process that ended.
// Stop(nil) is nil.
func Stop(err error) error {
	if err == nil {
		return nil
	}
	return &stopError{err}
}

type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// errFalse is the last error of True's condition.
var errFalse = errors.New("condition false")

func poll(t testing.TB, timeout time.Duration, f func() error, format string, args ...any) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	interval := firstInterval
	for checks := 1; ; checks++ {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		what := fmt.Sprintf(format, args...)
		if stop := (*stopError)(nil); errors.As(err, &stop) {
			t.Fatalf("%s: gave up after %v (%d checks): %v", what, time.Since(start).Round(time.Millisecond), checks, stop.err)
			return time.Since(start)
		}
		left := time.Until(deadline)
		if left <= 0 {
			if err == errFalse {
				t.Fatalf("%s: not within %v (%d checks)", what, timeout, checks)
			} else {
				t.Fatalf("%s: not within %v (%d checks); last error: %v", what, timeout, checks, err)
			}
			return time.Since(start)
		}
		time.Sleep(min(interval, left))
		interval = next(interval)
	}
}
