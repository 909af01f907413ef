package neuron

import (
	"strings"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/proto"
)

func TestEndpointOf(t *testing.T) {
	got, err := endpointOf(&bittensorpb.Synapse{Address: "::1", Port: "8091"})
	if err != nil || got != "[::1]:8091" {
		t.Fatalf("endpointOf(::1, 8091) = %q, %v", got, err)
	}
	for _, tc := range []struct {
		s    *bittensorpb.Synapse
		want string
	}{
		{nil, "nil synapse"},
		{&bittensorpb.Synapse{Port: "1"}, "has no address"},
		{&bittensorpb.Synapse{Address: "h", Port: "0"}, `port "0"`},
		{&bittensorpb.Synapse{Address: "h", Port: "65536"}, `port "65536"`},
		{&bittensorpb.Synapse{Address: "h", Port: "x"}, `port "x"`},
		{&bittensorpb.Synapse{Address: "h"}, `port ""`},
	} {
		if _, err := endpointOf(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("endpointOf(%v) error = %v, want %q", tc.s, err, tc.want)
		}
	}
}

func TestNonceBookPerEndpoint(t *testing.T) {
	clock := time.Unix(1_000, 0)
	b := newNonceBook(8, func() time.Time { return clock })
	a1, b1, a2 := b.next("a:1"), b.next("b:1"), b.next("a:1")
	if a1 != clock.UnixNano() || b1 != clock.UnixNano() || a2 != a1+1 {
		t.Fatalf("nonces a, b, a = %d, %d, %d; want each endpoint its own source from the clock %d",
			a1, b1, a2, clock.UnixNano())
	}
	clock = clock.Add(time.Second)
	if got := b.next("a:1"); got != clock.UnixNano() {
		t.Fatalf("nonce after the clock moved = %d, want %d", got, clock.UnixNano())
	}
}

// TestNonceBookNeverGoesBackwards forgets endpoints under a clock that stands
// still and checks that the nonces toward each keep increasing, and that the
// book stays within its bound.
func TestNonceBookNeverGoesBackwards(t *testing.T) {
	const bound, endpoints = 3, 7
	frozen := time.Unix(1_000, 0)
	b := newNonceBook(bound, func() time.Time { return frozen })
	last := make(map[string]int64)
	for round := range 50 {
		e := "h:" + itoa(int64((round*5)%endpoints))
		n := b.next(e)
		if prev, ok := last[e]; ok && n <= prev {
			t.Fatalf("round %d: nonce toward %s = %d after %d", round, e, n, prev)
		}
		last[e] = n
		if len(b.sources) > bound {
			t.Fatalf("round %d: %d nonce sources, over the bound %d", round, len(b.sources), bound)
		}
	}
}
