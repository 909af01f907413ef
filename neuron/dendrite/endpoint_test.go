package dendrite

import (
	"strings"
	"testing"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
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
