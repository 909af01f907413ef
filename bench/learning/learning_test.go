package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/examples/mnist"
)

// curveOf returns the records of one run: accuracies (local, network) at
// steps 100, 200, ….
func curveOf(c string, seed uint64, neuron string, acc ...[2]float64) []record {
	var out []record
	for i, a := range acc {
		out = append(out, record{Case: c, Seed: seed, Neuron: neuron, Step: 100 * (i + 1), Local: a[0], Network: a[1]})
	}
	return out
}

func sampleRecords() []record {
	var rs []record
	rs = append(rs, curveOf(caseSolo, 1, "A", [2]float64{0.90, 0.91}, [2]float64{0.96, 0.965}, [2]float64{0.97, 0.972}, [2]float64{0.975, 0.98})...)
	rs = append(rs, curveOf(caseSolo, 2, "A", [2]float64{0.90, 0.90}, [2]float64{0.95, 0.96}, [2]float64{0.96, 0.962}, [2]float64{0.971, 0.975})...)
	rs = append(rs, curveOf(casePair, 1, "A", [2]float64{0.92, 0.93}, [2]float64{0.96, 0.95})...)
	rs = append(rs, curveOf(casePair, 1, "B", [2]float64{0.91, 0.91}, [2]float64{0.96, 0.97})...)
	rs = append(rs, curveOf(caseNewcomer, 1, "C", [2]float64{0.93, 0.975}, [2]float64{0.97, 0.98})...)
	rs = append(rs, curveOf(caseNewcomer, 2, "C", [2]float64{0.93, 0.96}, [2]float64{0.965, 0.97})...)
	return rs
}

// The headline counts the first test pass at or above the target, per run,
// and averages over runs; the pair's comparison counts every test pass.
func TestLearningLine(t *testing.T) {
	rs := sampleRecords()
	got := learningLine("learning", rs, networkPath, 0.97)
	// solo network: 300, 400 → 350; newcomer network: 100, 200 → 150.
	want := "learning: solo_steps_to_97=350 newcomer_steps_to_97=150 ratio=0.43 network_ge_local=3/4"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// On the local path the second newcomer never reaches 97 %.
	got = learningLine("learning-local", rs, localPath, 0.97)
	want = "learning-local: solo_steps_to_97=350 newcomer_steps_to_97=>200 ratio=n/a network_ge_local=3/4"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := learningLine("learning", nil, networkPath, 0.97); !strings.Contains(got, "solo_steps_to_97=none") {
		t.Errorf("no records: %s", got)
	}
}

