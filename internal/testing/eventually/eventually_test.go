package eventually

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeTB records a Fatalf and ends its goroutine, as testing.T's does.
type fakeTB struct {
	testing.TB // nil: a call of any other method panics
	fatal      string
	helpers    int
}

func (f *fakeTB) Helper() { f.helpers++ }

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run runs body with a fakeTB on a goroutine of its own, as a test runs,
// and returns the fake once body returned or failed.
func run(body func(tb testing.TB)) *fakeTB {
	f := new(fakeTB)
	done := make(chan struct{})
	go func() {
		defer close(done)
		body(f)
	}()
	<-done
	return f
}

func TestTrueReturnsOnceCondHolds(t *testing.T) {
	calls := 0
	took := True(t, 5*time.Second, func() bool { calls++; return calls == 3 }, "the third check")
	if calls != 3 {
		t.Errorf("cond called %d times, want 3 (no call after it held)", calls)
	}
	// Two sleeps: 1 ms and 1.5 ms.
	if took < 2*time.Millisecond || took > time.Second {
		t.Errorf("took %v, want the two first intervals", took)
	}
}

func TestTrueFailsOnTimeout(t *testing.T) {
	const timeout = 30 * time.Millisecond
	calls := 0
	var start, lastCall time.Time
	returned := false
	f := run(func(tb testing.TB) {
		start = time.Now()
		True(tb, timeout, func() bool { calls++; lastCall = time.Now(); return false }, "peer %s known", "B")
		returned = true
	})
	if returned {
		t.Error("True returned after its Fatalf")
	}
	want := fmt.Sprintf("peer B known: not within 30ms (%d checks)", calls)
	if f.fatal != want {
		t.Errorf("Fatalf(%q), want %q", f.fatal, want)
	}
	if f.helpers == 0 {
		t.Error("True did not call t.Helper: the failure would name the helper's line")
	}
	// The last check is at the bound, not before it and not long after.
	if at := lastCall.Sub(start); at < timeout || at > timeout+time.Second {
		t.Errorf("last check %v after the start, want at the timeout %v", at, timeout)
	}
	if calls < 3 {
		t.Errorf("%d checks in %v: the interval did not start short", calls, timeout)
	}
}

func TestNoErrorFailsWithTheLastError(t *testing.T) {
	calls := 0
	f := run(func(tb testing.TB) {
		NoError(tb, 20*time.Millisecond, func() error { calls++; return fmt.Errorf("check %d: 2 synapses", calls) }, "the chain forgets B")
	})
	want := fmt.Sprintf("the chain forgets B: not within 20ms (%d checks); last error: check %d: 2 synapses", calls, calls)
	if f.fatal != want {
		t.Errorf("Fatalf(%q), want %q", f.fatal, want)
	}
}

func TestNoErrorReturnsOnNil(t *testing.T) {
	calls := 0
	NoError(t, 5*time.Second, func() error {
		if calls++; calls < 4 {
			return errors.New("not yet")
		}
		return nil
	}, "the fourth call")
	if calls != 4 {
		t.Errorf("f called %d times, want 4", calls)
	}
}

func TestStopFailsAtOnce(t *testing.T) {
	calls := 0
	start := time.Now()
	f := run(func(tb testing.TB) {
		NoError(tb, time.Minute, func() error {
			if calls++; calls == 2 {
				return fmt.Errorf("wrapped: %w", Stop(errors.New("neuron B exited")))
			}
			return errors.New("not yet")
		}, "B's step %d", 20)
	})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Stop ended the wait after %v, want at once", took)
	}
	if calls != 2 {
		t.Errorf("f called %d times after Stop, want 2", calls)
	}
	if !strings.HasPrefix(f.fatal, "B's step 20: gave up after ") || !strings.HasSuffix(f.fatal, "(2 checks): neuron B exited") {
		t.Errorf("Fatalf(%q)", f.fatal)
	}
	if Stop(nil) != nil {
		t.Error("Stop(nil) is not nil")
	}
}

func TestZeroTimeoutChecksOnce(t *testing.T) {
	calls := 0
	f := run(func(tb testing.TB) { True(tb, 0, func() bool { calls++; return false }, "now") })
	if calls != 1 || f.fatal != "now: not within 0s (1 checks)" {
		t.Errorf("%d checks, Fatalf(%q); want 1 and a failure", calls, f.fatal)
	}
}

func TestIntervalGrowsToItsCap(t *testing.T) {
	d := firstInterval
	var seq []time.Duration
	for range 14 {
		seq = append(seq, d)
		d = next(d)
	}
	if seq[0] != time.Millisecond || seq[1] != 1500*time.Microsecond {
		t.Errorf("first intervals %v, want 1ms, 1.5ms", seq[:2])
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] < seq[i-1] || seq[i] > maxInterval {
			t.Fatalf("intervals %v do not grow up to %v", seq, maxInterval)
		}
	}
	if last := seq[len(seq)-1]; last != maxInterval {
		t.Errorf("interval after 14 checks %v, want the cap %v", last, maxInterval)
	}
}
