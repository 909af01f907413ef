package main

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The three cases, in the order they run and are reported.
const (
	caseSolo     = "solo"
	casePair     = "pair"
	caseNewcomer = "newcomer"
	// caseTeachers records the pre-trained pair's own tests while the
	// newcomer learns from it (their steps count from their first run).
	caseTeachers = "teachers"
)

// record is one test pass of one neuron: its accuracies after Step steps.
type record struct {
	Case   string
	Seed   uint64
	Neuron string
	Step   int
	// Local and Network are the fractions of the test set the local path
	// (the student's context) and the network path classify right.
	Local, Network float64
	Loss           float64
}

// runKey names one neuron's curve: a case, a seed and a neuron.
type runKey struct {
	Case   string
	Seed   uint64
	Neuron string
}

// runs groups the records of c by run, each sorted by step.
func runs(records []record, c string) map[runKey][]record {
	out := map[runKey][]record{}
	for _, r := range records {
		if r.Case == c {
			k := runKey{r.Case, r.Seed, r.Neuron}
			out[k] = append(out[k], r)
		}
	}
	for _, rs := range out {
		slices.SortFunc(rs, func(a, b record) int { return cmp.Compare(a.Step, b.Step) })
	}
	return out
}

// path selects one of a record's two accuracies.
type path func(record) float64

func localPath(r record) float64   { return r.Local }
func networkPath(r record) float64 { return r.Network }

// stepsTo returns the first step of a run (sorted by step) at which the
// path's accuracy is at least target, and false when it never is.
func stepsTo(run []record, p path, target float64) (int, bool) {
	for _, r := range run {
		if p(r) >= target {
			return r.Step, true
		}
	}
	return 0, false
}

// stepsToStay returns the first step of a run (sorted by step) from which
// every test of the run, that one and all later ones, is at least target,
// and false when the last one is not. It is right-censored: a run that
// stays there to its last test may dip after it.
func stepsToStay(run []record, p path, target float64) (int, bool) {
	from := len(run)
	for from > 0 && p(run[from-1]) >= target {
		from--
	}
	if from == len(run) {
		return 0, false
	}
	return run[from].Step, true
}

// crossing is a reading of when a run reaches a target: stepsTo or
// stepsToStay.
type crossing func(run []record, p path, target float64) (int, bool)

// reach summarises how fast the runs of a case reach a target accuracy.
type reach struct {
	// Mean is the mean step over the runs that reached it.
	Mean float64
	// Reached counts those runs, of Runs.
	Reached, Runs int
	// Budget is the last step tested in any run.
	Budget int
}

// String is the mean step when every run reached the target, ">budget"
// when some did not, and "none" when there are no runs.
func (r reach) String() string {
	switch {
	case r.Runs == 0:
		return "none"
	case r.Reached < r.Runs:
		return fmt.Sprintf(">%d", r.Budget)
	}
	return strconv.FormatFloat(r.Mean, 'f', 0, 64)
}

// complete reports whether every run reached the target.
func (r reach) complete() bool { return r.Runs > 0 && r.Reached == r.Runs }

// reachOf returns how the runs of case c reach target on path p, read
// by when.
func reachOf(records []record, c string, p path, target float64, when crossing) reach {
	var r reach
	var sum float64
	for _, run := range runs(records, c) {
		r.Runs++
		r.Budget = max(r.Budget, run[len(run)-1].Step)
		if s, ok := when(run, p, target); ok {
			r.Reached++
			sum += float64(s)
		}
	}
	if r.Reached > 0 {
		r.Mean = sum / float64(r.Reached)
	}
	return r
}

// networkAtLeastLocal counts the records of case c whose network path is at
// least as accurate as the local path, and the records.
func networkAtLeastLocal(records []record, c string) (k, n int) {
	for _, r := range records {
		if r.Case == c {
			n++
			if r.Network >= r.Local {
				k++
			}
		}
	}
	return k, n
}

// curve is the mean accuracy of a case's runs at each tested step.
type curve struct {
	Steps          []int
	Local, Network []float64
}

// meanCurve averages the runs of case c step by step (over the runs that
// tested that step).
func meanCurve(records []record, c string) curve {
	type sum struct {
		local, network float64
		n              int
	}
	by := map[int]*sum{}
	for _, r := range records {
		if r.Case != c {
			continue
		}
		s := by[r.Step]
		if s == nil {
			s = &sum{}
			by[r.Step] = s
		}
		s.local, s.network, s.n = s.local+r.Local, s.network+r.Network, s.n+1
	}
	var out curve
	for _, step := range slices.Sorted(maps.Keys(by)) {
		s := by[step]
		out.Steps = append(out.Steps, step)
		out.Local = append(out.Local, s.local/float64(s.n))
		out.Network = append(out.Network, s.network/float64(s.n))
	}
	return out
}

