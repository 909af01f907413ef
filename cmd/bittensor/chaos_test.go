package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/chaos"
)

// builtBadPeer builds internal/testing/cmd/badpeer once per test run, next to the
// bittensor command (TestMain removes both).
var builtBadPeer = sync.OnceValues(func() (string, error) {
	bin, err := builtBinary()
	if err != nil {
		return "", err
	}
	out := filepath.Join(filepath.Dir(bin), "badpeer")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if msg, err := exec.CommandContext(ctx, "go", "build", "-o", out, "../../internal/testing/cmd/badpeer").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build badpeer: %w\n%s", err, msg)
	}
	return out, nil
})

// Three honest neurons and a byzantine one: A keeps training with finite
// losses while the bad peer answers garbage, C is killed, and B is stopped
// past the Forward deadline and resumed; A forgets C and the stopped B, and
// routes to B again once it answers. Each stage waits on an event in A's
// log (see package internal/testing/chaos); the run is bounded by 180 s.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four neuron processes")
	}
	bin := buildBinary(t)
	bad, err := builtBadPeer()
	if err != nil {
		t.Fatal(err)
	}
	cfg := chaos.DefaultConfig(bin, bad, t.TempDir())
	cfg.Logf = t.Logf
	r, err := chaos.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name string
		ph   chaos.Phase
	}{{"before", r.Before}, {"during", r.During}, {"after", r.After}} {
		if p.ph.Lines < 2 {
			t.Errorf("A logged %d training lines %s the chaos, want at least 2", p.ph.Lines, p.name)
		}
	}
	t.Logf("A's nP|nS: %v all in, %v without C, %v without the stopped B, %v with B back; at most %d failed calls a step",
		r.AllIn, r.CForgotten, r.BForgotten, r.BBack, r.MaxFailed)
	t.Logf("A's steps/s: before %.1f, during %.1f, after %.1f", r.Before.Rate(), r.During.Rate(), r.After.Rate())
}
