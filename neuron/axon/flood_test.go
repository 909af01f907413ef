//go:build linux

package axon_test

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/axon"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/nettest"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/internal/procmem"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// floodSynapse answers a [n, testOut] zero tensor (so that answers stay small) once
// release is closed, after reporting each forward on entered.
type floodSynapse struct {
	synapse.Base
	entered chan struct{}
	release chan struct{}
}

func (s *floodSynapse) ForwardTensor(x *torch.Tensor) (*torch.Tensor, error) {
	s.entered <- struct{}{}
	<-s.release
	return torch.Zeros([]int64{x.Shape()[0], fixture.Out}), nil
}

// preEncoded is a TensorMessage already on the wire: a signed envelope and the
// tensors, shared by every request of the flood, so that the callers hold one
// copy of the payload however many requests send it. Two protobuf encodings
// concatenated decode as one message holding the fields of both.
type preEncoded struct{ envelope, tensors []byte }

// preEncodedCodec sends preEncoded requests as they are and decodes answers
// as protobuf. Its name keeps the content-subtype "proto".
type preEncodedCodec struct{}

func (preEncodedCodec) Marshal(v any) (mem.BufferSlice, error) {
	p := v.(preEncoded)
	return mem.BufferSlice{mem.SliceBuffer(p.envelope), mem.SliceBuffer(p.tensors)}, nil
}

func (preEncodedCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

func (preEncodedCodec) Name() string { return "proto" }

// TestAxonFloodOfLargeRequestsKeepsMemoryBounded sends floodCallers
// concurrent 64 MiB Forwards over several connections to an Axon that admits
// two at a time (one running, one queued), holding the admitted ones in the
// synapse until every other request has been answered. The other requests must
// be refused with RESOURCE_EXHAUSTED without their messages being read: the
// process's peak resident memory (VmHWM, reset before the flood) grows by at
// most what the two admitted requests can take. Without admission before
// the read, gRPC would read every one of them: floodCallers × 64 MiB.
func TestAxonFloodOfLargeRequestsKeepsMemoryBounded(t *testing.T) {
	const (
		floodCallers = 32
		conns        = 4
		payload      = 64<<20 - 4096 // the message, envelope included, stays within 64 MiB
		cols         = payload / 4 / 16
	)
	cfg := axon.DefaultConfig()
	cfg.MaxConcurrent, cfg.MaxQueued = 1, 1
	slots := int64(cfg.MaxConcurrent + cfg.MaxQueued)
	syn := &floodSynapse{Base: synapse.NewBase(fixture.Key(t, 7)),
		entered: make(chan struct{}, floodCallers), release: make(chan struct{})}
	axon, defs := nettest.StartAxon(t, cfg, syn)

	// The requests: one payload, floodCallers signed envelopes.
	x := torch.Zeros([]int64{16, cols})
	defer x.Free()
	w, err := wire.SerializeTensor(x, bittensorpb.Modality_TENSOR)
	if err != nil {
		t.Fatal(err)
	}
	tensors := []*bittensorpb.Tensor{w}
	reqs := make([]preEncoded, floodCallers)
	shared, err := proto.Marshal(&bittensorpb.TensorMessage{Tensors: tensors})
	if err != nil {
		t.Fatal(err)
	}
	key, now := fixture.Key(t, 8), time.Now().UnixNano()
	for i := range reqs {
		m := &bittensorpb.TensorMessage{Version: wire.ProtocolVersion, SynapseKey: syn.Key(), Tensors: tensors}
		wire.SignMessage(m, key, now+int64(i))
		m.Tensors = nil
		env, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = preEncoded{envelope: env, tensors: shared}
	}
	w, tensors = nil, nil // only the encoded payload stays
	ccs := make([]*grpc.ClientConn, conns)
	for i := range ccs {
		if ccs[i], err = grpc.NewClient(axon.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			t.Fatal(err)
		}
		defer ccs[i].Close()
	}

	runtime.GC()
	debug.FreeOSMemory()
	before, err := procmem.Resident()
	if err != nil {
		t.Skipf("no resident memory to measure: %v", err)
	}
	if err := procmem.ResetPeak(); err != nil {
		t.Skipf("cannot reset the peak resident memory: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results := make(chan error, floodCallers)
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			results <- ccs[i%conns].Invoke(ctx, "/Bittensor/Forward", req, new(bittensorpb.TensorMessage),
				grpc.ForceCodecV2(preEncodedCodec{}))
		})
	}
	// Every request but the admitted ones is refused while those are held.
	for range floodCallers - slots {
		if err := <-results; status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("request past the admission = %v, want RESOURCE_EXHAUSTED", err)
		}
	}
	close(syn.release)
	for range slots {
		if err := <-results; err != nil {
			t.Fatalf("admitted request = %v, want success", err)
		}
	}
	wg.Wait()
	peak, err := procmem.Peak()
	if err != nil {
		t.Fatal(err)
	}
	growth := peak - before
	// Per admitted request: its wire bytes as received, the decoded message,
	// the tensor made from it, and garbage the collector has not yet given
	// back (measured: about 3.5 × 64 MiB per admitted request in all).
	const slack = 128 << 20
	bound := slots*4*(64<<20) + slack
	t.Logf("flood: concurrent=%d size=64MiB slots=%d rss_growth=%dMiB bound=%dMiB",
		floodCallers, slots, growth>>20, bound>>20)
	// Under the race detector the bound is not checked: its shadow memory and
	// its disabled buffer pools would count too.
	if growth > bound && !raceEnabled {
		t.Fatalf("peak resident memory grew by %d MiB during the flood, over the bound %d MiB", growth>>20, bound>>20)
	}

	// The Axon still serves a normal request.
	d := nettest.NewDendrite(t, 10*time.Second)
	small := torch.Zeros([]int64{2, 3})
	defer small.Free()
	res, err := d.ForwardTensor(ctx, defs, []*torch.Tensor{small})
	if err != nil || res.Errs[0] != nil {
		t.Fatalf("normal request after the flood: %v, %v", err, res.Errs)
	}
	s := nettest.SettledStats(t, axon.Stats, floodCallers+1)
	if s.Codes[codes.ResourceExhausted] != uint64(floodCallers-slots) || s.Codes[codes.OK] != uint64(slots+1) {
		t.Fatalf("stats codes = %v, want %d RESOURCE_EXHAUSTED and %d OK", s.Codes, floodCallers-slots, slots+1)
	}
}
