// Package dockertest runs bittensor neurons in Docker containers, each with an
// address of its own on a private Docker network, for the multi-host tests
// (`make docker-test`, build tag dockertest): containers are hosts, `docker
// kill` is a crash and `docker network disconnect` a partition.
//
// It drives the docker command line, so it needs nothing but a Docker engine
// and the image under test (docker/Dockerfile, built by `make docker-images`):
//
//	d := dockertest.Docker{}
//	if err := d.Available(ctx); err != nil { /* no engine: skip */ }
//	net, _ := d.CreateNetwork(ctx, "bittensor-dockertest-"+suffix)
//	defer net.Remove(context.Background())
//	n1, _ := d.RunNeuron(ctx, "bittensor:cpu", net.Name+"-n1", net, net.Host(1), "--metagraph_port", "8120")
//	defer n1.Remove(context.Background())
//	n1.Log.Await(...) // the neuron's JSON log lines, as internal/testing/chaos reads them
package dockertest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/chaos"
)

// Docker runs docker commands.
type Docker struct {
	// Bin is the docker command; empty means "docker" on PATH.
	Bin string
}

func (d Docker) bin() string {
	if d.Bin == "" {
		return "docker"
	}
	return d.Bin
}

// run runs docker with args and returns its standard output, trimmed; the
// error carries what docker wrote.
func (d Docker) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.bin(), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Available returns nil when a Docker engine answers, or why not.
func (d Docker) Available(ctx context.Context) error {
	if _, err := exec.LookPath(d.bin()); err != nil {
		return fmt.Errorf("dockertest: no docker command: %w", err)
	}
	_, err := d.run(ctx, "info", "--format", "{{.ServerVersion}}")
	return err
}

// HasImage reports whether the engine holds image.
func (d Docker) HasImage(ctx context.Context, image string) bool {
	_, err := d.run(ctx, "image", "inspect", image)
	return err == nil
}

// Network is a private (internal) bridge network of the engine with a subnet
// of its own.
type Network struct {
	Name   string
	Subnet netip.Prefix
	docker Docker
}

// networkAttempts bounds the subnets CreateNetwork tries.
const networkAttempts = 20

// CreateNetwork creates an internal bridge network named name on a random
// /24 in 10.0.0.0/8, trying another when the engine says one overlaps a
// network it has.
func (d Docker) CreateNetwork(ctx context.Context, name string) (*Network, error) {
	var last error
	for range networkAttempts {
		n, err := rand.Int(rand.Reader, big.NewInt(1<<16))
		if err != nil {
			return nil, fmt.Errorf("dockertest: random subnet: %w", err)
		}
		v := n.Uint64()
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(v >> 8), byte(v), 0}), 24)
		_, err = d.run(ctx, "network", "create", "--driver", "bridge", "--internal",
			"--subnet", subnet.String(), "--label", "org.opentensor.bittensor.test=dockertest", name)
		if err == nil {
			return &Network{Name: name, Subnet: subnet, docker: d}, nil
		}
		if !strings.Contains(err.Error(), "overlap") {
			return nil, fmt.Errorf("dockertest: %w", err)
		}
		last = err
	}
	return nil, fmt.Errorf("dockertest: no free subnet after %d tries: %w", networkAttempts, last)
}

// Host returns the i-th fixed host address of the network (10 + i in its
// last byte, clear of the gateway at 1).
func (n *Network) Host(i int) netip.Addr {
	b := n.Subnet.Addr().As4()
	b[3] = byte(10 + i)
	return netip.AddrFrom4(b)
}

// Remove removes the network (its containers must be gone).
func (n *Network) Remove(ctx context.Context) error {
	_, err := n.docker.run(ctx, "network", "rm", n.Name)
	return err
}

// Container is a neuron running in a container, whose log is read as it is
// written.
type Container struct {
	Name string
	// IP is the address the neuron has on the network it was started on and
	// announces to its peers.
	IP netip.Addr
	// Started is when `docker run` was called.
	Started time.Time
	// Log is `docker logs -f` of the container: the neuron's JSON lines
	// (Log.Lines ends when the container stops).
	Log    *chaos.Process
	docker Docker
}

// RunNeuron starts `bittensor run mnist --remote_ip IP args...` from image in
// a detached container called name, at address ip on network, and follows
// its log. The image's entrypoint must be bittensor.
func (d Docker) RunNeuron(ctx context.Context, image, name string, network *Network, ip netip.Addr, args ...string) (*Container, error) {
	if !network.Subnet.Contains(ip) {
		return nil, fmt.Errorf("dockertest: %s is not in %s's subnet %s", ip, network.Name, network.Subnet)
	}
	run := append([]string{"run", "--detach", "--name", name, "--network", network.Name, "--ip", ip.String(),
		"--label", "org.opentensor.bittensor.test=dockertest",
		image, "run", "mnist", "--remote_ip", ip.String()}, args...)
	c := &Container{Name: name, IP: ip, Started: time.Now(), docker: d}
	if _, err := d.run(ctx, run...); err != nil {
		// A container may exist even though run failed (e.g. it could not start).
		_, _ = d.run(context.WithoutCancel(ctx), "rm", "--force", name)
		return nil, fmt.Errorf("dockertest: %w", err)
	}
	log, err := chaos.Start(name, d.bin(), "logs", "--follow", name)
	if err != nil {
		_, _ = d.run(context.WithoutCancel(ctx), "rm", "--force", name)
		return nil, fmt.Errorf("dockertest: follow %s's log: %w", name, err)
	}
	c.Log = log
	return c, nil
}

// Kill sends SIGKILL to the neuron: a crash, as a host that loses power.
func (c *Container) Kill(ctx context.Context) error {
	_, err := c.docker.run(ctx, "kill", c.Name)
	return err
}

// Disconnect takes the container off network: a partition.
func (c *Container) Disconnect(ctx context.Context, network *Network) error {
	_, err := c.docker.run(ctx, "network", "disconnect", network.Name, c.Name)
	return err
}

// Connect puts the container back on network at its address.
func (c *Container) Connect(ctx context.Context, network *Network) error {
	_, err := c.docker.run(ctx, "network", "connect", "--ip", c.IP.String(), network.Name, c.Name)
	return err
}

// Remove stops and removes the container and stops following its log.
func (c *Container) Remove(ctx context.Context) error {
	_, err := c.docker.run(ctx, "rm", "--force", c.Name)
	if err != nil && strings.Contains(err.Error(), "No such container") {
		err = nil // never started, or already removed
	}
	if c.Log != nil {
		// The log ends with the container; stop the follower if it does not.
		err = errors.Join(err, c.Log.Stop(10*time.Second))
	}
	return err
}

// Tail returns the last n lines the container wrote.
func (c *Container) Tail(ctx context.Context, n int) (string, error) {
	cmd := exec.CommandContext(ctx, c.docker.bin(), "logs", "--tail", fmt.Sprint(n), c.Name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker logs %s: %w: %s", c.Name, err, out)
	}
	return string(out), nil
}
