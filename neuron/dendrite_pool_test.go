package neuron

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

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

func TestConnPoolReusesAndCloses(t *testing.T) {
	p := newConnPool([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, nil)
	a1, err := p.get("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := p.get("127.0.0.1:1")
	b, _ := p.get("127.0.0.1:2")
	if a1 != a2 || a1 == b || p.len() != 2 {
		t.Fatalf("pool: same endpoint shared=%v, distinct endpoints separate=%v, len=%d", a1 == a2, a1 != b, p.len())
	}
	if a1.nonces == b.nonces {
		t.Fatal("endpoints share a nonce source")
	}
	if err := p.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if s := a1.cc.GetState(); s != connectivity.Shutdown {
		t.Fatalf("connection state after close = %v, want Shutdown", s)
	}
	if _, err := p.get("127.0.0.1:1"); !errors.Is(err, errPoolClosed) {
		t.Fatalf("get after close = %v, want errPoolClosed", err)
	}
	if err := p.close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
