package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/chaos"
)

// logLine holds the fields of a neuron's JSON log line that the benchmark reads.
type logLine struct {
	Message string `json:"message"`
	// Metagraph and Axon are set on the "neuron started" line.
	Metagraph string `json:"metagraph"`
	Axon      string `json:"axon"`
	// Checkpoints is the run's checkpoint folder, on the "training" line.
	Checkpoints string `json:"checkpoints"`
	// Epoch, Seen, Peers and Synapses are set on training lines, Epoch on
	// test lines too.
	Epoch    int `json:"epoch"`
	Seen     int `json:"seen"`
	Peers    int `json:"peers"`
	Synapses int `json:"synapses"`
	// Step, Loss and the accuracies are set on "Test Step" lines.
	Step            int     `json:"step"`
	Loss            float64 `json:"loss"`
	LocalAccuracy   float64 `json:"local_accuracy"`
	NetworkAccuracy float64 `json:"network_accuracy"`
	raw             string
}

// isTrain reports whether l is a training line ("Train Epoch: …").
func (l logLine) isTrain() bool { return strings.HasPrefix(l.Message, "Train Epoch:") }

// isTest reports whether l is a test line written every --test_every steps.
func (l logLine) isTest() bool { return strings.HasPrefix(l.Message, "Test Step:") }

// isStarted reports whether l is the line announcing the neuron's addresses.
func (l logLine) isStarted() bool { return l.Metagraph != "" && l.Axon != "" }

// parseLine reads a JSON log line; a line that is not JSON keeps its text as
// the message.
func parseLine(raw string) logLine {
	var l logLine
	if json.Unmarshal([]byte(raw), &l) != nil {
		l = logLine{Message: raw}
	}
	l.raw = raw
	return l
}

// proc is one bittensor process of a session.
type proc struct {
	name string
	p    *chaos.Process
	// checkpoints is its checkpoint folder, once its "training" line came.
	checkpoints string
	// last is its last log line, for error messages.
	last string
}

// event is a log line of a session's process, or the end of its log.
type event struct {
	from  *proc
	line  logLine
	ended bool
}

// session runs bittensor processes and hands their log lines, in arrival
// order, to the case that started them. close ends every process it
// started (by PID) and the goroutines reading their logs.
type session struct {
	ctx      context.Context
	bin      string
	deadline time.Time
	procs    []*proc
	events   chan event
	done     chan struct{}
	logf     func(format string, args ...any)
	// onTest, when set, receives every "Test Step" line, whoever waits.
	onTest func(p *proc, l logLine)
	// logDir, when set, is a folder where each process's log is copied
	// (to <name>.log, spaces as dashes), to read timeouts and errors later.
	logDir string
}

func newSession(ctx context.Context, bin string, deadline time.Time, logf func(string, ...any)) *session {
	return &session{ctx: ctx, bin: bin, deadline: deadline, events: make(chan event), done: make(chan struct{}), logf: logf}
}

// start runs `bittensor args…` as name.
func (s *session) start(name string, args ...string) (*proc, error) {
	p, err := chaos.Start(name, s.bin, args...)
	if err != nil {
		return nil, err
	}
	pr := &proc{name: name, p: p}
	s.procs = append(s.procs, pr)
	s.logf("started %s (pid %d)", name, p.PID())
	var copyTo *os.File
	if s.logDir != "" {
		path := filepath.Join(s.logDir, strings.ReplaceAll(name, " ", "-")+".log")
		if copyTo, err = os.Create(path); err != nil {
			s.logf("%s's log is not kept: %v", name, err)
		}
	}
	go func() {
		if copyTo != nil {
			defer copyTo.Close()
		}
		for raw := range p.Lines {
			if copyTo != nil {
				fmt.Fprintln(copyTo, raw.Raw)
			}
			select {
			case s.events <- event{from: pr, line: parseLine(raw.Raw)}:
			case <-s.done:
				return
			}
		}
		select {
		case s.events <- event{from: pr, ended: true}:
		case <-s.done:
		}
	}()
	return pr, nil
}

// until hands every log line of the session's processes to each until it
// returns true or an error. A process whose log ends, or the session's
// deadline, is an error.
func (s *session) until(what string, each func(*proc, logLine) (bool, error)) error {
	timer := time.NewTimer(time.Until(s.deadline))
	defer timer.Stop()
	for {
		select {
		case e := <-s.events:
			if e.ended {
				return fmt.Errorf("%s ended before %s; its last line: %s", e.from.name, what, e.from.last)
			}
			e.from.last = e.line.raw
			if e.line.Checkpoints != "" {
				e.from.checkpoints = e.line.Checkpoints
			}
			if e.line.isTest() && s.onTest != nil {
				s.onTest(e.from, e.line)
			}
			ok, err := each(e.from, e.line)
			if err != nil || ok {
				return err
			}
		case <-timer.C:
			return fmt.Errorf("no %s before the deadline (%s)", what, s.deadline.Format(time.TimeOnly))
		case <-s.ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, context.Cause(s.ctx))
		}
	}
}

// awaitStarted waits for p's addresses and returns its metagraph address.
func (s *session) awaitStarted(p *proc) (string, error) {
	var addr string
	err := s.until(p.name+"'s started line", func(from *proc, l logLine) (bool, error) {
		if from == p && l.isStarted() {
			addr = l.Metagraph
			return true, nil
		}
		return false, nil
	})
	return addr, err
}

// close kills the session's processes (by PID) and waits for them.
func (s *session) close() error {
	close(s.done)
	var errs []error
	for _, p := range slices.Backward(s.procs) {
		if err := p.p.Stop(30 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// copyFile copies src to dst (a checkpoint the neuron wrote atomically).
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}
