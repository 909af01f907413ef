// Command learning measures whether MNIST neurons learn faster together:
// it runs real `bittensor run mnist` processes on 127.0.0.1, each testing
// every -interval steps (--test_every), and records their test accuracy on
// the local path and the network path for three cases, each per seed:
//
//  1. solo: one neuron alone, from scratch (seed s);
//  2. pair: two neurons from scratch together (A seed s, B seed s+1,
//     B joining through A);
//  3. newcomer: the pair, restarted from its checkpoints after
//     -pretrain_epochs epochs, joined by a neuron from scratch (seed s,
//     so it starts as the solo neuron did).
//
// It writes learning.csv (every test pass) and learning.svg (the mean curve
// of each case) into -out, and prints one summary line per case and
//
//	learning: solo_steps_to_97=<…> newcomer_steps_to_97=<…> ratio=<…> network_ge_local=<k>/<n>
//
// (network path; `learning-local:` is the same on the local path), and
// `learning-sustained:`, which counts the steps after which a run's tests
// stay at the target. A run that never reaches the target within its steps
// reads ">steps".
//
// Usage (the full measurement, then a short one):
//
//	go run ./bench/learning -out bench/learning
//	go run ./bench/learning -steps 300 -interval 50 -seeds 1 -train_examples 19200
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the benchmark's flags.
type options struct {
	steps, pairSteps, newcomerSteps, interval int
	seeds                                     []uint64
	cases                                     map[string]bool
	batch, pretrainEpochs                     int
	trainExamples, testExamples               int
	target                                    float64
	out, bin, from, logs                      string
	neuronFlags                               []string
	parallel                                  bool
	timeout                                   time.Duration
	gossip, ttl                               time.Duration
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("learning", flag.ContinueOnError)
	fs.IntVar(&o.steps, "steps", 2400, "training steps of the solo run (its last test pass)")
	fs.IntVar(&o.pairSteps, "pair_steps", 0, "training steps of the pair run (0: -steps; it trains on to the end of -pretrain_epochs)")
	fs.IntVar(&o.newcomerSteps, "newcomer_steps", 0, "training steps of the newcomer (0: -steps)")
	fs.IntVar(&o.interval, "interval", 100, "steps between two test passes (the neurons' --test_every)")
	seeds := fs.String("seeds", "1,2,3", "comma-separated seeds; each case runs once per seed")
	cases := fs.String("cases", "solo,pair,newcomer", "cases to run (newcomer needs pair)")
	fs.IntVar(&o.batch, "batch_size", 64, "the neurons' --batch_size")
	fs.IntVar(&o.pretrainEpochs, "pretrain_epochs", 1, "epochs the pair trains before the newcomer joins it")
	fs.IntVar(&o.trainExamples, "train_examples", 0, "use the first N training images only (0: all 60,000); shortens an epoch")
	fs.IntVar(&o.testExamples, "test_examples", 0, "use the first N test images only (0: all 10,000)")
	fs.Float64Var(&o.target, "target", 0.97, "the test accuracy whose first crossing is reported")
	fs.StringVar(&o.out, "out", ".", "folder for learning.csv and learning.svg")
	fs.StringVar(&o.from, "from", "", "run nothing: summarise and plot this learning.csv of an earlier run (with -target)")
	fs.StringVar(&o.logs, "logs", "", "keep every neuron's log in this folder (seed-<s>/<case>/<name>.log); default: not kept")
	fs.StringVar(&o.bin, "bin", "", "a built bittensor command (default: go build ./cmd/bittensor)")
	neuronFlags := fs.String("neuron_flags", "", "extra flags for every neuron, space-separated (e.g. a recipe option)")
	fs.BoolVar(&o.parallel, "parallel", false, "run each seed's solo case beside its pair and newcomer cases (shorter, but they share the cores)")
	fs.DurationVar(&o.timeout, "timeout", 6*time.Hour, "bound on the whole run")
	fs.DurationVar(&o.gossip, "metagraph_period", time.Second, "the neurons' --metagraph_period")
	fs.DurationVar(&o.ttl, "metagraph_ttl", 30*time.Second, "the neurons' --metagraph_ttl")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.pairSteps == 0 {
		o.pairSteps = o.steps
	}
	if o.newcomerSteps == 0 {
		o.newcomerSteps = o.steps
	}
	if o.interval < 1 || o.interval > min(o.steps, o.pairSteps, o.newcomerSteps) {
		return o, fmt.Errorf("-steps %d, -pair_steps %d, -newcomer_steps %d, -interval %d: want 1 <= interval <= each steps",
			o.steps, o.pairSteps, o.newcomerSteps, o.interval)
	}
	if o.batch < 1 || o.pretrainEpochs < 1 || o.trainExamples < 0 || o.testExamples < 0 || !(o.target > 0 && o.target <= 1) {
		return o, errors.New("-batch_size and -pretrain_epochs want at least 1, -*_examples at least 0, -target in (0, 1]")
	}
	for _, f := range strings.Split(*seeds, ",") {
		s, err := strconv.ParseUint(strings.TrimSpace(f), 10, 63)
		if err != nil || s == 0 {
			return o, fmt.Errorf("-seeds: %q is not a seed (a positive integer)", f)
		}
		o.seeds = append(o.seeds, s)
	}
	o.cases = map[string]bool{}
	for _, c := range strings.Split(*cases, ",") {
		switch c = strings.TrimSpace(c); c {
		case caseSolo, casePair, caseNewcomer:
			o.cases[c] = true
		default:
			return o, fmt.Errorf("-cases: unknown case %q (solo, pair, newcomer)", c)
		}
	}
	if o.cases[caseNewcomer] && !o.cases[casePair] {
		return o, errors.New("-cases: newcomer joins the pair's checkpoints; add pair")
	}
	o.neuronFlags = strings.Fields(*neuronFlags)
	return o, nil
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "learning:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var lines []string
	if o.from != "" {
		lines, err = summarise(o)
	} else {
		lines, err = run(ctx, o, logf)
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "learning:", err)
		stop()
		os.Exit(1)
	}
}

