//go:build dockertest

package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/chaos"
)

// The seed's two-terminal walkthrough with start_bittensor.sh: a neuron on
// metagraph port M (`-m M`), a second that bootstraps through it (`-b M`),
// each in a container whose ports are published on this host; both reach
// nP|nS 1|2.
func TestStartBittensorWalkthrough(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d := Docker{}
	if err := d.Available(ctx); err != nil {
		t.Skipf("no Docker engine, skipping the container tests: %v", err)
	}
	image := imageUnderTest()
	if !d.HasImage(ctx, image) {
		t.Fatalf("image %s is missing: build it with `make docker-images` (docker/build-image.sh %s)", image, image)
	}
	script, err := filepath.Abs("../../../start_bittensor.sh")
	if err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	prefix := "bittensor-dockertest-" + hex.EncodeToString(suffix)
	port := freePort(t)
	fast := []string{"--", "--batch_size", "32", "--log_interval", "5",
		"--metagraph_period", period.String(), "--metagraph_ttl", ttl.String()}

	t.Setenv("BITTENSOR_IMAGE", image)
	t.Setenv("BITTENSOR_NAME", prefix+"-a")
	started := time.Now()
	a := startScript(t, d, "terminal 1", script, prefix+"-a", append([]string{"-m", port, "-l", t.TempDir()}, fast...)...)
	first, err := a.Await("a training line", time.After(joinTimeout), nil, chaos.Line.IsStep)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start_bittensor.sh to the first training line: %.1f s", first.Arrived.Sub(started).Seconds())
	if first.Peers != 0 || first.Synapses != 1 {
		t.Errorf("first neuron's first line: nP|nS %d|%d, want 0|1", first.Peers, first.Synapses)
	}

	t.Setenv("BITTENSOR_NAME", prefix+"-b")
	b := startScript(t, d, "terminal 2", script, prefix+"-b", append([]string{"-b", port, "-l", t.TempDir()}, fast...)...)
	for _, p := range []*chaos.Process{b, a} {
		if _, err := p.Await("nP|nS 1|2", time.After(joinTimeout), nil, func(l chaos.Line) bool {
			return l.IsStep() && l.Peers == 1 && l.Synapses == 2
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// startScript runs start_bittensor.sh with args, reading the neuron's log
// from its standard error; the container it starts, called name, is removed
// when the test ends.
func startScript(t *testing.T, d Docker, what, script, name string, args ...string) *chaos.Process {
	t.Helper()
	p, err := chaos.Start(what, script, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := &Container{Name: name, docker: d}
		if t.Failed() {
			if tail, err := c.Tail(ctx, 15); err == nil {
				t.Logf("%s's last lines:\n%s", name, tail)
			}
		}
		if err := c.Remove(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return p
}

// freePort returns a TCP port free on this host now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
