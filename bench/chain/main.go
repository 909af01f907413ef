// Command chain measures the chain backend's membership on a local 3-member
// etcd cluster (Debian's etcd-server, started by internal/testing/etcdlocal), next
// to the gossip backend's time to learn of a join, for n = 10, 100, 1000
// registrants. It prints one line per n:
//
//	chain-membership: n=<n> register_p50=<ms> see_join_p50=<ms> see_death_p50=<s> ttl=<s> gossip_see_join=<rounds>×<period>=<s>
//
// Registrants are simulated: goroutines with their own keys and leases
// sharing one etcd client (at most -inflight registering at once), each
// signing a definition (default proof of work, 16 bits), granting a lease
// and putting it (register = grant + put, after signing). One observer, a
// real metagraph.Chain, watches the prefix and verifies every value; a
// join is seen when the observer has verified and stored the definition
// (from the registrant's start, signing excluded), a death when the
// observer sees the delete after the registrant stopped its keep-alive
// (etcd expires the lease after its TTL, so see_death ≈ TTL plus etcd's
// expiry check and the watch).
//
// The gossip figure runs n members on a MemoryNetwork with a fake clock:
// their peer tables first mix for 2·log2(n)+4 rounds, then a newcomer
// bootstraps from a random member and the rounds until all n know its
// synapse are counted, at the default period (10 s) per round.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/opentensor/bittensor-go/internal/testing/etcdlocal"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/metagraph"
	"github.com/opentensor/bittensor-go/neuron/metagraph/metagraphtest"
)

func main() {
	inflight := flag.Int("inflight", 64, "registrants registering at once")
	ttl := flag.Duration("ttl", 3*time.Second, "registrants' lease TTL")
	flag.Parse()
	if err := run(*inflight, *ttl); err != nil {
		fmt.Fprintln(os.Stderr, "chain:", err)
		os.Exit(1)
	}
}

func run(inflight int, ttl time.Duration) error {
	if inflight < 1 || ttl < time.Second {
		return fmt.Errorf("-inflight %d, -ttl %v: want at least 1 and 1s", inflight, ttl)
	}
	ctx := context.Background()
	cluster, err := etcdlocal.Start(ctx, etcdlocal.Options{Members: 3})
	if err != nil {
		return err
	}
	defer cluster.Close()
	for _, n := range []int{10, 100, 1000} {
		r, err := membership(ctx, cluster.Endpoints(), n, inflight, ttl)
		if err != nil {
			return fmt.Errorf("n=%d: %w", n, err)
		}
		rounds, err := gossipJoin(n, uint64(n))
		if err != nil {
			return fmt.Errorf("gossip n=%d: %w", n, err)
		}
		period := metagraph.DefaultConfig().Period
		fmt.Printf("chain-membership: n=%d register_p50=%.1f see_join_p50=%.1f see_death_p50=%.2f ttl=%.0f gossip_see_join=%d×%v=%.0f\n",
			n, ms(r.register), ms(r.join), r.death.Seconds(), ttl.Seconds(), rounds, period, (time.Duration(rounds) * period).Seconds())
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// result holds the medians of one run.
type result struct{ register, join, death time.Duration }

// membership registers n simulated registrants under a fresh prefix while
// an observer Chain watches, then lets their leases expire.
func membership(ctx context.Context, endpoints []string, n, inflight int, ttl time.Duration) (result, error) {
	prefix := fmt.Sprintf("/bench-%d/", n)
	cfg := metagraph.DefaultConfig()
	cfg.Size = n + 16
	// The observer judges refresh times against a TTL longer than the run,
	// so that only the leases decide deaths here.
	cfg.TTL, cfg.Period, cfg.Refresh = 10*time.Minute, time.Second, time.Second
	ccfg := metagraph.DefaultChainConfig()
	ccfg.Endpoints, ccfg.Prefix = endpoints, prefix

	var mu sync.Mutex
	joined, left := make(map[string]time.Time), make(map[string]time.Time)
	allJoined, allLeft := make(chan struct{}), make(chan struct{})
	okey, err := keys.NewKey()
	if err != nil {
		return result{}, err
	}
	observer, err := metagraph.NewChain(ctx, cfg, ccfg, okey, metagraph.WithChainEvents(func(ev metagraph.ChainEvent) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Joined {
			joined[ev.Synapse] = ev.At
			if len(joined) == n {
				close(allJoined)
			}
		} else if _, ok := left[ev.Synapse]; !ok {
			left[ev.Synapse] = ev.At
			if len(left) == n {
				close(allLeft)
			}
		}
	}))
	if err != nil {
		return result{}, err
	}
	defer observer.Stop()
	if err := observer.Start(ctx); err != nil {
		return result{}, err
	}

	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return result{}, err
	}
	defer client.Close()
	regs := make([]*registrant, n)
	for i := range regs {
		if regs[i], err = newRegistrant(fmt.Sprintf("bench %d registrant %d", n, i)); err != nil {
			return result{}, err
		}
	}
	kaCtx, stopKeepAlive := context.WithCancel(ctx)
	defer stopKeepAlive()
	sem := make(chan struct{}, inflight)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for _, r := range regs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- r.register(ctx, kaCtx, client, cfg.PoWBits, prefix, ttl)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return result{}, err
		}
	}
	if err := waitFor(allJoined, 60*time.Second, "every join seen"); err != nil {
		return result{}, err
	}
	killed := time.Now()
	stopKeepAlive() // every registrant dies at once
	if err := waitFor(allLeft, ttl+60*time.Second, "every death seen"); err != nil {
		return result{}, err
	}

	mu.Lock()
	defer mu.Unlock()
	var reg, join, death []time.Duration
	for _, r := range regs {
		reg = append(reg, r.done.Sub(r.start))
		join = append(join, joined[r.synapse].Sub(r.start))
		death = append(death, left[r.synapse].Sub(killed))
	}
	return result{median(reg), median(join), median(death)}, nil
}

