package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/metagraph"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// peersCommand is `bittensor peers`: list a network's synapses, asked of one
// neuron's metagraph (one gossip exchange) or read from the chain.
func peersCommand() *cli.Command {
	return &cli.Command{
		Name:  "peers",
		Usage: "list a network's synapses: owners, addresses, ages and weights",
		Description: "Asks one neuron's metagraph (--metagraph HOST:PORT, one gossip exchange) or reads the chain\n" +
			"(--chain_endpoint etcd://HOST:PORT[,HOST:PORT…]). Every definition is verified (signature,\n" +
			"proof of work, age) before it is listed. A table on a terminal, JSON otherwise.\n" +
			"Weights are the mean of the weights the network's neurons published (chain only).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "metagraph", EnvVars: envVars("metagraph"),
				Usage: "a neuron's metagraph (gossip) address, HOST:PORT"},
			&cli.StringFlag{Name: "chain_endpoint", EnvVars: envVars("chain_endpoint"),
				Usage: "the chain, etcd://HOST:PORT[,HOST:PORT…]"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second,
				Usage: "how long to wait for the metagraph or the chain"},
			&cli.StringFlag{Name: "format", Usage: "table or json (default: table on a terminal, json otherwise)"},
		},
		OnUsageError: onUsageError,
		Action: func(cCtx *cli.Context) error {
			format, err := peersFormat(cCtx.String("format"), cCtx.App.Writer)
			if err != nil {
				return err
			}
			if cCtx.Duration("timeout") <= 0 {
				return &neuron.UsageError{Flag: "timeout", Err: fmt.Errorf("%v, want a positive duration", cCtx.Duration("timeout"))}
			}
			ctx, cancel := context.WithTimeout(cCtx.Context, cCtx.Duration("timeout"))
			defer cancel()
			var list peerList
			switch addr, chain := cCtx.String("metagraph"), cCtx.String("chain_endpoint"); {
			case (addr == "") == (chain == ""):
				return &neuron.UsageError{Err: errors.New("give either --metagraph HOST:PORT or --chain_endpoint etcd://HOST:PORT (see bittensor peers --help)")}
			case addr != "":
				list, err = peersByGossip(ctx, addr)
			default:
				list, err = peersOnChain(ctx, chain, cCtx.Duration("timeout"))
			}
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(cCtx.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			return list.writeTable(cCtx.App.Writer)
		},
	}
}

// peersFormat chooses the output: as asked, else a table on a terminal.
func peersFormat(asked string, w io.Writer) (string, error) {
	switch asked {
	case "table", "json":
		return asked, nil
	case "":
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			return "table", nil
		}
		return "json", nil
	}
	return "", &neuron.UsageError{Flag: "format", Err: fmt.Errorf("%q, want table or json", asked)}
}

// peerList is what `bittensor peers` prints.
type peerList struct {
	// Source is the metagraph address or chain endpoint asked.
	Source   string        `json:"source"`
	Synapses []peerSynapse `json:"synapses"`
	// Weights is the network's weight matrix, one signed record per neuron
	// (chain only).
	Weights []*metagraph.WeightsRecord `json:"weights,omitempty"`
}

// peerSynapse is one synapse of the network.
type peerSynapse struct {
	Neuron  string  `json:"neuron_key"`
	Synapse string  `json:"synapse_key"`
	Address string  `json:"address"`
	AgeS    float64 `json:"age_seconds"` // since its owner last signed it
	// Weight is the mean weight the network's published records give it
	// (absent when no record lists it, and always with gossip).
	Weight *float64 `json:"weight,omitempty"`
}

