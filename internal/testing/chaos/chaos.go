// Package chaos runs a chaos scenario on real neuron processes on
// 127.0.0.1 and reports what the first honest neuron saw. It is shared by
// cmd/bittensor's chaos test, which asserts on the report, and bench/chaos,
// which prints its training rates.
//
// The scenario: honest neurons A, B and C (`bittensor run mnist` with fast
// gossip settings) train together, B and C joined through A. Then a
// byzantine peer (internal/testing/cmd/badpeer --mode mixed) joins, C is SIGKILLed,
// and B is SIGSTOPped for longer than the Dendrite's Forward deadline, then
// SIGCONTed. Every step follows an event in A's log, never a sleep: A sees
// the bad peer (nS up), A forgets C (nS down), A forgets B, B answers A's
// calls again (A's per-step debug line lists B's Axon among those that
// answered). Only B's stop lasts a set time (Config.Hold), since its length
// is the point. Throughout, every loss A logs must be finite and A must keep
// running.
package chaos

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Config sets up a run.
type Config struct {
	// Bittensor and BadPeer are the paths of the built bittensor and
	// badpeer commands.
	Bittensor, BadPeer string
	// Dir is a folder for the neurons' checkpoints.
	Dir string
	// Hold is how long B stays stopped: longer than the Dendrite's Forward
	// deadline (5 s).
	Hold time.Duration
	// Timeout bounds the whole run.
	Timeout time.Duration
	// PhaseLines is how many of A's training lines the before and after
	// phases last.
	PhaseLines int
	// Logf, when set, reports progress.
	Logf func(format string, args ...any)
}

// DefaultConfig returns a run of at most 180 s holding B stopped 6 s.
func DefaultConfig(bittensor, badPeer, dir string) Config {
	return Config{Bittensor: bittensor, BadPeer: badPeer, Dir: dir, Hold: 6 * time.Second,
		Timeout: 180 * time.Second, PhaseLines: 5}
}

// Settings every neuron of the run shares.
const (
	batchSize   = 32
	logInterval = 1
	gossip      = "100ms"
	ttl         = "2s"
)

// Phase is a stretch of A's training.
type Phase struct {
	// Steps is the number of training steps between the phase's first and
	// last training lines, Duration the time between them.
	Steps    int
	Duration time.Duration
	// Lines counts A's training lines in the phase.
	Lines int
	first time.Time
}

// Rate returns the phase's training steps per second (0 with under two lines).
func (p Phase) Rate() float64 {
	if p.Duration <= 0 {
		return 0
	}
	return float64(p.Steps) / p.Duration.Seconds()
}

func (p *Phase) add(l Line) {
	if p.Lines == 0 {
		p.first = l.Arrived
	} else {
		p.Steps += logInterval
		p.Duration = l.Arrived.Sub(p.first)
	}
	p.Lines++
}

// Report is what A saw.
type Report struct {
	// Before is A training with B and C; During runs from the bad peer's
	// start to B answering again; After follows.
	Before, During, After Phase
	// Counts are A's nP|nS at the events: all four in, C forgotten, B
	// forgotten while stopped, B back.
	AllIn, CForgotten, BForgotten, BBack [2]int
	// MaxFailed is the most failed calls one logged step of A counted.
	MaxFailed int
}

