package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// servePeer is the body of `wire -serve-peer`: it serves an identity synapse
// answering after latency on a free local port, prints "<host:port> <key>"
// on stdout, and serves until its standard input closes (the parent ends).
func servePeer(latency time.Duration) error {
	syn, err := newIdentity(latency)
	if err != nil {
		return err
	}
	def, stop, err := startAxon(syn)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("%s %s\n", net.JoinHostPort(def.GetAddress(), def.GetPort()), def.GetSynapseKey())
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// peerProcess is a fan-out peer running in a process of its own.
type peerProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	def   *bittensorpb.Synapse
}

// startPeerProcess starts this program as a peer (servePeer) and waits, at
// most 30 s, for the address it serves on.
func startPeerProcess(latency time.Duration) (*peerProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.Command(self, "-serve-peer", "-peer-latency", latency.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start peer: %w", err)
	}
	p := &peerProcess{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line) // the peer prints nothing else
	}()
	select {
	case l, ok := <-line:
		addr, key, found := strings.Cut(l, " ")
		host, port, err := net.SplitHostPort(addr)
		if !ok || !found || err != nil {
			p.stop()
			return nil, fmt.Errorf("peer process printed %q, want \"host:port key\"", l)
		}
		p.def = &bittensorpb.Synapse{SynapseKey: key, Address: host, Port: port}
		return p, nil
	case <-ctx.Done():
		p.stop()
		return nil, errors.New("peer process did not start within 30 s")
	}
}

// stop closes the peer's standard input, so that it stops serving and exits,
// and waits for it; one that has not exited after 10 s is killed.
func (p *peerProcess) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
