// Command probe tests a neuron's checkpoint against the MNIST test set with
// chosen contexts, to see what the network path is made of: the local path
// (the student's context), the network path as the neuron's router gates
// it (the gated sum of the encodings of its own model and its peers'),
// and the network path with only its own encoding, only a peer's, or equal
// gates. The peers' encodings come from their checkpoints.
//
//	go run ./bench/learning/probe -data DIR -ckpt A.ckpt -peer B.ckpt [-peer C.ckpt]
//
// The router's key rows are matched to the checkpoints by neuron key: each
// checkpoint's own synapse is the router row of its neuron's key (-keys
// gives the neuron keys in the order -ckpt, -peer…, hex prefixes).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/opentensor/bittensor-go/examples/mnist"
	"github.com/opentensor/bittensor-go/neuron/router"
	"github.com/opentensor/bittensor-go/neuron/synapse"
	"github.com/opentensor/bittensor-go/neuron/trainer"
	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
	"github.com/opentensor/bittensor-go/torch/optim"
)

type peersFlag []string

func (p *peersFlag) String() string     { return strings.Join(*p, ",") }
func (p *peersFlag) Set(s string) error { *p = append(*p, s); return nil }

// loaded is one neuron's checkpoint: its model, and its router's query
// weights, keys and key-row owners.
type loaded struct {
	model        *mnist.Model
	qw, qb, keys *torch.Tensor
	owners       []string
}

