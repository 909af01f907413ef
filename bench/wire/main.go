// Command wire measures the Bittensor wire on this machine, over 127.0.0.1:
//
//	axon-forward <payload>: p50=<µs> p99=<µs> MB/s=<payload throughput> raw-grpc MB/s=<same bytes echoed by a bare grpc-go server> ratio=<ours/raw>
//	dendrite-fanout: peers=1,4,16 wall=<ms each> ratio16/1=<…>
//
// axon-forward sends one float32 tensor at a time through a Dendrite to an
// Axon serving an identity synapse (so the model costs nothing): signing,
// verification, validation, (de)serialization and the autograd attachment
// included. Next to it, the same TensorMessage bytes go through a bare
// grpc-go server that echoes them back; calls to the two alternate so that
// both see the same load. MB/s counts the payload once per call.
//
// dendrite-fanout times one Dendrite call that fans out to 1, 4 and 16 Axons,
// each in a process of its own (this program run with -serve-peer), with a
// [64,784] float32 input per peer. Each peer's synapse answers after a fixed
// model latency (-peer-latency): the peers share this machine's cores with
// the caller, so real model compute would measure the CPU rather than whether
// the calls overlap. The ratio of the
// median wall times, 16 peers over 1, stays near 1 when they do.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/opentensor/bittensor-go/internal/mallocenv"
	"github.com/opentensor/bittensor-go/neuron/axon"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/wire"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func main() {
	// Run under the malloc settings bittensor runs with (see
	// internal/mallocenv); the peer processes inherit them.
	if err := mallocenv.Reexec(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/wire:", err)
		os.Exit(1)
	}
	duration := flag.Duration("duration", 2*time.Second, "time spent measuring each payload, per server")
	peerLatency := flag.Duration("peer-latency", 20*time.Millisecond, "model latency of each fan-out peer")
	rounds := flag.Int("rounds", 20, "fan-out calls timed per peer count")
	serve := flag.Bool("serve-peer", false, "serve one fan-out peer until standard input closes (used by dendrite-fanout)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file (cgo time shows under its Go callers)")
	flag.Parse()
	if *cpuProfile != "" && !*serve {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/wire:", err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if *serve {
		if err := servePeer(*peerLatency); err != nil {
			fmt.Fprintln(os.Stderr, "bench/wire: peer:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*duration, *peerLatency, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/wire:", err)
		os.Exit(1)
	}
}

func run(duration, peerLatency time.Duration, rounds int) error {
	for _, p := range []struct {
		name  string
		shape []int64
	}{
		{"[64,784]", []int64{64, 784}},
		{"[64,1024]", []int64{64, 1024}},
		{"16MiB", []int64{1024, 4096}},
	} {
		line, err := axonForward(p.name, p.shape, duration)
		if err != nil {
			return fmt.Errorf("axon-forward %s: %w", p.name, err)
		}
		fmt.Println(line)
	}
	line, err := fanout([]int{1, 4, 16}, peerLatency, rounds)
	if err != nil {
		return fmt.Errorf("dendrite-fanout: %w", err)
	}
	fmt.Println(line)
	return nil
}

// identity is a synapse whose output is its input.
type identity struct {
	synapse.Base
	latency time.Duration // waited before answering, standing for a model's compute
}

func (s identity) ForwardTensor(x *torch.Tensor) (*torch.Tensor, error) {
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	return x, nil
}

// newIdentity returns an identity synapse with a fresh key.
func newIdentity(latency time.Duration) (identity, error) {
	k, err := keys.NewKey()
	if err != nil {
		return identity{}, err
	}
	return identity{Base: synapse.NewBase(k), latency: latency}, nil
}

// startAxon serves syn on a free local port; stop ends it.
func startAxon(syn synapse.Synapse) (def *bittensorpb.Synapse, stop func(), err error) {
	cfg := axon.DefaultConfig()
	cfg.Address = "127.0.0.1:0"
	cfg.MaxConcurrent = 64
	a, err := axon.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := a.Serve(syn); err != nil {
		return nil, nil, err
	}
	if err := a.Start(); err != nil {
		return nil, nil, err
	}
	host, port, _ := net.SplitHostPort(a.Addr().String())
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	}
	return &bittensorpb.Synapse{SynapseKey: syn.Key(), Address: host, Port: port}, stop, nil
}

func newDendrite(outputDim int64) (*dendrite.Dendrite, error) {
	k, err := keys.NewKey()
	if err != nil {
		return nil, err
	}
	cfg := dendrite.DefaultConfig()
	cfg.OutputDim = outputDim
	return dendrite.New(k, cfg)
}

// measurePair times calls of a and b for about duration in total (at least 20
// each, after 3 warm-up calls each), alternating between them, and which of
// the two goes first, so that both see the same machine load.
func measurePair(duration time.Duration, a, b func() error) (latA, latB []time.Duration, err error) {
	for range 3 {
		if err := a(); err != nil {
			return nil, nil, err
		}
		if err := b(); err != nil {
			return nil, nil, err
		}
	}
	timed := func(fn func() error, lat *[]time.Duration) error {
		t0 := time.Now()
		if err := fn(); err != nil {
			return err
		}
		*lat = append(*lat, time.Since(t0))
		return nil
	}
	for i, start := 0, time.Now(); i < 20 || time.Since(start) < duration; i++ {
		var errA, errB error
		if i%2 == 0 {
			errA, errB = timed(a, &latA), timed(b, &latB)
		} else {
			errB, errA = timed(b, &latB), timed(a, &latA)
		}
		if err := errors.Join(errA, errB); err != nil {
			return nil, nil, err
		}
	}
	return latA, latB, nil
}

