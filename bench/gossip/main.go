// Command gossip measures the Metagraph's gossip: how many rounds a network of
// n members needs until every member knows every synapse, and how many
// received definitions one core can check (proof of work and signature) per
// second. It prints
//
//	gossip-converge: n=16,64,256 rounds=<r16>,<r64>,<r256> log2n=4,6,8
//	gossip-verify: definitions/s=<d>
//
// The networks run in one process over metagraph.MemoryNetwork with a fake clock:
// member i bootstraps from a random earlier member (a random tree, harder than
// everyone bootstrapping from one seed node), and a round lets every member
// gossip once in random order. The rounds reported are the worst of -runs
// seeded runs; the goal is rounds ≤ 2·log2(n)+2. Definitions are refreshed
// every TTL/2 (100 periods) instead of every period, so that proof of work is
// not redone every round (a refresh changes nonces, not which synapses are
// known).
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/opentensor/bittensor-go/neuron/metagraph"
	"github.com/opentensor/bittensor-go/neuron/metagraph/metagraphtest"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

func main() {
	runs := flag.Int("runs", 3, "seeded runs per network size; the worst is reported")
	maxRounds := flag.Int("max-rounds", 100, "give up on a network after this many rounds")
	verifyFor := flag.Duration("verify-for", 2*time.Second, "how long to measure verification")
	flag.Parse()
	if err := run(*runs, *maxRounds, *verifyFor); err != nil {
		fmt.Fprintln(os.Stderr, "gossip:", err)
		os.Exit(1)
	}
}

func run(runs, maxRounds int, verifyFor time.Duration) error {
	if runs < 1 || maxRounds < 1 || verifyFor <= 0 {
		return fmt.Errorf("-runs %d, -max-rounds %d, -verify-for %v: all must be positive", runs, maxRounds, verifyFor)
	}
	sizes := []int{16, 64, 256}
	var rounds, logs []string
	for _, n := range sizes {
		worst := 0
		for seed := 1; seed <= runs; seed++ {
			r, err := converge(n, uint64(seed), maxRounds)
			if err != nil {
				return fmt.Errorf("n=%d seed %d: %w", n, seed, err)
			}
			worst = max(worst, r)
		}
		rounds = append(rounds, strconv.Itoa(worst))
		logs = append(logs, strconv.Itoa(int(math.Ceil(math.Log2(float64(n))))))
	}
	fmt.Printf("gossip-converge: n=%s rounds=%s log2n=%s\n", join(sizes), strings.Join(rounds, ","), strings.Join(logs, ","))

	rate, err := verifyRate(verifyFor)
	if err != nil {
		return err
	}
	fmt.Printf("gossip-verify: definitions/s=%.0f\n", rate)
	return nil
}

// converge builds a network of n members and returns the rounds it takes
// until every member knows all n synapses.
func converge(n int, seed uint64, maxRounds int) (int, error) {
	cfg := metagraph.LocalConfig()
	cfg.TTL = 200 * cfg.Period
	cfg.Refresh = cfg.TTL / 2
	cfg.MaxBatchSynapses = max(cfg.MaxBatchSynapses, n)
	clk := metagraphtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	net := metagraph.NewMemoryNetwork(cfg.MaxMessageBytes)
	rng := rand.New(rand.NewPCG(seed, 7))

	members := make([]*metagraph.Gossip, n)
	addrs := make([]string, n)
	for i := range n {
		c := cfg
		if i > 0 {
			c.Bootstrap = []string{addrs[rng.IntN(i)]}
		}
		addrs[i] = fmt.Sprintf("m%d.bench:8092", i)
		k, err := metagraphtest.LabelKey(fmt.Sprintf("bench %d neuron %d", seed, i))
		if err != nil {
			return 0, err
		}
		mg, err := metagraph.NewGossip(c, k, metagraph.WithTransport(net.Transport(addrs[i])),
			metagraph.WithClock(clk.Now), metagraph.WithRandSeed(seed<<32|uint64(i)))
		if err != nil {
			return 0, err
		}
		defer mg.Stop()
		if err := mg.Listen(); err != nil {
			return 0, err
		}
		sk, err := metagraphtest.LabelKey(fmt.Sprintf("bench %d synapse %d", seed, i))
		if err != nil {
			return 0, err
		}
		if err := mg.Subscribe(metagraph.NewSynapseDefinition(sk.PublicHex(), fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), 8091)); err != nil {
			return 0, err
		}
		members[i] = mg
	}
	ctx := context.Background()
	for r := 1; r <= maxRounds; r++ {
		clk.Advance(cfg.Period)
		for _, i := range rng.Perm(n) {
			_ = members[i].GossipOnce(ctx) // a failed exchange is part of gossip
		}
		if allKnowAll(members, n) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("not converged after %d rounds", maxRounds)
}

func allKnowAll(members []*metagraph.Gossip, n int) bool {
	for _, m := range members {
		if len(m.GetSynapses(2*n)) != n {
			return false
		}
	}
	return true
}

// verifyRate checks distinct definitions signed at the default difficulty on
// one goroutine for about d and returns checks per second.
func verifyRate(d time.Duration) (float64, error) {
	cfg := metagraph.DefaultConfig()
	defs := make([]*bittensorpb.Synapse, 32)
	for i := range defs {
		owner, err := metagraphtest.LabelKey(fmt.Sprintf("verify neuron %d", i))
		if err != nil {
			return 0, err
		}
		sk, err := metagraphtest.LabelKey(fmt.Sprintf("verify synapse %d", i))
		if err != nil {
			return 0, err
		}
		defs[i] = metagraph.NewSynapseDefinition(sk.PublicHex(), "10.0.0.1", 8091)
		if err := metagraph.SignSynapse(defs[i], owner, time.Now().UnixMilli(), cfg.PoWBits); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	count := 0
	for time.Since(start) < d {
		for _, def := range defs {
			if err := metagraph.VerifySynapse(def, cfg.PoWBits); err != nil {
				return 0, err
			}
		}
		count += len(defs)
	}
	return float64(count) / time.Since(start).Seconds(), nil
}

func join(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
