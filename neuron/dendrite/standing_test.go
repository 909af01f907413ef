package dendrite

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestOutcomeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Outcome
	}{
		{nil, Success},
		{fmt.Errorf("dendrite: x: %w", wire.ErrBadNumbers), BadAnswer},
		{fmt.Errorf("dendrite: shape: %w", errBadAnswer), BadAnswer},
		{fmt.Errorf("dendrite: %w", context.DeadlineExceeded), Timeout},
		{fmt.Errorf("dendrite: 1.2.3.4:5: %w", status.Error(codes.DeadlineExceeded, "late")), Timeout},
		{status.Error(codes.Unavailable, "connection refused"), Failure},
		{errors.New("anything"), Failure},
	} {
		if got := outcomeOf(tc.err); got != tc.want {
			t.Errorf("outcomeOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestBackoffDoublesUpToTheMaximumWithJitter(t *testing.T) {
	cfg := BackoffConfig{BackoffBase: time.Second, BackoffMax: 10 * time.Second, BackoffJitter: 0.5}
	// u = 0.5 draws no jitter: 1, 2, 4, 8, then 10 s from then on.
	for n, want := range []time.Duration{1, 2, 4, 8, 10, 10, 10} {
		if got := backoff(n+1, cfg, 0.5); got != want*time.Second {
			t.Errorf("backoff after %d failures = %v, want %v", n+1, got, want*time.Second)
		}
	}
	// The jitter spreads it over [0.5, 1.5) of the nominal value.
	if lo, hi := backoff(2, cfg, 0), backoff(2, cfg, 0.999); lo != time.Second || hi < 2990*time.Millisecond || hi >= 3*time.Second {
		t.Errorf("jittered backoff after 2 failures spans [%v, %v], want [1s, 3s)", lo, hi)
	}
}

func TestStandingBacksOffAFailingSynapseAndForgivesASuccess(t *testing.T) {
	cfg := BackoffConfig{BackoffBase: time.Second, BackoffMax: time.Minute}
	t0 := time.Unix(1000, 0)
	var s Standing
	if !s.Callable(t0) {
		t.Fatal("a synapse never called is not callable")
	}
	s = s.record(Timeout, t0, cfg, 0.5)
	if s.Callable(t0.Add(999*time.Millisecond)) || !s.Callable(t0.Add(time.Second)) {
		t.Errorf("after one timeout at t0, backoff until %v, want t0+1s", s.BackoffUntil)
	}
	t1 := t0.Add(time.Second)
	s = s.record(BadAnswer, t1, cfg, 0.5) // the probe failed: twice as long
	if s.Callable(t1.Add(1999*time.Millisecond)) || !s.Callable(t1.Add(2*time.Second)) {
		t.Errorf("after a failed probe at t1, backoff until %v, want t1+2s", s.BackoffUntil)
	}
	s = s.record(Failure, t1, cfg, 0.5)
	if s.InARow != 3 || s.Timeouts != 1 || s.BadAnswers != 1 || s.Failures != 1 {
		t.Errorf("standing after three failures: %+v", s)
	}
	s = s.record(Success, t1, cfg, 0.5)
	if s.InARow != 0 || !s.Callable(t1) || s.Successes != 1 {
		t.Errorf("a success does not end the backoff: %+v", s)
	}
}

func TestPeerBookIsBoundedAndKeepsBackoffsUnderAFlood(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newPeerBook(BackoffConfig{BackoffBase: time.Minute, BackoffMax: time.Hour}, func() time.Time { return now }, 4, 1)
	b.record("bad", false, 0, errors.New("refused"))
	if b.callable("bad") {
		t.Fatal("a failed synapse is callable at once")
	}
	for i := range 1000 { // a flood of new synapses that answer
		b.record(fmt.Sprintf("new%d", i), false, time.Millisecond, nil)
	}
	if n := b.len(); n != 4 {
		t.Errorf("the book holds %d synapses, want its bound 4", n)
	}
	if b.callable("bad") {
		t.Error("a flood of new synapses laundered the failing one's backoff away")
	}
	st := b.snapshot()["bad"]
	if st.ForwardFailures != 1 || st.Standing.Failures != 1 || st.LastError == nil {
		t.Errorf("the failing synapse's counters: %+v", st)
	}
}
