package neuron

import (
	"testing"
	"time"
)

func TestRefreshIntervalStaysWithinTheTTL(t *testing.T) {
	for _, c := range []struct{ period, ttl, want time.Duration }{
		{10 * time.Second, 300 * time.Second, 30 * time.Second}, // the defaults
		{50 * time.Millisecond, time.Second, 100 * time.Millisecond},
		{time.Second, 2 * time.Second, time.Second}, // the shortest TTL Validate allows
	} {
		got := refreshInterval(c.period, c.ttl)
		if got != c.want || got < c.period || got >= c.ttl {
			t.Errorf("refreshInterval(%v, %v) = %v, want %v (at least a period, below the TTL)", c.period, c.ttl, got, c.want)
		}
	}
}
