package fortune

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/opentensor/bittensor-go/neuron"
)

// writeTopics writes a fortune file per topic into a new folder, each
// holding the fortunes of files[topic] (a topic missing from files gets no
// file).
func writeTopics(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadSplitsEveryFifthForTest(t *testing.T) {
	files := map[string]string{}
	for _, topic := range Topics {
		var b strings.Builder
		for i := range 10 {
			b.WriteString(topic + " fortune number " + string(rune('a'+i)) + "\nsecond line\n%\n")
		}
		b.WriteString("%\n\n%\n") // empty fortunes are skipped
		files[topic] = b.String()
	}
	train, test, err := Load(writeTopics(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if len(train) != 8*len(Topics) || len(test) != 2*len(Topics) {
		t.Fatalf("%d training and %d test fortunes, want %d and %d", len(train), len(test), 8*len(Topics), 2*len(Topics))
	}
	for _, e := range append(train, test...) {
		if !strings.HasPrefix(e.Text, Topics[e.Topic]+" fortune number ") || !strings.HasSuffix(e.Text, "second line") {
			t.Fatalf("example %q labelled %s", e.Text, Topics[e.Topic])
		}
	}
	if test[0].Text != "computers fortune number e\nsecond line" {
		t.Errorf("first test fortune %q, want the fifth of the first topic", test[0].Text)
	}
}

func TestLoadErrors(t *testing.T) {
	all := map[string]string{}
	for _, topic := range Topics {
		all[topic] = "one\n%\ntwo\n%\n"
	}
	missing := map[string]string{}
	for k, v := range all {
		missing[k] = v
	}
	delete(missing, "science")
	_, _, err := Load(writeTopics(t, missing))
	var usage *neuron.UsageError
	if !errors.As(err, &usage) || usage.Flag != "data_dir" || !strings.Contains(err.Error(), "apt-get install fortunes") {
		t.Errorf("a missing topic file: %v, want a --data_dir usage error naming the package", err)
	}
	short := map[string]string{}
	for k, v := range all {
		short[k] = v
	}
	short["art"] = "only one\n"
	if _, _, err := Load(writeTopics(t, short)); err == nil || !strings.Contains(err.Error(), "want at least 2") {
		t.Errorf("a file of one fortune: %v", err)
	}
	long := map[string]string{}
	for k, v := range all {
		long[k] = v
	}
	long["politics"] = strings.Repeat("x", 2<<20) + "\n%\n"
	if _, _, err := Load(writeTopics(t, long)); err == nil {
		t.Error("a 2 MiB line: no error")
	}
	// A fortune of many lines is cut, not refused.
	big := map[string]string{}
	for k, v := range all {
		big[k] = v
	}
	big["art"] = strings.Repeat("a line of text\n", 10000) + "%\nsmall\n"
	train, _, err := Load(writeTopics(t, big))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range train {
		if len(e.Text) > maxFortuneBytes {
			t.Fatalf("a fortune of %d bytes kept, limit %d", len(e.Text), maxFortuneBytes)
		}
	}
}

func TestFeaturesOf(t *testing.T) {
	for _, s := range []string{"Hello, world", "", "   ", "\x00\xff\xfe", strings.Repeat("ab ", 100000), "ünïcödé 漢字"} {
		checkFeatures(t, s)
	}
	if a, b := FeaturesOf("Hello, World!"), FeaturesOf("hello world"); !equal(a, b) {
		t.Error("case and punctuation change the features")
	}
	if a, b := FeaturesOf("computers crash"), FeaturesOf("senators vote"); equal(a, b) {
		t.Error("different texts, same features")
	}
}

func FuzzFeaturesOf(f *testing.F) {
	f.Add("Hello, world")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) { checkFeatures(t, s) })
}

// checkFeatures checks that the features of s are finite and of length
// featureNorm, or all zero.
func checkFeatures(t *testing.T, s string) {
	t.Helper()
	v := FeaturesOf(s)
	if len(v) != Features {
		t.Fatalf("%d features, want %d", len(v), Features)
	}
	var sum float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || x < 0 {
			t.Fatalf("feature %v of %.40q", x, s)
		}
		sum += float64(x) * float64(x)
	}
	if sum != 0 && math.Abs(sum-featureNorm*featureNorm) > 1e-2 {
		t.Fatalf("features of %.40q have squared length %v, want %d or 0", s, sum, featureNorm*featureNorm)
	}
}

func equal(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// logBuffer collects a neuron's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// The fortune neuron learns the topics of Debian's fortunes: after two
// epochs it beats always answering the largest topic.
func TestNeuronLearnsFortuneTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two epochs")
	}
	if _, err := os.Stat(filepath.Join(DefaultDataDir, Topics[0])); err != nil {
		t.Fatalf("%v: install Debian's fortunes package (make setup does)", err)
	}
	train, test, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, len(Topics))
	for _, e := range test {
		counts[e.Topic]++
	}
	largest := 0
	for _, c := range counts {
		largest = max(largest, c)
	}
	baseline := float64(largest) / float64(len(test))

	logs := &logBuffer{}
	cfg := neuron.DefaultConfig()
	cfg.Epochs, cfg.LogDir, cfg.Seed, cfg.Log = 2, t.TempDir(), 1, zerolog.New(logs)
	if err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	var acc float64
	sc := bufio.NewScanner(bytes.NewReader(logs.buf.Bytes()))
	for sc.Scan() {
		var l struct {
			Message         string  `json:"message"`
			NetworkAccuracy float64 `json:"network_accuracy"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && strings.HasPrefix(l.Message, "Test Epoch") {
			acc = l.NetworkAccuracy
		}
	}
	t.Logf("%d training and %d test fortunes; network accuracy %.3f after 2 epochs, largest topic %.3f",
		len(train), len(test), acc, baseline)
	if acc < baseline+0.15 {
		t.Errorf("network accuracy %.3f after 2 epochs, want at least the largest topic's share %.3f + 0.15", acc, baseline)
	}
}
