package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// builtBinary builds the bittensor command once per test run, into a
// folder TestMain removes.
var builtBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bittensor-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bittensor")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := builtBinary(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// buildBinary returns the path of the bittensor command built for the tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// logLine is one JSON log line of a neuron process.
type logLine struct {
	Level     string `json:"level"`
	Message   string `json:"message"`
	Metagraph string `json:"metagraph"`
	raw       string
}

// process is a running bittensor process whose log the test reads.
type process struct {
	name  string
	cmd   *exec.Cmd
	lines chan logLine // closed when the process's stderr ends
	// exited is closed once the process has been reaped; cmd.ProcessState
	// may be read after that.
	exited chan struct{}
}

// startNeuron starts `bittensor run mnist` with fast test settings plus args.
func startNeuron(t *testing.T, bin, name string, args ...string) *process {
	t.Helper()
	return startKind(t, bin, "mnist", name, args...)
}

// startKind starts `bittensor run KIND` with fast test settings plus args.
func startKind(t *testing.T, bin, kind, name string, args ...string) *process {
	t.Helper()
	all := append([]string{"run", kind,
		"--axon_port", "0", "--metagraph_port", "0", "--logdir", t.TempDir(),
		"--batch_size", "32", "--log_interval", "5", "--epochs", "100",
		"--metagraph_period", "100ms", "--metagraph_ttl", "2s"}, args...)
	cmd := exec.Command(bin, all...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, cmd: cmd, lines: make(chan logLine, 1024), exited: make(chan struct{})}
	go p.read(stderr)
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			p.wait(10 * time.Second)
		}
	})
	return p
}

// read parses the process's log lines until its stderr ends, then reaps it.
func (p *process) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			l.Message = sc.Text()
		}
		l.raw = sc.Text()
		select {
		case p.lines <- l:
		default: // nobody is waiting for lines now; drop the oldest
			select {
			case <-p.lines:
			default:
			}
			p.lines <- l
		}
	}
	close(p.lines)
	p.cmd.Wait() // the exit status is read from ProcessState
	close(p.exited)
}

// await returns the first log line that satisfies ok, failing the test when
// none comes before the deadline or the process ends.
func (p *process) await(t *testing.T, what string, timeout time.Duration, ok func(logLine) bool) logLine {
	t.Helper()
	deadline := time.After(timeout)
	var last string
	for {
		select {
		case l, open := <-p.lines:
			if !open {
				t.Fatalf("%s ended before %s; last line: %s", p.name, what, last)
			}
			last = l.raw
			if ok(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("%s: no %s within %v; last line: %s", p.name, what, timeout, last)
		}
	}
}

// awaitCounts waits for a training line showing nP|nS: peers|synapses.
func (p *process) awaitCounts(t *testing.T, peers, synapses int, timeout time.Duration) {
	t.Helper()
	want := fmt.Sprintf("nP|nS: %d|%d", peers, synapses)
	p.await(t, want, timeout, func(l logLine) bool {
		return strings.HasPrefix(l.Message, "Train Epoch:") && strings.HasSuffix(l.Message, want)
	})
}

// wait waits for the process to end and returns its exit status.
func (p *process) wait(timeout time.Duration) (int, error) {
	go func() {
		for range p.lines { // drain so read can reach Wait
		}
	}()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		return -1, fmt.Errorf("%s still running after %v", p.name, timeout)
	}
}

// Two neurons find each other through --bootstrap, train together, and the
// first forgets the second after it dies.
func TestTwoNeuronsFindAndForgetEachOther(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two training processes")
	}
	bin := buildBinary(t)
	a := startNeuron(t, bin, "neuron A")
	addr := a.await(t, "its metagraph address", 60*time.Second, func(l logLine) bool { return l.Metagraph != "" }).Metagraph
	a.awaitCounts(t, 0, 1, 60*time.Second)

	// B joins through A before or soon after its first step: its lines show
	// 0|1 (alone) until they show 1|2, passing maybe through 1|1 (A's
	// address known, its synapse not yet) or 0|2 (A's synapse known, A not
	// yet counted as a live peer); A then sees B too.
	b := startNeuron(t, bin, "neuron B", "--bootstrap", addr)
	b.await(t, "nP|nS: 1|2", 60*time.Second, func(l logLine) bool {
		if !strings.HasPrefix(l.Message, "Train Epoch:") {
			return false
		}
		counts := l.Message[strings.LastIndex(l.Message, "nP|nS: ")+len("nP|nS: "):]
		switch counts {
		case "1|2":
			return true
		case "0|1", "1|1", "0|2":
			return false
		}
		t.Fatalf("neuron B: unexpected counts in %q", l.Message)
		return false
	})
	a.awaitCounts(t, 1, 2, 60*time.Second)

	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// TTL 2 s plus a few gossip periods and log intervals.
	a.awaitCounts(t, 0, 1, 30*time.Second)

	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := a.wait(60 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("neuron A after SIGTERM: exit status %d, %v; want 0", code, err)
	}
}

// A port in use gives one clear line and exit status 2.
func TestPortInUseExits2(t *testing.T) {
	if testing.Short() {
		t.Skip("starts neuron processes")
	}
	bin := buildBinary(t)
	taken, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	for _, flag := range []string{"--metagraph_port", "--axon_port", "--metrics_port"} {
		cmd := exec.Command(bin, "run", "mnist", flag, port, "--logdir", t.TempDir())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		last := lines[len(lines)-1]
		want := "bittensor: " + flag + ": port " + port + " is in use"
		if err == nil || code != 2 || !strings.HasPrefix(last, want) {
			t.Errorf("%s %s (taken): exit %d, last line %q; want 2 and %q", flag, port, code, last, want)
		}
		if strings.Contains(stderr.String(), "goroutine ") {
			t.Errorf("%s: stack trace printed:\n%s", flag, stderr.String())
		}
	}
}

// A neuron started with --serve_only loads no data and serves: a training
// neuron routes to it, and it stops cleanly on SIGTERM.
func TestServeOnlyNeuronServesATrainingOne(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two neuron processes")
	}
	bin := buildBinary(t)
	b := startNeuron(t, bin, "neuron B", "--serve_only")
	addr := b.await(t, "its metagraph address", 60*time.Second, func(l logLine) bool { return l.Metagraph != "" }).Metagraph
	b.await(t, "the serving line", 30*time.Second, func(l logLine) bool {
		if strings.Contains(l.Message, "MNIST loaded") || strings.HasPrefix(l.Message, "Train Epoch:") {
			t.Fatalf("a serve-only neuron loaded data or trained: %s", l.raw)
		}
		return strings.HasPrefix(l.Message, "serving only")
	})
	a := startNeuron(t, bin, "neuron A", "--bootstrap", addr)
	a.awaitCounts(t, 1, 2, 60*time.Second)
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := b.wait(60 * time.Second); err != nil || code != 0 {
		t.Fatalf("serve-only neuron after SIGTERM: exit status %d, %v; want 0", code, err)
	}
}
