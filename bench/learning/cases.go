package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// setup is what every case of a benchmark run shares.
type setup struct {
	// bin is the built bittensor command, data the --data_dir folder,
	// work a folder for logs, keys and checkpoints.
	bin, data, work string
	// steps, pairSteps and newcomerSteps are how far the solo, pair and
	// newcomer runs train (their last test pass).
	steps, pairSteps, newcomerSteps int
	// interval is --test_every.
	interval int
	// batch is --batch_size, epochLen the steps of one epoch.
	batch, epochLen int
	// pretrainEpochs is how many epochs the pair trains before a newcomer
	// joins it.
	pretrainEpochs int
	// gossip and ttl are --metagraph_period and --metagraph_ttl.
	gossip, ttl string
	// extra are flags given to every neuron (a recipe option, say).
	extra []string
	// logs, when set, is a folder where every neuron's log is kept, in
	// seed-<s>/<case>/<name>.log.
	logs string
	logf func(format string, args ...any)
}

// neuronArgs returns the command line of a neuron of the benchmark: its
// key file, its checkpoint folder, its seed, and extra flags.
func (s *setup) neuronArgs(key, logdir string, seed uint64, extra ...string) []string {
	args := []string{"run", "mnist", "--axon_port", "0", "--metagraph_port", "0",
		"--logdir", logdir, "--neuron_key", key,
		"--data_dir", s.data, "--batch_size", strconv.Itoa(s.batch), "--epochs", "1000",
		"--log_interval", "10", "--metagraph_period", s.gossip, "--metagraph_ttl", s.ttl,
		"--seed", strconv.FormatUint(seed, 10)}
	args = append(args, s.extra...)
	return append(args, extra...)
}

// session starts a session for case c and seed, keeping its logs under
// s.logs when set.
func (s *setup) session(ctx context.Context, c string, seed uint64, deadline time.Time) (*session, error) {
	sess := newSession(ctx, s.bin, deadline, s.logf)
	if s.logs != "" {
		sess.logDir = filepath.Join(s.logs, "seed-"+strconv.FormatUint(seed, 10), c)
		if err := os.MkdirAll(sess.logDir, 0o755); err != nil {
			return nil, fmt.Errorf("log folder: %w", err)
		}
	}
	return sess, nil
}

// stepOf returns the steps a neuron had trained when it wrote training line l.
func (s *setup) stepOf(l logLine) int { return l.Epoch*s.epochLen + l.Seen/s.batch }

// caseDir makes and returns the folder of one case and seed.
func (s *setup) caseDir(c string, seed uint64) (string, error) {
	dir := filepath.Join(s.work, "seed-"+strconv.FormatUint(seed, 10), c)
	return dir, os.MkdirAll(dir, 0o755)
}

// keyFile is the key file of the neuron name for seed: the pair's neurons
// keep theirs when they come back pre-trained for the newcomer.
func (s *setup) keyFile(seed uint64, name string) string {
	return filepath.Join(s.work, "seed-"+strconv.FormatUint(seed, 10), name+".key")
}

// recorder returns a session hook keeping the test lines of the neurons
// named in track, up to step last, as records of case c.
func (s *setup) recorder(c string, seed uint64, last int, out *[]record, track map[*proc]string) func(*proc, logLine) {
	return func(p *proc, l logLine) {
		name, ok := track[p]
		if !ok || l.Step > last {
			return
		}
		*out = append(*out, record{Case: c, Seed: seed, Neuron: name, Step: l.Step,
			Local: l.LocalAccuracy, Network: l.NetworkAccuracy, Loss: l.Loss})
		s.logf("%s seed %d %s step %d: local %s network %s", c, seed, name, l.Step,
			percent(l.LocalAccuracy), percent(l.NetworkAccuracy))
	}
}

// solo trains one neuron from scratch, alone, for s.steps steps.
func (s *setup) solo(ctx context.Context, seed uint64, deadline time.Time) (out []record, err error) {
	dir, err := s.caseDir(caseSolo, seed)
	if err != nil {
		return nil, err
	}
	sess, err := s.session(ctx, caseSolo, seed, deadline)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, sess.close()) }()
	a, err := sess.start("solo A", s.neuronArgs(s.keyFile(seed, "solo-A"), filepath.Join(dir, "A"), seed, "--test_every", strconv.Itoa(s.interval))...)
	if err != nil {
		return nil, err
	}
	sess.onTest = s.recorder(caseSolo, seed, s.steps, &out, map[*proc]string{a: "A"})
	err = sess.until(fmt.Sprintf("solo A's test at step %d", s.steps), func(p *proc, l logLine) (bool, error) {
		return p == a && l.isTest() && l.Step >= s.steps, nil
	})
	return out, err
}

// pretrained are the checkpoints of a pair after s.pretrainEpochs epochs.
type pretrained struct{ a, b string }

