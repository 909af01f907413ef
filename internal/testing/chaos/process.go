package chaos

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Line is one JSON log line of a neuron process, with the fields the
// scenario reads.
type Line struct {
	// Arrived is when the line was read.
	Arrived time.Time
	Level   string `json:"level"`
	Message string `json:"message"`
	// Metagraph and Axon are the addresses of the "neuron started" line.
	Metagraph string `json:"metagraph"`
	Axon      string `json:"axon"`
	// Seen, Peers, Synapses, Failed and the losses are those of a training line.
	Seen             int   `json:"seen"`
	Peers            int   `json:"peers"`
	Synapses         int   `json:"synapses"`
	Failed           int   `json:"failed"`
	LocalLoss        Float `json:"local_loss"`
	TargetLoss       Float `json:"target_loss"`
	DistillationLoss Float `json:"distillation_loss"`
	// Answered lists the Axon endpoints that answered a step's calls (the
	// trainer's debug line).
	Answered []string `json:"answered"`
	// Raw is the line as written.
	Raw string `json:"-"`
}

// IsStep reports whether l is a training line.
func (l Line) IsStep() bool { return strings.HasPrefix(l.Message, "Train Epoch:") }

// Float is a float64 that also reads the strings "NaN", "+Inf" and "-Inf",
// as zerolog writes non-finite numbers.
type Float float64

// UnmarshalJSON reads a JSON number or a non-finite number as a string.
func (f *Float) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("chaos: float %s: %w", b, err)
	}
	*f = Float(v)
	return nil
}

// Finite reports whether f is neither NaN nor infinite.
func (f Float) Finite() bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// Process is a running neuron process whose log is read line by line.
type Process struct {
	// Name names the process in messages.
	Name string
	cmd  *exec.Cmd
	// Lines receives the log lines; it is closed when the log ends. Lines
	// nobody reads in time are dropped, oldest first.
	Lines chan Line
	// exited is closed once the process is reaped.
	exited chan struct{}
}

// Start starts bin with args, reading its standard error as its log.
func Start(name, bin string, args ...string) (*Process, error) {
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("chaos: %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("chaos: start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, Lines: make(chan Line, 4096), exited: make(chan struct{})}
	go p.read(stderr)
	return p, nil
}

// read parses log lines until standard error ends, then reaps the process.
func (p *Process) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l Line
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			l = Line{Message: sc.Text()}
		}
		l.Raw, l.Arrived = sc.Text(), time.Now()
		select {
		case p.Lines <- l:
		default: // nobody reads now: drop the oldest
			select {
			case <-p.Lines:
			default:
			}
			p.Lines <- l
		}
	}
	close(p.Lines)
	_ = p.cmd.Wait() // the exit status is in ProcessState
	close(p.exited)
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to the process (and to no other).
func (p *Process) Signal(sig syscall.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("chaos: %v to %s (pid %d): %w", sig, p.Name, p.PID(), err)
	}
	return nil
}

// Stop kills the process if it still runs and waits up to timeout for it
// to be reaped, draining its log meanwhile.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Kill() // works on a stopped process too
	go func() {
		for range p.Lines {
		}
	}()
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("chaos: %s (pid %d) still running %v after SIGKILL", p.Name, p.PID(), timeout)
	}
}

// Exited is closed once the process has ended and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Await returns the first line satisfying ok, or an error when the process
// ends or deadline passes first (wrapping errTimeout). Every line read, matching or not, goes to
// each (when not nil) first; an error from each ends the wait.
func (p *Process) Await(what string, deadline <-chan time.Time, each func(Line) error, ok func(Line) bool) (Line, error) {
	var last string
	for {
		select {
		case l, open := <-p.Lines:
			if !open {
				return Line{}, fmt.Errorf("chaos: %s ended before %s; last line: %s", p.Name, what, last)
			}
			last = l.Raw
			if each != nil {
				if err := each(l); err != nil {
					return Line{}, err
				}
			}
			if ok(l) {
				return l, nil
			}
		case <-deadline:
			return Line{}, fmt.Errorf("chaos: %s: no %s in time: %w; last line: %s", p.Name, what, errTimeout, last)
		}
	}
}

// errTimeout is wrapped by the error of an Await whose deadline passed.
var errTimeout = errors.New("deadline passed")

// port returns the port of a host:port address such as "[::]:8091".
func port(addr string) (string, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("chaos: address %q: %w", addr, err)
	}
	return p, nil
}