// writeCSV writes the records, one line per test pass.
func writeCSV(w io.Writer, records []record) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, r := range records {
		if err := cw.Write([]string{r.Case, strconv.FormatUint(r.Seed, 10), r.Neuron, strconv.Itoa(r.Step),
			strconv.FormatFloat(r.Local, 'f', 4, 64), strconv.FormatFloat(r.Network, 'f', 4, 64),
			strconv.FormatFloat(r.Loss, 'f', 6, 64)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvHeader is the first line of learning.csv.
var csvHeader = []string{"case", "seed", "neuron", "step", "local_accuracy", "network_accuracy", "loss"}

// readCSV reads records written by writeCSV (to summarise or plot an
// earlier run again); a malformed file is an error naming its line.
func readCSV(r io.Reader) ([]record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(csvHeader)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("learning.csv header: %w", err)
	}
	if !slices.Equal(header, csvHeader) {
		return nil, fmt.Errorf("learning.csv header %q, want %q", header, csvHeader)
	}
	var out []record
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("learning.csv: %w", err)
		}
		r, err := parseRow(row)
		if err != nil {
			return nil, fmt.Errorf("learning.csv line %d: %w", line, err)
		}
		out = append(out, r)
	}
}

// parseRow reads one CSV row: a known case, a seed, a neuron name, a step
// of at least 0, accuracies in [0, 1] and a finite loss.
func parseRow(row []string) (record, error) {
	r := record{Case: row[0], Neuron: row[2]}
	if r.Case != caseSolo && r.Case != casePair && r.Case != caseNewcomer && r.Case != caseTeachers {
		return r, fmt.Errorf("unknown case %q", r.Case)
	}
	var err error
	if r.Seed, err = strconv.ParseUint(row[1], 10, 64); err != nil {
		return r, fmt.Errorf("seed: %w", err)
	}
	if r.Step, err = strconv.Atoi(row[3]); err != nil || r.Step < 0 {
		return r, fmt.Errorf("step %q, want an integer >= 0", row[3])
	}
	for i, dst := range []*float64{&r.Local, &r.Network, &r.Loss} {
		v, err := strconv.ParseFloat(row[4+i], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || (i < 2 && (v < 0 || v > 1)) {
			return r, fmt.Errorf("%s %q, want a finite number (an accuracy in [0, 1])", csvHeader[4+i], row[4+i])
		}
		*dst = v
	}
	return r, nil
}

// percent formats a fraction as a percentage with two decimals.
func percent(v float64) string { return strconv.FormatFloat(100*v, 'f', 2, 64) + "%" }

// summaryLine describes case c: its runs, the steps its neurons need to
// reach target on each path, their accuracies at the last step every run
// tested, and, for the pair, how often the network path was at least as
// accurate as the local one.
func summaryLine(records []record, c string, target float64) string {
	rs := runs(records, c)
	if len(rs) == 0 {
		return c + ": no runs"
	}
	t := strconv.FormatFloat(100*target, 'f', -1, 64)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: runs=%d steps_to_%s local=%s network=%s", c, len(rs), t,
		reachOf(records, c, localPath, target, stepsTo), reachOf(records, c, networkPath, target, stepsTo))
	mc := meanCurve(records, c)
	last := len(mc.Steps) - 1
	fmt.Fprintf(&b, " at_step_%d local=%s network=%s", mc.Steps[last], percent(mc.Local[last]), percent(mc.Network[last]))
	k, n := networkAtLeastLocal(records, c)
	fmt.Fprintf(&b, " network_ge_local=%d/%d", k, n)
	return b.String()
}

// learningLine is the benchmark's headline for one path: the steps a lone
// neuron and a newcomer need to reach target, their ratio, and in how many
// of the pair's test passes the network path was at least as accurate as
// the local path.
func learningLine(name string, records []record, p path, target float64) string {
	solo, newcomer, ratio := newcomerAgainstSolo(records, p, target, stepsTo)
	k, n := networkAtLeastLocal(records, casePair)
	t := strconv.FormatFloat(100*target, 'f', -1, 64)
	return fmt.Sprintf("%s: solo_steps_to_%s=%s newcomer_steps_to_%s=%s ratio=%s network_ge_local=%d/%d",
		name, t, solo, t, newcomer, ratio, k, n)
}

// sustainedLine is the headline's stricter reading on the network path:
// the steps after which a lone neuron's and a newcomer's tests all stay at
// or above target (see stepsToStay), and their ratio. A first crossing
// counts a lucky test; this does not.
func sustainedLine(records []record, target float64) string {
	solo, newcomer, ratio := newcomerAgainstSolo(records, networkPath, target, stepsToStay)
	t := strconv.FormatFloat(100*target, 'f', -1, 64)
	return fmt.Sprintf("learning-sustained: solo_steps_to_stay_%s=%s newcomer_steps_to_stay_%s=%s ratio=%s",
		t, solo, t, newcomer, ratio)
}

// newcomerAgainstSolo returns how the solo and newcomer runs reach target
// on path p, read by when, and the ratio of their mean steps ("n/a" unless
// every run of both reached it).
func newcomerAgainstSolo(records []record, p path, target float64, when crossing) (solo, newcomer reach, ratio string) {
	solo = reachOf(records, caseSolo, p, target, when)
	newcomer = reachOf(records, caseNewcomer, p, target, when)
	ratio = "n/a"
	if solo.complete() && newcomer.complete() && solo.Mean > 0 {
		ratio = strconv.FormatFloat(newcomer.Mean/solo.Mean, 'f', 2, 64)
	}
	return solo, newcomer, ratio
}
