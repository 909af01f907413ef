package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/etcdlocal"
	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/metagraph"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// deadAddr returns a 127.0.0.1 address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// notEtcd starts a gossip metagraph (gRPC, but not etcd) with one synapse
// and returns its address.
func notEtcd(t *testing.T) string {
	t.Helper()
	cfg := metagraph.DefaultConfig()
	cfg.ListenHost, cfg.Port = "127.0.0.1", 0
	key, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	mg, err := metagraph.NewGossip(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := mg.Subscribe(metagraph.NewSynapseDefinition(key.PublicHex(), "127.0.0.1", 8091)); err != nil {
		t.Fatal(err)
	}
	if err := mg.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mg.Stop() })
	return mg.Addr()
}

// An endpoint where no etcd answers (nothing listens, or something else
// does) is one line and exit status 2, for run and for peers, within the
// dial timeout.
func TestChainEndpointUnreachableExits2(t *testing.T) {
	for name, endpoint := range map[string]string{"nothing listens": "etcd://" + deadAddr(t), "not etcd": "etcd://" + notEtcd(t)} {
		for _, args := range [][]string{
			{"run", "mnist", "--serve_only", "--axon_port", "0", "--logdir", t.TempDir(), "--chain_endpoint", endpoint},
			{"peers", "--chain_endpoint", endpoint},
		} {
			start := time.Now()
			code, _, stderr := runCLI(t, args...)
			if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--chain_endpoint: ") || !strings.Contains(stderr, "chain unreachable") {
				t.Errorf("%s, %s: exit %d, stderr %q; want 2 and one line naming --chain_endpoint", name, args[0], code, stderr)
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("%s, %s: took %v", name, args[0], took)
			}
		}
	}
	if code, _, stderr := runCLI(t, "peers"); code != 2 || !strings.Contains(stderr, "either --metagraph") {
		t.Errorf("peers without a source: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "peers", "--metagraph", deadAddr(t), "--timeout", "1s"); code != 2 || !strings.Contains(stderr, "--metagraph: ") {
		t.Errorf("peers at a dead metagraph: exit %d, %q", code, stderr)
	}
}

// peersJSON runs `bittensor peers` with args and decodes its JSON.
func peersJSON(t *testing.T, args ...string) peerList {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"peers"}, args...)...)
	if code != 0 {
		t.Fatalf("peers %v: exit %d: %s", args, code, stderr)
	}
	var list peerList
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("peers %v: %v in %q", args, err, stdout)
	}
	return list
}

// `bittensor peers --metagraph` lists what one gossip exchange tells.
func TestPeersByGossip(t *testing.T) {
	addr := notEtcd(t)
	list := peersJSON(t, "--metagraph", addr)
	if list.Source != addr || len(list.Synapses) != 1 || list.Synapses[0].Address != "127.0.0.1:8091" || list.Synapses[0].Weight != nil {
		t.Fatalf("peers: %+v", list)
	}
	code, stdout, _ := runCLI(t, "peers", "--metagraph", addr, "--format", "table")
	if code != 0 || !strings.HasPrefix(stdout, "1 synapses at "+addr+"\nNEURON") || !strings.Contains(stdout, "127.0.0.1:8091") {
		t.Fatalf("table: exit %d, %q", code, stdout)
	}
}