// load reads the checkpoint at path, with or without the context read-out
// as the neuron that saved it ran.
func load(path string) (*loaded, error) {
	names, err := torch.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	_, readout := names["model.context_readout.weight"]
	for _, v := range names {
		v.Free()
	}
	m := mnist.NewModelWith(mnist.ModelOptions{ContextReadout: readout})
	r, err := router.New(mnist.ContextDim, 100, 10)
	if err != nil {
		return nil, err
	}
	opt, err := optim.NewSGD(append(nn.Parameters(m), nn.Parameters(r)...), optim.SGDOptions{LR: 0.01, Momentum: 0.9})
	if err != nil {
		return nil, err
	}
	defer opt.Close()
	ts, err := optim.LoadCheckpoint(path, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	model := map[string]*torch.Tensor{}
	for name, v := range ts {
		if s, ok := strings.CutPrefix(name, "model."); ok {
			model[s] = v
		}
	}
	if err := nn.LoadStateDict(m, model); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, name := range []string{"router.query.weight", "router.query.bias", "router.keys", "meta.router_slots"} {
		if ts[name] == nil {
			return nil, fmt.Errorf("%s: no %s: not a checkpoint of an MNIST neuron", path, name)
		}
	}
	owners, err := ts["meta.router_slots"].Uint8s()
	if err != nil {
		return nil, fmt.Errorf("%s: router slots: %w", path, err)
	}
	nn.Eval(m)
	return &loaded{model: m, qw: ts["router.query.weight"], qb: ts["router.query.bias"], keys: ts["router.keys"],
		owners: strings.Split(string(owners), "\n")}, nil
}

// row returns the router row owned by the neuron whose key starts with key.
func (l *loaded) row(key string) (int64, error) {
	if key == "" {
		return 0, fmt.Errorf("empty neuron key")
	}
	for i, o := range l.owners {
		if o != "" && strings.HasPrefix(o, key) {
			return int64(i), nil
		}
	}
	return 0, fmt.Errorf("no router row for neuron %s (owners %q…)", key, l.owners[:min(4, len(l.owners))])
}

func main() {
	var peers peersFlag
	data := flag.String("data", "", "MNIST folder (idx files)")
	ckpt := flag.String("ckpt", "", "the neuron's checkpoint")
	flag.Var(&peers, "peer", "a peer's checkpoint (repeat)")
	keysFlag := flag.String("keys", "", "comma-separated neuron key prefixes: the neuron's, then each peer's")
	flag.Parse()
	if err := run(*data, *ckpt, peers, strings.Split(*keysFlag, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run(data, ckpt string, peerPaths, keys []string) error {
	if len(keys) != 1+len(peerPaths) {
		return fmt.Errorf("-keys: %d keys for %d checkpoints", len(keys), 1+len(peerPaths))
	}
	self, err := load(ckpt)
	if err != nil {
		return err
	}
	all := []*loaded{self}
	for _, p := range peerPaths {
		l, err := load(p)
		if err != nil {
			return err
		}
		all = append(all, l)
	}
	var rows []int64
	for _, k := range keys {
		r, err := self.row(k)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	dir, err := mnist.FindData(context.Background(), data)
	if err != nil {
		return err
	}
	_, test, err := mnist.Load(dir)
	if err != nil {
		return err
	}
	loader, err := mnist.NewLoader(test, 500, false, 0)
	if err != nil {
		return err
	}
	n := len(all)
	// Contexts: gated (the router), own only, each peer only, equal gates.
	names := []string{"local (student)", "network (router's gates)", "own encoding only"}
	for i := 1; i < n; i++ {
		names = append(names, fmt.Sprintf("peer %d's encoding only", i))
	}
	names = append(names, "equal gates")
	right := make([]float64, len(names))
	gateSum := make([]float64, n)
	total := 0
	for b := range loader.Tensors().Epoch(context.Background(), 0) {
		var err error
		torch.NoGrad(func() { err = probeBatch(self, all, rows, b, right, gateSum) })
		if err != nil {
			return err
		}
		total += int(b.Targets.Size(0))
	}
	fmt.Printf("%d test images\n", total)
	for i, name := range names {
		fmt.Printf("%-28s %.2f%%\n", name, 100*right[i]/float64(total))
	}
	fmt.Printf("mean gate: own %.3f", gateSum[0]/float64(total))
	for i := 1; i < n; i++ {
		fmt.Printf(", peer %d %.3f", i, gateSum[i]/float64(total))
	}
	fmt.Println()
	return nil
}

func probeBatch(self *loaded, all []*loaded, rows []int64, b trainer.Batch, right, gateSum []float64) error {
	x, y := b.Inputs, b.Targets
	var enc []*torch.Tensor
	for _, l := range all {
		enc = append(enc, l.model.Encode(x))
	}
	// The router's gates, as Router.route computes them (k ≥ n here).
	query := enc[0].Matmul(self.qw.T()).Add(self.qb)
	gates := query.Matmul(self.keys.IndexSelect(0, torch.FromInt64(rows)).T()).Softmax(1) // [batch, n]
	mix := func(w func(i int) *torch.Tensor) *torch.Tensor {
		out := enc[0].Mul(w(0))
		for i := 1; i < len(enc); i++ {
			out = out.Add(enc[i].Mul(w(i)))
		}
		return out
	}
	column := func(i int) *torch.Tensor { return gates.Narrow(1, int64(i), 1) }
	equal := func(int) *torch.Tensor { return torch.FromFloat32([]float32{1 / float32(len(enc))}) }
	contexts := []*torch.Tensor{nil, mix(column)}
	contexts = append(contexts, enc...)
	contexts = append(contexts, mix(equal))
	count := func(logp *torch.Tensor) (float64, error) { return logp.Argmax(1, false).Eq(y).Sum().Item() }
	for i, c := range contexts {
		var out *synapse.Output
		if c == nil {
			out = self.model.Forward(x, enc[0], nil) // its local path ignores the context given
			v, err := count(out.LocalTarget)
			if err != nil {
				return err
			}
			right[i] += v
			continue
		}
		out = self.model.Forward(x, c, nil)
		v, err := count(out.NetworkTarget)
		if err != nil {
			return err
		}
		right[i] += v
	}
	g, err := gates.Sum(0).Float32s()
	if err != nil {
		return err
	}
	for i, v := range g {
		gateSum[i] += float64(v)
	}
	return nil
}