// Run runs the scenario and returns A's report; an error says which event
// did not come (or that A logged a loss that is not finite, or ended).
func Run(cfg Config) (*Report, error) {
	begin := time.Now()
	logf := func(format string, args ...any) {
		if cfg.Logf != nil {
			cfg.Logf("%5.1fs "+format, append([]any{time.Since(begin).Seconds()}, args...)...)
		}
	}
	deadline := time.After(cfg.Timeout)
	var procs []*Process
	defer func() {
		for _, p := range slices.Backward(procs) {
			if err := p.Stop(10 * time.Second); err != nil {
				logf("%v", err)
			}
		}
	}()
	start := func(name, bin string, args ...string) (*Process, error) {
		p, err := Start(name, bin, args...)
		if err == nil {
			procs = append(procs, p)
			logf("started %s, pid %d", name, p.PID())
		}
		return p, err
	}
	neuron := func(name string, extra ...string) []string {
		return append([]string{"run", "mnist", "--axon_port", "0", "--metagraph_port", "0",
			"--logdir", filepath.Join(cfg.Dir, name), "--batch_size", fmt.Sprint(batchSize),
			"--log_interval", fmt.Sprint(logInterval), "--epochs", "100",
			"--metagraph_period", gossip, "--metagraph_ttl", ttl}, extra...)
	}
	started := func(l Line) bool { return l.Metagraph != "" && l.Axon != "" }

	r := &Report{}
	phase := &r.Before
	watch := func(l Line) error { // every line of A's
		if !l.IsStep() {
			return nil
		}
		if !l.LocalLoss.Finite() || !l.TargetLoss.Finite() || !l.DistillationLoss.Finite() {
			return fmt.Errorf("chaos: A logged a loss that is not finite: %s", l.Raw)
		}
		r.MaxFailed = max(r.MaxFailed, l.Failed)
		if phase != nil {
			phase.add(l)
		}
		return nil
	}
	step := func(what string, ok func(Line) bool) (Line, error) {
		return procs[0].Await(what, deadline, watch, func(l Line) bool { return l.IsStep() && ok(l) })
	}
	counts := func(l Line) [2]int { return [2]int{l.Peers, l.Synapses} }

	a, err := start("A", cfg.Bittensor, append([]string{"--log_level", "debug"}, neuron("A")...)...)
	if err != nil {
		return nil, err
	}
	phase = nil
	first, err := a.Await("A's neuron started line", deadline, nil, started)
	if err != nil {
		return nil, err
	}
	b, err := start("B", cfg.Bittensor, neuron("B", "--bootstrap", first.Metagraph)...)
	if err != nil {
		return nil, err
	}
	c, err := start("C", cfg.Bittensor, neuron("C", "--bootstrap", first.Metagraph)...)
	if err != nil {
		return nil, err
	}
	bStarted, err := b.Await("B's neuron started line", deadline, nil, started)
	if err != nil {
		return nil, err
	}
	bPort, err := port(bStarted.Axon)
	if err != nil {
		return nil, err
	}
	go drain(b)
	go drain(c)
	if _, err := step("nP|nS: 2|3 (B and C in)", func(l Line) bool { return l.Peers == 2 && l.Synapses == 3 }); err != nil {
		return nil, err
	}
	logf("A trains with B and C")
	phase = &r.Before
	if _, err := step("the before phase", func(Line) bool { return r.Before.Lines >= cfg.PhaseLines }); err != nil {
		return nil, err
	}

	phase = &r.During
	bad, err := start("bad peer", cfg.BadPeer, "--mode", "mixed", "--axon_port", "0", "--metagraph_port", "0",
		"--bootstrap", first.Metagraph, "--metagraph_period", gossip, "--metagraph_ttl", ttl)
	if err != nil {
		return nil, err
	}
	go drain(bad)
	l, err := step("nS: 4 (the bad peer in)", func(l Line) bool { return l.Synapses == 4 })
	if err != nil {
		return nil, err
	}
	r.AllIn = counts(l)
	logf("A sees the bad peer: nP|nS %d|%d", l.Peers, l.Synapses)

	if err := c.Signal(syscall.SIGKILL); err != nil {
		return nil, err
	}
	if l, err = step("nS: 3 (C forgotten)", func(l Line) bool { return l.Synapses == 3 }); err != nil {
		return nil, err
	}
	r.CForgotten = counts(l)
	logf("A forgot C: nP|nS %d|%d", l.Peers, l.Synapses)

	if err := b.Signal(syscall.SIGSTOP); err != nil {
		return nil, err
	}
	resume := time.After(cfg.Hold)
	if l, err = step("nS: 2 (B forgotten while stopped)", func(l Line) bool { return l.Synapses == 2 }); err != nil {
		return nil, err
	}
	r.BForgotten = counts(l)
	logf("A forgot the stopped B: nP|nS %d|%d", l.Peers, l.Synapses)
	if _, err := a.Await("the end of B's stop", resume, watch, func(Line) bool { return false }); err != nil &&
		!errors.Is(err, errTimeout) {
		return nil, err
	}
	if err := b.Signal(syscall.SIGCONT); err != nil {
		return nil, err
	}
	endpoint := "127.0.0.1:" + bPort
	if _, err := a.Await("B answering again", deadline, watch, func(l Line) bool {
		return slices.Contains(l.Answered, endpoint)
	}); err != nil {
		return nil, err
	}
	phase = nil
	if l, err = step("a training line after B's return", func(Line) bool { return true }); err != nil {
		return nil, err
	}
	r.BBack = counts(l)
	logf("B answers A again: nP|nS %d|%d", l.Peers, l.Synapses)

	phase = &r.After
	if _, err := step("the after phase", func(Line) bool { return r.After.Lines >= cfg.PhaseLines }); err != nil {
		return nil, err
	}
	return r, nil
}

// drain reads p's log until it ends, so that p never blocks writing it.
func drain(p *Process) {
	for range p.Lines {
	}
}