// logf writes progress to standard error with the time.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format(time.TimeOnly)}, args...)...)
}

// run runs the benchmark and returns its summary lines; whatever was
// measured before an error is still written and summarised.
func run(ctx context.Context, o options, logf func(string, ...any)) (lines []string, err error) {
	work, err := os.MkdirTemp("", "bench-learning-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	deadline := time.Now().Add(o.timeout)
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(work, "bittensor")
		logf("building bittensor")
		if msg, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/bittensor").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/bittensor: %w\n%s", err, msg)
		}
	}
	data := filepath.Join(work, "data")
	n, err := subsetData(ctx, data, o.trainExamples, o.testExamples)
	if err != nil {
		return nil, fmt.Errorf("MNIST subset: %w", err)
	}
	s := &setup{bin: bin, data: data, work: work, steps: o.steps, pairSteps: o.pairSteps, newcomerSteps: o.newcomerSteps,
		interval: o.interval, batch: o.batch, epochLen: (n + o.batch - 1) / o.batch,
		pretrainEpochs: o.pretrainEpochs, gossip: o.gossip.String(), ttl: o.ttl.String(),
		extra: o.neuronFlags, logs: o.logs, logf: logf}
	logf("%d training examples, %d steps an epoch; seeds %v", n, s.epochLen, o.seeds)

	var records []record
	defer func() {
		lines, err = report(o, records, err)
	}()
	for _, seed := range o.seeds {
		rs, err := s.runSeed(ctx, o, seed, deadline)
		records = append(records, rs...)
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// runSeed runs the cases o selects for one seed: solo, then pair, then the
// newcomer joining the pair's checkpoints; with o.parallel, solo runs
// beside the other two.
func (s *setup) runSeed(ctx context.Context, o options, seed uint64, deadline time.Time) ([]record, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timed := func(c string, f func() ([]record, error)) ([]record, error) {
		begin := time.Now()
		rs, err := f()
		if err != nil {
			cancel() // a failure ends the case running beside it
			return rs, fmt.Errorf("%s, seed %d: %w", c, seed, err)
		}
		s.logf("%s seed %d done in %v", c, seed, time.Since(begin).Round(time.Second))
		return rs, nil
	}
	solo := func() ([]record, error) {
		if !o.cases[caseSolo] {
			return nil, nil
		}
		return timed(caseSolo, func() ([]record, error) { return s.solo(ctx, seed, deadline) })
	}
	network := func() ([]record, error) {
		if !o.cases[casePair] {
			return nil, nil
		}
		var ck pretrained
		rs, err := timed(casePair, func() (rs []record, err error) {
			rs, ck, err = s.pair(ctx, seed, deadline, o.cases[caseNewcomer])
			return rs, err
		})
		if err != nil || !o.cases[caseNewcomer] {
			return rs, err
		}
		more, err := timed(caseNewcomer, func() ([]record, error) { return s.newcomer(ctx, seed, deadline, ck) })
		return append(rs, more...), err
	}
	if !o.parallel {
		rs, err := solo()
		if err != nil {
			return rs, err
		}
		more, err := network()
		return append(rs, more...), err
	}
	type result struct {
		rs  []record
		err error
	}
	soloDone := make(chan result, 1)
	go func() {
		rs, err := solo()
		soloDone <- result{rs, err}
	}()
	more, netErr := network()
	r := <-soloDone
	return append(r.rs, more...), errors.Join(r.err, netErr)
}

// summarise reads the records of o.from and reports them.
func summarise(o options) ([]string, error) {
	f, err := os.Open(o.from)
	if err != nil {
		return nil, err
	}
	records, err := readCSV(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	if filepath.Clean(filepath.Join(o.out, "learning.csv")) == filepath.Clean(o.from) {
		o.out = filepath.Join(o.out, "resummarised") // never rewrite the file being read
	}
	return report(o, records, nil)
}

// report writes the CSV and the plot of records into o.out and returns the
// summary lines, with runErr joined by any error writing them.
func report(o options, records []record, runErr error) ([]string, error) {
	if len(records) == 0 {
		return nil, runErr
	}
	var errs []error
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, errors.Join(runErr, err)
	}
	if err := writeFile(filepath.Join(o.out, "learning.csv"), func(f *os.File) error { return writeCSV(f, records) }); err != nil {
		errs = append(errs, err)
	}
	if err := writeFile(filepath.Join(o.out, "learning.svg"), func(f *os.File) error { return writeSVG(f, records, o.target) }); err != nil {
		errs = append(errs, err)
	}
	var lines []string
	for _, c := range []string{caseSolo, casePair, caseNewcomer} {
		if o.cases[c] {
			lines = append(lines, summaryLine(records, c, o.target))
		}
	}
	if o.cases[caseNewcomer] {
		lines = append(lines, summaryLine(records, caseTeachers, o.target))
	}
	lines = append(lines, learningLine("learning", records, networkPath, o.target),
		learningLine("learning-local", records, localPath, o.target),
		sustainedLine(records, o.target))
	return lines, errors.Join(append([]error{runErr}, errs...)...)
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