func waitFor(ch <-chan struct{}, within time.Duration, what string) error {
	select {
	case <-ch:
		return nil
	case <-time.After(within):
		return fmt.Errorf("%s: not within %v", what, within)
	}
}

// registrant is a simulated neuron: its own key, one synapse, one lease.
type registrant struct {
	key         *keys.Key
	synapse     string
	start, done time.Time
}

func newRegistrant(label string) (*registrant, error) {
	k, err := metagraphtest.LabelKey(label)
	if err != nil {
		return nil, err
	}
	s, err := metagraphtest.LabelKey(label + " synapse")
	if err != nil {
		return nil, err
	}
	return &registrant{key: k, synapse: s.PublicHex()}, nil
}

// register signs the definition, then (timed) grants a lease and puts the
// definition under it, and keeps the lease alive until kaCtx ends.
func (r *registrant) register(ctx, kaCtx context.Context, c *clientv3.Client, powBits int, prefix string, ttl time.Duration) error {
	def := metagraph.NewSynapseDefinition(r.synapse, "10.0.0.1", 8091)
	if err := metagraph.SignSynapse(def, r.key, time.Now().UnixMilli(), powBits); err != nil {
		return err
	}
	key, value, err := metagraph.ChainEntry(prefix, def)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r.start = time.Now()
	lease, err := c.Grant(cctx, int64(math.Ceil(ttl.Seconds())))
	if err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	if _, err := c.Put(cctx, key, string(value), clientv3.WithLease(lease.ID)); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	r.done = time.Now()
	alive, err := c.KeepAlive(kaCtx, lease.ID)
	if err != nil {
		return fmt.Errorf("keep alive: %w", err)
	}
	go func() {
		for range alive {
		}
	}()
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// gossipJoin returns how many gossip rounds pass, in a network of n members
// whose peer tables have mixed, until every member knows a newcomer's
// synapse. Members hold no synapse of their own, so that only the
// newcomer's is verified (n times in all).
func gossipJoin(n int, seed uint64) (int, error) {
	cfg := metagraph.LocalConfig()
	cfg.TTL = 1000 * cfg.Period
	cfg.Refresh = cfg.TTL / 2
	cfg.MaxPeers = max(cfg.MaxPeers, 2*n)
	clk := metagraphtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	net := metagraph.NewMemoryNetwork(cfg.MaxMessageBytes)
	rng := rand.New(rand.NewPCG(seed, 11))
	var members []*metagraph.Gossip
	var addrs []string
	add := func(i int) (*metagraph.Gossip, error) {
		c := cfg
		if i > 0 {
			c.Bootstrap = []string{addrs[rng.IntN(len(addrs))]}
		}
		addr := fmt.Sprintf("m%d.bench:8092", i)
		k, err := metagraphtest.LabelKey(fmt.Sprintf("gossip %d member %d", seed, i))
		if err != nil {
			return nil, err
		}
		mg, err := metagraph.NewGossip(c, k, metagraph.WithTransport(net.Transport(addr)),
			metagraph.WithClock(clk.Now), metagraph.WithRandSeed(seed<<32|uint64(i)))
		if err != nil {
			return nil, err
		}
		if err := mg.Listen(); err != nil {
			return nil, err
		}
		members, addrs = append(members, mg), append(addrs, addr)
		return mg, nil
	}
	defer func() {
		for _, m := range members {
			m.Stop()
		}
	}()
	for i := range n {
		if _, err := add(i); err != nil {
			return 0, err
		}
	}
	ctx := context.Background()
	round := func() {
		clk.Advance(cfg.Period)
		for _, i := range rng.Perm(len(members)) {
			_ = members[i].GossipOnce(ctx) // a failed exchange is part of gossip
		}
	}
	for range 2*int(math.Ceil(math.Log2(float64(n)))) + 4 {
		round()
	}
	newcomer, err := add(n)
	if err != nil {
		return 0, err
	}
	sk, err := metagraphtest.LabelKey(fmt.Sprintf("gossip %d newcomer synapse", seed))
	if err != nil {
		return 0, err
	}
	if err := newcomer.Subscribe(metagraph.NewSynapseDefinition(sk.PublicHex(), "10.0.0.1", 8091)); err != nil {
		return 0, err
	}
	for r := 1; r <= 200; r++ {
		round()
		all := true
		for _, m := range members[:n] {
			if len(m.GetSynapses(2)) != 1 {
				all = false
				break
			}
		}
		if all {
			return r, nil
		}
	}
	return 0, fmt.Errorf("the newcomer was not known to all after 200 rounds")
}
