// Command flood measures how far a flood of large requests raises the resident
// memory of a process serving a real Axon, over 127.0.0.1:
//
//	flood: concurrent=<n> size=64MiB rss_growth=<MiB> ok=<answered> refused=<RESOURCE_EXHAUSTED> slots=<admitted at most>
//
// n callers, each on its own goroutine and spread over several connections,
// send 64 MiB Forwards (signed, valid) to an Axon with the default
// configuration, whose synapse answers a small tensor at once. Every caller
// sends -requests of them in a row. rss_growth is the peak resident memory
// (VmHWM, reset just before the flood) minus the resident memory before it.
// The callers share one encoded payload, so their own memory barely counts.
// The Axon admits at most slots = MaxConcurrent+MaxQueued requests at once and
// refuses the others before reading them, so the growth stays near
// slots × 64 MiB × a small factor however large n is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/internal/procmem"
	"github.com/opentensor/bittensor-go/neuron/axon"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func main() {
	concurrent := flag.Int("concurrent", 32, "callers sending at once")
	requests := flag.Int("requests", 2, "requests each caller sends in a row")
	conns := flag.Int("conns", 4, "client connections the callers share")
	queued := flag.Int("max-queued", axon.DefaultConfig().MaxQueued, "the Axon's MaxQueued")
	flag.Parse()
	if err := run(*concurrent, *requests, *conns, *queued); err != nil {
		fmt.Fprintln(os.Stderr, "bench/flood:", err)
		os.Exit(1)
	}
}

// summary answers one zero per example, whatever the input's width.
type summary struct{ synapse.Base }

func (summary) ForwardTensor(x *torch.Tensor) (*torch.Tensor, error) {
	return torch.Zeros([]int64{x.Shape()[0], 1}), nil
}

// preEncoded is a TensorMessage already encoded: its signed envelope and the
// tensors shared by every request. Two protobuf encodings concatenated decode
// as one message with the fields of both.
type preEncoded struct{ envelope, tensors []byte }

// preEncodedCodec sends preEncoded requests without copying them and decodes
// answers as protobuf; its name keeps the content-subtype "proto".
type preEncodedCodec struct{}

func (preEncodedCodec) Marshal(v any) (mem.BufferSlice, error) {
	p := v.(preEncoded)
	return mem.BufferSlice{mem.SliceBuffer(p.envelope), mem.SliceBuffer(p.tensors)}, nil
}

func (preEncodedCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

func (preEncodedCodec) Name() string { return "proto" }

func run(concurrent, requests, nconns, maxQueued int) error {
	const payload = 64<<20 - 4096 // the whole message stays within 64 MiB
	key, err := keys.NewKey()
	if err != nil {
		return err
	}
	syn := summary{synapse.NewBase(key)}
	cfg := axon.DefaultConfig()
	cfg.Address = "127.0.0.1:0"
	cfg.MaxQueued = maxQueued
	axon, err := axon.New(cfg)
	if err != nil {
		return err
	}
	if err := axon.Serve(syn); err != nil {
		return err
	}
	if err := axon.Start(); err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = axon.Stop(ctx)
	}()

	reqs, err := encodeRequests(syn.Key(), concurrent*requests, payload)
	if err != nil {
		return err
	}
	ccs := make([]*grpc.ClientConn, nconns)
	for i := range ccs {
		if ccs[i], err = grpc.NewClient(axon.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			return err
		}
		defer ccs[i].Close()
	}

	runtime.GC()
	debug.FreeOSMemory()
	before, err := procmem.Resident()
	if err != nil {
		return err
	}
	if err := procmem.ResetPeak(); err != nil {
		return fmt.Errorf("reset the peak resident memory: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var ok, refused atomic.Int64
	errs := make(chan error, concurrent)
	var wg sync.WaitGroup
	for c := range concurrent {
		wg.Go(func() {
			for r := range requests {
				err := ccs[c%nconns].Invoke(ctx, "/Bittensor/Forward", reqs[c*requests+r],
					new(bittensorpb.TensorMessage), grpc.ForceCodecV2(preEncodedCodec{}))
				switch status.Code(err) {
				case codes.OK:
					ok.Add(1)
				case codes.ResourceExhausted:
					refused.Add(1)
				default:
					errs <- fmt.Errorf("caller %d: %w", c, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(collect(errs)...); err != nil {
		return err
	}
	peak, err := procmem.Peak()
	if err != nil {
		return err
	}
	fmt.Printf("flood: concurrent=%d size=64MiB rss_growth=%d ok=%d refused=%d slots=%d\n",
		concurrent, (peak-before)>>20, ok.Load(), refused.Load(), cfg.MaxConcurrent+cfg.MaxQueued)
	return nil
}

func collect(errs <-chan error) []error {
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// encodeRequests returns n signed Forward requests to synapse that share one
// encoded float32 payload of about size bytes.
func encodeRequests(synapse string, n, size int) ([]preEncoded, error) {
	x := torch.Zeros([]int64{16, int64(size / 4 / 16)})
	defer x.Free()
	w, err := wire.SerializeTensor(x, bittensorpb.Modality_TENSOR)
	if err != nil {
		return nil, err
	}
	tensors := []*bittensorpb.Tensor{w}
	shared, err := proto.Marshal(&bittensorpb.TensorMessage{Tensors: tensors})
	if err != nil {
		return nil, err
	}
	key, err := keys.NewKey()
	if err != nil {
		return nil, err
	}
	nonces := wire.NewNonces(nil)
	reqs := make([]preEncoded, n)
	for i := range reqs {
		m := &bittensorpb.TensorMessage{Version: wire.ProtocolVersion, SynapseKey: synapse, Tensors: tensors}
		wire.SignMessage(m, key, nonces.Next())
		m.Tensors = nil
		env, err := proto.Marshal(m)
		if err != nil {
			return nil, err
		}
		reqs[i] = preEncoded{envelope: env, tensors: shared}
	}
	return reqs, nil
}