// The sustained reading counts from the first test after which a run never
// drops under the target again, so a lucky early test does not count; a
// run that ends under it has not reached it.
func TestSustainedLine(t *testing.T) {
	var rs []record
	rs = append(rs, curveOf(caseSolo, 1, "A", [2]float64{0.90, 0.97}, [2]float64{0.95, 0.96}, [2]float64{0.96, 0.975}, [2]float64{0.97, 0.98})...)
	rs = append(rs, curveOf(caseSolo, 2, "A", [2]float64{0.90, 0.90}, [2]float64{0.95, 0.97}, [2]float64{0.96, 0.971}, [2]float64{0.971, 0.975})...)
	rs = append(rs, curveOf(caseNewcomer, 1, "C", [2]float64{0.93, 0.975}, [2]float64{0.97, 0.98})...)
	rs = append(rs, curveOf(caseNewcomer, 2, "C", [2]float64{0.93, 0.97}, [2]float64{0.965, 0.969}, [2]float64{0.97, 0.97})...)
	// First crossings: solo 100, 200; newcomer 100, 100.
	if got, want := learningLine("learning", rs, networkPath, 0.97), "learning: solo_steps_to_97=150 newcomer_steps_to_97=100 ratio=0.67 network_ge_local=0/0"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Stays from: solo 300, 200; newcomer 100, 300.
	if got, want := sustainedLine(rs, 0.97), "learning-sustained: solo_steps_to_stay_97=250 newcomer_steps_to_stay_97=200 ratio=0.80"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// A newcomer whose last test is under the target has not reached it.
	rs = append(rs, curveOf(caseNewcomer, 3, "C", [2]float64{0.93, 0.975}, [2]float64{0.97, 0.965})...)
	if got, want := sustainedLine(rs, 0.97), "learning-sustained: solo_steps_to_stay_97=250 newcomer_steps_to_stay_97=>300 ratio=n/a"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSummaryLine(t *testing.T) {
	got := summaryLine(sampleRecords(), casePair, 0.97)
	want := "pair: runs=2 steps_to_97 local=>200 network=>200 at_step_200 local=96.00% network=96.00% network_ge_local=3/4"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := summaryLine(nil, caseSolo, 0.97); got != "solo: no runs" {
		t.Errorf("no records: %s", got)
	}
}

func TestCSVHasEveryTestPass(t *testing.T) {
	rs := sampleRecords()
	var b bytes.Buffer
	if err := writeCSV(&b, rs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(rs)+1 || !slices.Equal(rows[0], []string{"case", "seed", "neuron", "step", "local_accuracy", "network_accuracy", "loss"}) {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	if want := []string{"newcomer", "1", "C", "100", "0.9300", "0.9750", "0.000000"}; !slices.Equal(rows[13], want) {
		t.Errorf("row 13 = %v, want %v", rows[13], want)
	}
	b.Reset()
	if err := writeCSV(&b, rs); err != nil {
		t.Fatal(err)
	}
	back, err := readCSV(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back, rs) {
		t.Errorf("read back %v, want %v", back, rs)
	}
}

// A malformed learning.csv is an error, never a crash or a silent record.
func TestReadCSVRefusesBadRows(t *testing.T) {
	header := "case,seed,neuron,step,local_accuracy,network_accuracy,loss\n"
	for _, bad := range []string{
		"", "case,seed\n", header + "duo,1,A,100,0.9,0.9,0.1\n", header + "solo,x,A,100,0.9,0.9,0.1\n",
		header + "solo,1,A,-5,0.9,0.9,0.1\n", header + "solo,1,A,100,NaN,0.9,0.1\n",
		header + "solo,1,A,100,0.9,97,0.1\n", header + "solo,1,A,100,0.9,0.9,+Inf\n", header + "solo,1,A,100\n",
	} {
		if rs, err := readCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: read %v, want an error", bad, rs)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("case,seed,neuron,step,local_accuracy,network_accuracy,loss\nsolo,1,A,100,0.9,0.91,0.3\n"))
	f.Add([]byte("case,seed,neuron,step,local_accuracy,network_accuracy,loss\npair,2,B,5,1,0,1e300\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := readCSV(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.Local < 0 || r.Local > 1 || r.Network < 0 || r.Network > 1 || r.Step < 0 {
				t.Fatalf("accepted %+v", r)
			}
		}
		// What was read summarises and plots without trouble.
		_ = learningLine("learning", rs, networkPath, 0.97)
		if err := writeSVG(io.Discard, rs, 0.97); err != nil {
			t.Fatal(err)
		}
	})
}

// The plot is well-formed SVG with a network and a local curve per case,
// each with a point per tested step.
func TestSVGDrawsEveryCase(t *testing.T) {
	var b bytes.Buffer
	if err := writeSVG(&b, sampleRecords(), 0.97); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	var points []int
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "polyline" {
			for _, a := range el.Attr {
				if a.Name.Local == "points" {
					points = append(points, len(strings.Fields(a.Value)))
				}
			}
		}
	}
	if want := []int{4, 4, 2, 2, 2, 2}; !slices.Equal(points, want) {
		t.Errorf("polylines with %v points, want %v", points, want)
	}
}

func TestStepTicks(t *testing.T) {
	for _, tc := range []struct {
		max  int
		want []int
	}{{20, []int{0, 5, 10, 15, 20}}, {2400, []int{0, 500, 1000, 1500, 2000}}, {1, []int{0, 1}}} {
		if got := stepTicks(tc.max); !slices.Equal(got, tc.want) {
			t.Errorf("stepTicks(%d) = %v, want %v", tc.max, got, tc.want)
		}
	}
}

// The subset is a folder of idx files the neurons' loader reads.
func TestSubsetDataLoads(t *testing.T) {
	dir := t.TempDir()
	n, err := subsetData(context.Background(), dir, 128, 64)
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := mnist.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n != 128 || train.Len() != 128 || test.Len() != 64 || len(train.Pixels) != 128*mnist.Pixels {
		t.Fatalf("subset of %d: %d training and %d test examples", n, train.Len(), test.Len())
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"-steps", "300", "-interval", "50", "-seeds", "4, 5"})
	if err != nil {
		t.Fatal(err)
	}
	if o.newcomerSteps != 300 || !slices.Equal(o.seeds, []uint64{4, 5}) || len(o.cases) != 3 {
		t.Errorf("options %+v", o)
	}
	for _, bad := range [][]string{
		{"-interval", "0"}, {"-steps", "10", "-interval", "20"}, {"-seeds", "0"}, {"-seeds", "x"},
		{"-cases", "newcomer"}, {"-cases", "duo"}, {"-target", "97"}, {"extra"},
	} {
		if _, err := parseOptions(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// The whole benchmark on a sliver of MNIST: every case runs real neuron
// processes and reports a test pass per interval.
func TestBenchmarkEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs six neuron processes")
	}
	out, logs := t.TempDir(), t.TempDir()
	o, err := parseOptions([]string{"-steps", "10", "-interval", "5", "-seeds", "1", "-train_examples", "320",
		"-test_examples", "320", "-out", out, "-logs", logs, "-timeout", "5m"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	t.Chdir(filepath.Join("..", "..")) // go build ./cmd/bittensor runs in the module root
	lines, err := run(ctx, o, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^solo: runs=1 steps_to_97 local=\S+ network=\S+ at_step_10 `),
		regexp.MustCompile(`^pair: runs=2 .* network_ge_local=\d/4$`),
		regexp.MustCompile(`^newcomer: runs=1 .*at_step_10 `),
		// The pre-trained pair tests as it trains on: how often within the
		// newcomer's run depends on the pace of the processes.
		regexp.MustCompile(`^teachers: (runs=[12] |no runs$)`),
		regexp.MustCompile(`^learning: solo_steps_to_97=\S+ newcomer_steps_to_97=\S+ ratio=\S+ network_ge_local=\d/4$`),
		regexp.MustCompile(`^learning-local: `),
		regexp.MustCompile(`^learning-sustained: solo_steps_to_stay_97=\S+ newcomer_steps_to_stay_97=\S+ ratio=\S+$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %q does not match %s", lines[i], re)
		}
	}
	rows, err := os.ReadFile(filepath.Join(out, "learning.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// Two test passes each for A (solo), A and B (pair), C (newcomer),
	// besides the teachers'.
	n := strings.Count(string(rows), "\n") - strings.Count(string(rows), "\n"+caseTeachers+",")
	if n != 1+2*4 {
		t.Errorf("learning.csv has %d lines besides the teachers', want 9:\n%s", n, rows)
	}
	if _, err := os.Stat(filepath.Join(out, "learning.svg")); err != nil {
		t.Error(err)
	}
	// -logs keeps each neuron's log, training lines included.
	for _, name := range []string{"solo/solo-A", "pair/pair-A", "pair/pair-B", "newcomer/trained-A", "newcomer/trained-B", "newcomer/newcomer-C"} {
		b, err := os.ReadFile(filepath.Join(logs, "seed-1", name+".log"))
		if err != nil {
			t.Error(err)
		} else if !strings.Contains(string(b), "Train Epoch:") {
			t.Errorf("%s.log has no training line:\n%s", name, b)
		}
	}
}