// Two neurons on a 3-member etcd cluster find each other through it; one
// is killed (SIGKILL) and the other, and `bittensor peers`, forget it within
// its lease's TTL; an etcd member is killed and the network goes on.
func TestNeuronsOnChain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd cluster and two neuron processes")
	}
	cluster, err := etcdlocal.Start(context.Background(), etcdlocal.Options{Members: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	bin := buildBinary(t)
	endpoint := cluster.Endpoint()
	b := startNeuron(t, bin, "neuron B", "--serve_only", "--chain_endpoint", endpoint)
	b.await(t, "the serving line", 60*time.Second, func(l logLine) bool { return strings.HasPrefix(l.Message, "serving only") })
	a := startNeuron(t, bin, "neuron A", "--chain_endpoint", endpoint)
	a.awaitCounts(t, 1, 2, 60*time.Second)

	list := peersJSON(t, "--chain_endpoint", endpoint)
	if len(list.Synapses) != 2 || list.Source != endpoint {
		t.Fatalf("peers lists %+v, want both neurons' synapses", list)
	}
	// A publishes its weights every refresh (100 ms here).
	eventually.NoError(t, 10*time.Second, func() error {
		if len(list.Weights) == 0 || len(list.Synapses) == 0 || list.Synapses[0].Weight == nil {
			list = peersJSON(t, "--chain_endpoint", endpoint)
			return fmt.Errorf("peers lists %+v", list)
		}
		return nil
	}, "weights on the chain")

	// An etcd member dies: the neurons go on (A still routes to B).
	if err := cluster.Kill(0); err != nil {
		t.Fatal(err)
	}
	a.awaitCounts(t, 1, 2, 30*time.Second)

	// B dies: its lease (TTL 2 s) expires and A forgets it.
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	a.awaitCounts(t, 0, 1, 30*time.Second)
	t.Logf("A forgot the killed B after %v", time.Since(killed))
	// A forgets B by the TTL of B's last refresh; etcd deletes B's keys when
	// the lease expires, which its leader checks every 500 ms: the chain
	// may list B a moment longer, never past the bound below.
	eventually.NoError(t, 10*time.Second-time.Since(killed), func() error {
		list = peersJSON(t, "--chain_endpoint", "etcd://"+strings.Join(cluster.Endpoints()[1:], ","))
		if len(list.Synapses) != 1 {
			return fmt.Errorf("%v after B's death peers lists %d synapses, want A's alone", time.Since(killed), len(list.Synapses))
		}
		return nil
	}, "the chain forgets B within 10 s of its death")
	if age := time.Since(killed); age > 10*time.Second {
		t.Errorf("B was forgotten %v after its death, TTL 2 s", age)
	}
}

// A synapse's weight is the mean over the records that list it; ages count
// from the owner's last signature; the table shortens keys.
func TestPeerListWeightsAndTable(t *testing.T) {
	now := time.UnixMilli(10_000)
	n1, s1, s2 := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	defs := []*bittensorpb.Synapse{
		{NeuronKey: n1, SynapseKey: s1, Address: "10.0.0.1", Port: "8091", Nonce: 7_500},
		{NeuronKey: n1, SynapseKey: s2, Address: "10.0.0.2", Port: "8092", Nonce: 10_000},
	}
	matrix := []*metagraph.WeightsRecord{
		{Neuron: n1, Nonce: 1, Weights: []metagraph.SynapseWeight{{Neuron: n1, Synapse: s1, Weight: 0.25}}},
		{Neuron: s2, Nonce: 1, Weights: []metagraph.SynapseWeight{{Neuron: n1, Synapse: s1, Weight: 0.75}}},
	}
	list := newPeerList("etcd://x:1", defs, matrix, now)
	if w := list.Synapses[0].Weight; w == nil || *w != 0.5 || list.Synapses[0].AgeS != 2.5 {
		t.Errorf("first synapse %+v, want mean weight 0.5 and age 2.5 s", list.Synapses[0])
	}
	if list.Synapses[1].Weight != nil {
		t.Errorf("a synapse no record lists has weight %v", *list.Synapses[1].Weight)
	}
	var b strings.Builder
	if err := list.writeTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "2 synapses at etcd://x:1\n" +
		"NEURON    SYNAPSE   ADDRESS        AGE   WEIGHT\n" +
		"aaaaaaaa  bbbbbbbb  10.0.0.1:8091  2.5s  0.5000\n" +
		"aaaaaaaa  cccccccc  10.0.0.2:8092  0s    -\n"
	if b.String() != want {
		t.Errorf("table\n%s\nwant\n%s", b.String(), want)
	}
}