// pair trains two neurons from scratch together (A with seed, B with
// seed+1, B joining through A) until both tested at s.pairSteps steps and both
// have finished s.pretrainEpochs epochs; it keeps their checkpoints from
// then for the newcomer case (when keep is set).
func (s *setup) pair(ctx context.Context, seed uint64, deadline time.Time, keep bool) (out []record, ck pretrained, err error) {
	dir, err := s.caseDir(casePair, seed)
	if err != nil {
		return nil, ck, err
	}
	sess, err := s.session(ctx, casePair, seed, deadline)
	if err != nil {
		return nil, ck, err
	}
	defer func() { err = errors.Join(err, sess.close()) }()
	every := strconv.Itoa(s.interval)
	a, err := sess.start("pair A", s.neuronArgs(s.keyFile(seed, "A"), filepath.Join(dir, "A"), seed, "--test_every", every)...)
	if err != nil {
		return nil, ck, err
	}
	sess.onTest = s.recorder(casePair, seed, s.pairSteps, &out, map[*proc]string{a: "A"})
	addr, err := sess.awaitStarted(a)
	if err != nil {
		return nil, ck, err
	}
	b, err := sess.start("pair B", s.neuronArgs(s.keyFile(seed, "B"), filepath.Join(dir, "B"), seed+1, "--test_every", every, "--bootstrap", addr)...)
	if err != nil {
		return nil, ck, err
	}
	sess.onTest = s.recorder(casePair, seed, s.pairSteps, &out, map[*proc]string{a: "A", b: "B"})
	tested := map[*proc]bool{}
	saved := map[*proc]string{}
	joined := false
	err = sess.until("the pair's last tests and checkpoints", func(p *proc, l logLine) (bool, error) {
		if !joined && p == a && l.isTrain() && l.Peers >= 1 && l.Synapses >= 2 {
			joined = true
			s.logf("pair seed %d: A trains with B (nP|nS %d|%d) from step %d", seed, l.Peers, l.Synapses, s.stepOf(l))
		}
		if l.isTest() && l.Step >= s.pairSteps {
			tested[p] = true
		}
		// A neuron saves last.ckpt at the end of an epoch, before the
		// first training line of the next.
		if keep && saved[p] == "" && l.isTrain() && l.Epoch >= s.pretrainEpochs {
			if l.Epoch > s.pretrainEpochs || p.checkpoints == "" {
				return false, fmt.Errorf("%s: missed the end of epoch %d (line %s)", p.name, s.pretrainEpochs, l.raw)
			}
			dst := filepath.Join(dir, p.name[len("pair "):]+"-pretrained.ckpt")
			if err := copyFile(filepath.Join(p.checkpoints, "last.ckpt"), dst); err != nil {
				return false, fmt.Errorf("%s's checkpoint: %w", p.name, err)
			}
			saved[p] = dst
			s.logf("pair seed %d: kept %s's checkpoint after %d epochs", seed, p.name, s.pretrainEpochs)
		}
		return tested[a] && tested[b] && (!keep || (saved[a] != "" && saved[b] != "")), nil
	})
	return out, pretrained{a: saved[a], b: saved[b]}, err
}

// newcomer restarts the pair from its checkpoints (same keys, so their
// routers know each other's synapses), waits until they train together,
// then starts a newcomer C from scratch (with seed, as the solo neuron)
// joining through A, and trains it s.newcomerSteps steps.
func (s *setup) newcomer(ctx context.Context, seed uint64, deadline time.Time, ck pretrained) (out []record, err error) {
	dir, err := s.caseDir(caseNewcomer, seed)
	if err != nil {
		return nil, err
	}
	sess, err := s.session(ctx, caseNewcomer, seed, deadline)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, sess.close()) }()
	// The pre-trained neurons keep the pair's key files.
	// They test too, so that the newcomer's accuracy can be set beside
	// that of the peers it learns from.
	test := []string{"--test_every", strconv.Itoa(s.interval)}
	a, err := sess.start("trained A", s.neuronArgs(s.keyFile(seed, "A"), filepath.Join(dir, "A"), seed,
		append([]string{"--model_path", ck.a}, test...)...)...)
	if err != nil {
		return nil, err
	}
	addr, err := sess.awaitStarted(a)
	if err != nil {
		return nil, err
	}
	b, err := sess.start("trained B", s.neuronArgs(s.keyFile(seed, "B"), filepath.Join(dir, "B"), seed+1,
		append([]string{"--model_path", ck.b, "--bootstrap", addr}, test...)...)...)
	if err != nil {
		return nil, err
	}
	teachers := s.recorder(caseTeachers, seed, math.MaxInt, &out, map[*proc]string{a: "A", b: "B"})
	sess.onTest = teachers
	if err := sess.until("the trained pair training together", func(p *proc, l logLine) (bool, error) {
		return p == a && l.isTrain() && l.Peers >= 1 && l.Synapses >= 2, nil
	}); err != nil {
		return nil, err
	}
	c, err := sess.start("newcomer C", s.neuronArgs(s.keyFile(seed, "newcomer-C"), filepath.Join(dir, "C"), seed, "--test_every", strconv.Itoa(s.interval),
		"--bootstrap", addr)...)
	if err != nil {
		return nil, err
	}
	newcomer := s.recorder(caseNewcomer, seed, s.newcomerSteps, &out, map[*proc]string{c: "C"})
	sess.onTest = func(p *proc, l logLine) { teachers(p, l); newcomer(p, l) }
	joined := false
	err = sess.until(fmt.Sprintf("the newcomer's test at step %d", s.newcomerSteps), func(p *proc, l logLine) (bool, error) {
		if !joined && p == c && l.isTrain() && l.Peers >= 2 && l.Synapses >= 3 {
			joined = true
			s.logf("newcomer seed %d: C trains with A and B (nP|nS %d|%d) from step %d", seed, l.Peers, l.Synapses, s.stepOf(l))
		}
		return p == c && l.isTest() && l.Step >= s.newcomerSteps, nil
	})
	return out, err
}