// quantile returns the q-quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// throughput returns payload megabytes (10^6 bytes) per second over the calls.
func throughput(payload int64, lat []time.Duration) float64 {
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	return float64(payload) * float64(len(lat)) / total.Seconds() / 1e6
}

func axonForward(name string, shape []int64, duration time.Duration) (string, error) {
	syn, err := newIdentity(0)
	if err != nil {
		return "", err
	}
	def, stop, err := startAxon(syn)
	if err != nil {
		return "", err
	}
	defer stop()
	d, err := newDendrite(shape[1])
	if err != nil {
		return "", err
	}
	defer d.Close()
	x := torch.Rand(shape)
	payload := x.Numel() * 4
	ctx := context.Background()
	ours := func() error {
		res, err := d.ForwardTensor(ctx, []*bittensorpb.Synapse{def}, []*torch.Tensor{x})
		if err != nil {
			return err
		}
		return res.Errs[0]
	}
	raw, stopRaw, err := rawEcho(x)
	if err != nil {
		return "", err
	}
	defer stopRaw()
	oursLat, rawLat, err := measurePair(duration, ours, raw)
	if err != nil {
		return "", err
	}
	slices.Sort(oursLat)
	mbs, rawMBs := throughput(payload, oursLat), throughput(payload, rawLat)
	return fmt.Sprintf("axon-forward %s: p50=%d p99=%d MB/s=%.1f raw-grpc MB/s=%.1f ratio=%.2f",
		name, quantile(oursLat, 0.5).Microseconds(), quantile(oursLat, 0.99).Microseconds(), mbs, rawMBs, mbs/rawMBs), nil
}

// echo is a bare grpc-go Bittensor server that answers Forward with its request.
type echo struct {
	bittensorpb.UnimplementedBittensorServer
}

func (echo) Forward(_ context.Context, req *bittensorpb.TensorMessage) (*bittensorpb.TensorMessage, error) {
	return req, nil
}

// rawEcho returns a call that sends the TensorMessage the Dendrite sends for x
// (signed, same bytes) to a bare grpc-go server with the same message size
// limits, which echoes it back; stop ends the server.
func rawEcho(x *torch.Tensor) (call func() error, stop func(), err error) {
	const maxMsg = 64 << 20
	s := grpc.NewServer(grpc.MaxRecvMsgSize(maxMsg), grpc.MaxSendMsgSize(maxMsg))
	bittensorpb.RegisterBittensorServer(s, echo{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.Serve(lis)
	}()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)))
	stop = func() {
		if cc != nil {
			cc.Close()
		}
		s.Stop()
		<-served
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	w, err := wire.SerializeTensor(x, bittensorpb.Modality_TENSOR)
	if err != nil {
		stop()
		return nil, nil, err
	}
	k, err := keys.NewKey()
	if err != nil {
		stop()
		return nil, nil, err
	}
	req := &bittensorpb.TensorMessage{Version: wire.ProtocolVersion, SynapseKey: k.PublicHex(), Tensors: []*bittensorpb.Tensor{w}}
	wire.SignMessage(req, k, 1)
	client := bittensorpb.NewBittensorClient(cc)
	return func() error {
		_, err := client.Forward(context.Background(), req)
		return err
	}, stop, nil
}

func fanout(peerCounts []int, latency time.Duration, rounds int) (string, error) {
	most := slices.Max(peerCounts)
	defs := make([]*bittensorpb.Synapse, most)
	for i := range defs {
		p, err := startPeerProcess(latency)
		if err != nil {
			return "", err
		}
		defer p.stop()
		defs[i] = p.def
	}
	d, err := newDendrite(784)
	if err != nil {
		return "", err
	}
	defer d.Close()
	walls := make([]time.Duration, len(peerCounts))
	for i, n := range peerCounts {
		inputs := make([]*torch.Tensor, n)
		for j := range inputs {
			inputs[j] = torch.Rand([]int64{64, 784})
		}
		var lat []time.Duration
		for r := range rounds + 3 {
			t0 := time.Now()
			res, err := d.ForwardTensor(context.Background(), defs[:n], inputs)
			if err != nil {
				return "", err
			}
			if res.Failed() > 0 {
				return "", fmt.Errorf("%d of %d peers failed: %v", res.Failed(), n, res.Errs)
			}
			if r >= 3 { // the first rounds open the connections
				lat = append(lat, time.Since(t0))
			}
		}
		slices.Sort(lat)
		walls[i] = quantile(lat, 0.5)
	}
	counts, ms := make([]string, len(peerCounts)), make([]string, len(walls))
	for i := range walls {
		counts[i] = fmt.Sprint(peerCounts[i])
		ms[i] = fmt.Sprintf("%.1f", float64(walls[i].Microseconds())/1000)
	}
	return fmt.Sprintf("dendrite-fanout: peers=%s wall=%sms ratio%d/%d=%.2f",
		strings.Join(counts, ","), strings.Join(ms, ","), most, peerCounts[0],
		float64(walls[len(walls)-1])/float64(walls[0])), nil
}