// peersByGossip makes one gossip exchange with the metagraph at addr, as a
// member with a fresh key that announces nothing, and lists what it answered.
func peersByGossip(ctx context.Context, addr string) (peerList, error) {
	cfg := metagraph.DefaultConfig()
	cfg.Bootstrap = []string{addr}
	if err := cfg.Validate(); err != nil {
		return peerList{}, &neuron.UsageError{Flag: "metagraph", Err: err}
	}
	deadline, _ := ctx.Deadline()
	cfg.GossipTimeout = time.Until(deadline)
	key, err := keys.NewKey()
	if err != nil {
		return peerList{}, err
	}
	mg, err := metagraph.NewGossip(cfg, key)
	if err != nil {
		return peerList{}, err
	}
	defer mg.Stop()
	if err := mg.GossipOnce(ctx); err != nil {
		return peerList{}, &neuron.UsageError{Flag: "metagraph", Err: err}
	}
	return newPeerList(addr, mg.GetSynapses(cfg.Size), nil, time.Now()), nil
}

// peersOnChain reads the chain's definitions and weights.
func peersOnChain(ctx context.Context, endpoint string, timeout time.Duration) (peerList, error) {
	endpoints, err := metagraph.ParseChainEndpoint(endpoint)
	if err != nil {
		return peerList{}, &neuron.UsageError{Flag: "chain_endpoint", Err: err}
	}
	key, err := keys.NewKey()
	if err != nil {
		return peerList{}, err
	}
	ccfg := metagraph.DefaultChainConfig()
	ccfg.Endpoints = endpoints
	ccfg.DialTimeout, ccfg.CallTimeout = min(ccfg.DialTimeout, timeout), min(ccfg.CallTimeout, timeout)
	mg, err := metagraph.NewChain(ctx, metagraph.DefaultConfig(), ccfg, key)
	if errors.Is(err, metagraph.ErrChainUnreachable) {
		return peerList{}, &neuron.UsageError{Flag: "chain_endpoint", Err: err}
	}
	if err != nil {
		return peerList{}, err
	}
	defer mg.Stop()
	if err := mg.Read(ctx); err != nil {
		return peerList{}, err
	}
	return newPeerList(mg.Addr(), mg.GetSynapses(metagraph.DefaultConfig().Size), mg.WeightMatrix(), time.Now()), nil
}

// newPeerList lists defs with their ages at now and their mean weight over
// the weight matrix's rows that list them.
func newPeerList(source string, defs []*bittensorpb.Synapse, matrix []*metagraph.WeightsRecord, now time.Time) peerList {
	type key struct{ neuron, synapse string }
	sum, count := make(map[key]float64), make(map[key]int)
	for _, row := range matrix {
		for _, w := range row.Weights {
			k := key{w.Neuron, w.Synapse}
			sum[k] += w.Weight
			count[k]++
		}
	}
	list := peerList{Source: source, Synapses: make([]peerSynapse, 0, len(defs)), Weights: matrix}
	for _, d := range defs {
		s := peerSynapse{
			Neuron:  d.GetNeuronKey(),
			Synapse: d.GetSynapseKey(),
			Address: d.GetAddress() + ":" + d.GetPort(),
			AgeS:    now.Sub(time.UnixMilli(d.GetNonce())).Seconds(),
		}
		if k := (key{s.Neuron, s.Synapse}); count[k] > 0 {
			mean := sum[k] / float64(count[k])
			s.Weight = &mean
		}
		list.Synapses = append(list.Synapses, s)
	}
	return list
}

// writeTable prints the list for a person: short keys, rounded ages.
func (l peerList) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "%d synapses at %s\n", len(l.Synapses), l.Source)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NEURON\tSYNAPSE\tADDRESS\tAGE\tWEIGHT")
	for _, s := range l.Synapses {
		weight := "-"
		if s.Weight != nil {
			weight = strconv.FormatFloat(*s.Weight, 'f', 4, 64)
		}
		age := time.Duration(s.AgeS * float64(time.Second)).Round(100 * time.Millisecond)
		fmt.Fprintf(tw, "%.8s\t%.8s\t%s\t%v\t%s\n", s.Neuron, s.Synapse, s.Address, max(age, 0), weight)
	}
	return tw.Flush()
}
