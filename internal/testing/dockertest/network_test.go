//go:build dockertest

package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/chaos"
)

// The neurons' settings: gossip every period, forget a definition ttl after
// its owner's last refresh; small steps and frequent log lines so counts show
// soon after they change.
const (
	period = 200 * time.Millisecond
	ttl    = 3 * time.Second
)

// Bounds of the waits: a cold start of three containers on a busy machine,
// forgetting (ttl plus a few gossip rounds and log lines) and healing.
const (
	joinTimeout   = 3 * time.Minute
	forgetTimeout = time.Minute
	healTimeout   = 90 * time.Second
)

// imageUnderTest is BITTENSOR_IMAGE, or the image `make docker-images` builds.
func imageUnderTest() string {
	if image := os.Getenv("BITTENSOR_IMAGE"); image != "" {
		return image
	}
	return "bittensor:cpu"
}

// Three neurons, each in a container with an address of its own on a private
// network, find each other through the first and train together (nP|nS 2|3
// everywhere); one cut off by `docker network disconnect` is forgotten by the
// others within the TTL and, once reconnected, the network heals to 2|3; one
// killed is forgotten within the TTL while the others train on.
func TestNeuronsInContainers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	d := Docker{}
	if err := d.Available(ctx); err != nil {
		t.Skipf("no Docker engine, skipping the multi-host tests: %v", err)
	}
	image := imageUnderTest()
	if !d.HasImage(ctx, image) {
		t.Fatalf("image %s is missing: build it with `make docker-images` (docker/build-image.sh %s)", image, image)
	}
	network := createNetwork(ctx, t, d)

	common := []string{"--axon_port", "8091", "--metagraph_port", "8120",
		"--batch_size", "32", "--log_interval", "5", "--epochs", "100",
		"--metagraph_period", period.String(), "--metagraph_ttl", ttl.String()}
	n1 := runNeuron(ctx, t, d, image, network, 1, common...)
	boot := append([]string{"--bootstrap", n1.IP.String() + ":8120"}, common...)
	n2 := runNeuron(ctx, t, d, image, network, 2, boot...)
	n3 := runNeuron(ctx, t, d, image, network, 3, boot...)
	all := []*Container{n1, n2, n3}

	joined := awaitCounts(t, all, 2, 3, n1.Started, joinTimeout)
	join := joined.Sub(n1.Started)
	t.Logf("join: all three at nP|nS 2|3 %.1f s after the first docker run", join.Seconds())

	cut := time.Now()
	if err := n3.Disconnect(ctx, network); err != nil {
		t.Fatal(err)
	}
	forgotten := awaitForgotten(t, []*Container{n1, n2}, cut, forgetTimeout)
	forgetCut := forgotten.Sub(cut)
	t.Logf("partition: n1 and n2 at 1|2 %.1f s after n3 was disconnected (ttl %v)", forgetCut.Seconds(), ttl)
	awaitCounts(t, []*Container{n3}, 0, 1, cut, forgetTimeout)

	reconnected := time.Now()
	if err := n3.Connect(ctx, network); err != nil {
		t.Fatal(err)
	}
	healed := awaitCounts(t, all, 2, 3, reconnected, healTimeout)
	heal := healed.Sub(reconnected)
	t.Logf("heal: all three at 2|3 %.1f s after n3 was reconnected", heal.Seconds())

	killed := time.Now()
	if err := n2.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	forgotten = awaitForgotten(t, []*Container{n1, n3}, killed, forgetTimeout)
	forgetKill := forgotten.Sub(killed)
	t.Logf("kill: n1 and n3 at 1|2 %.1f s after n2 was killed (ttl %v)", forgetKill.Seconds(), ttl)

	// A line in the form of `go test -bench`, for the README's figures.
	fmt.Printf("BenchmarkDockerNetwork\t1\t%.1f join-s\t%.1f forget-cut-s\t%.1f heal-s\t%.1f forget-kill-s\n",
		join.Seconds(), forgetCut.Seconds(), heal.Seconds(), forgetKill.Seconds())
}

// createNetwork creates a private network with a unique name, removed when
// the test ends (after its containers: cleanups run last first).
func createNetwork(ctx context.Context, t *testing.T, d Docker) *Network {
	t.Helper()
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	network, err := d.CreateNetwork(ctx, "bittensor-dockertest-"+hex.EncodeToString(suffix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := network.Remove(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return network
}

// runNeuron starts neuron i at the network's host address i, removed when
// the test ends; the last lines of its log are shown if the test failed.
func runNeuron(ctx context.Context, t *testing.T, d Docker, image string, network *Network, i int, args ...string) *Container {
	t.Helper()
	c, err := d.RunNeuron(ctx, image, fmt.Sprintf("%s-n%d", network.Name, i), network, network.Host(i), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if t.Failed() {
			if tail, err := c.Tail(ctx, 15); err == nil {
				t.Logf("%s's last lines:\n%s", c.Name, tail)
			}
		}
		if err := c.Remove(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return c
}

// forgetSlack is how long after the TTL a neuron may still count a peer that
// went silent: gossip rounds and a training step or two. On the shared
// 2-core development machine (load 30 to 70) counts of a silent peer were
// seen up to 12 s after a 3 s TTL.
const forgetSlack = 20 * time.Second

// awaitForgotten waits until each container logs nP|nS 1|2 after since, the
// moment one of three neurons went silent, and fails the test if a line
// written later than the TTL plus forgetSlack after since still counts three
// synapses. It returns when the last 1|2 line arrived. (The time to the
// first 1|2 line also holds the wait for a log line: with the steps of a
// busy machine, that can be most of it.)
func awaitForgotten(t *testing.T, cs []*Container, since time.Time, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.After(timeout)
	var last time.Time
	for _, c := range cs {
		l, err := c.Log.Await("nP|nS 1|2", deadline, func(l chaos.Line) error {
			if l.IsStep() && l.Synapses > 2 && l.Arrived.Sub(since) > ttl+forgetSlack {
				return fmt.Errorf("%s still counts %d synapses %.1f s after one of them went silent (ttl %v): %s",
					c.Name, l.Synapses, l.Arrived.Sub(since).Seconds(), ttl, l.Raw)
			}
			return nil
		}, func(l chaos.Line) bool {
			return l.IsStep() && l.Arrived.After(since) && l.Peers == 1 && l.Synapses == 2
		})
		if err != nil {
			t.Fatalf("%v (waited %v since %s)", err, timeout, since.Format(time.TimeOnly))
		}
		if l.Arrived.After(last) {
			last = l.Arrived
		}
	}
	return last
}

// awaitCounts waits until each container logs a training line with nP|nS
// peers|synapses written after since, and returns when the last of them
// arrived.
func awaitCounts(t *testing.T, cs []*Container, peers, synapses int, since time.Time, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.After(timeout)
	var last time.Time
	for _, c := range cs {
		what := fmt.Sprintf("nP|nS %d|%d", peers, synapses)
		l, err := c.Log.Await(what, deadline, nil, func(l chaos.Line) bool {
			return l.IsStep() && l.Arrived.After(since) && l.Peers == peers && l.Synapses == synapses
		})
		if err != nil {
			t.Fatalf("%v (waited %v since %s)", err, timeout, since.Format(time.TimeOnly))
		}
		if l.Arrived.After(last) {
			last = l.Arrived
		}
	}
	return last
}
