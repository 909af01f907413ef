// Package etcdlocal starts a real etcd cluster on 127.0.0.1 for tests and
// benchmarks: Debian's etcd-server binary (/usr/bin/etcd), one process per
// member, ports picked at run time, data in a temporary folder. Members are
// started and killed by their process id only.
//
//	c, err := etcdlocal.Start(ctx, etcdlocal.Options{Members: 3})
//	defer c.Close()
//	endpoint := c.Endpoint()   // etcd://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
//	err = c.Kill(0)            // SIGKILL member 0; the others keep quorum
package etcdlocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binary is where Debian's etcd-server package installs etcd.
const Binary = "/usr/bin/etcd"

// Options shape a cluster.
type Options struct {
	// Members is the number of etcd processes (default 3).
	Members int
	// Binary is the etcd executable (default Binary, or $ETCD when set).
	Binary string
	// StartTimeout bounds the wait for every member to report healthy
	// (default 30 s).
	StartTimeout time.Duration
}

// Cluster is a running local etcd cluster.
type Cluster struct {
	dir     string
	members []*member
}

type member struct {
	name       string
	clientURL  string
	clientAddr string
	cmd        *exec.Cmd
	log        *lockedBuffer
	done       chan struct{} // closed when the process has exited and been reaped
	killed     bool
}

// Start starts the members with fast elections (heartbeat 50 ms, election
// 500 ms, so etcd's shortest lease is about 1 s) and waits until each one
// reports healthy. A member that exits while starting (another program took
// a port picked for it in the meantime) makes it try again with new ports,
// three times at most. On failure it stops what it started and returns an
// error that quotes the members' logs.
func Start(ctx context.Context, opt Options) (*Cluster, error) {
	var err error
	for range 3 {
		var c *Cluster
		if c, err = start(ctx, opt); !errors.Is(err, errMemberExited) {
			return c, err
		}
	}
	return nil, err
}

// errMemberExited: a member's process ended before it was healthy.
var errMemberExited = errors.New("exited while starting")

func start(ctx context.Context, opt Options) (*Cluster, error) {
	if opt.Members == 0 {
		opt.Members = 3
	}
	if opt.Binary == "" {
		opt.Binary = os.Getenv("ETCD")
	}
	if opt.Binary == "" {
		opt.Binary = Binary
	}
	if opt.StartTimeout == 0 {
		opt.StartTimeout = 30 * time.Second
	}
	if _, err := os.Stat(opt.Binary); err != nil {
		return nil, fmt.Errorf("etcdlocal: %w (install Debian's etcd-server package: apt-get install etcd-server)", err)
	}
	dir, err := os.MkdirTemp("", "etcdlocal-")
	if err != nil {
		return nil, fmt.Errorf("etcdlocal: %w", err)
	}
	ports, err := freePorts(2 * opt.Members)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &Cluster{dir: dir}
	var initial []string
	for i := range opt.Members {
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[2*i+1]))
	}
	for i := range opt.Members {
		m := &member{
			name:       fmt.Sprintf("m%d", i),
			clientAddr: "127.0.0.1:" + strconv.Itoa(ports[2*i]),
			log:        &lockedBuffer{},
			done:       make(chan struct{}),
		}
		m.clientURL = "http://" + m.clientAddr
		peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		m.cmd = exec.Command(opt.Binary,
			"--name", m.name,
			"--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", m.clientURL,
			"--advertise-client-urls", m.clientURL,
			"--listen-peer-urls", peerURL,
			"--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", filepath.Base(dir),
			"--heartbeat-interval", "50",
			"--election-timeout", "500",
			"--logger", "zap",
			"--log-level", "warn",
		)
		m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
		m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
		if err := m.cmd.Start(); err != nil {
			c.Close()
			return nil, fmt.Errorf("etcdlocal: start %s: %w", m.name, err)
		}
		go func(m *member) { m.cmd.Wait(); close(m.done) }(m)
		c.members = append(c.members, m)
	}
	ctx, cancel := context.WithTimeout(ctx, opt.StartTimeout)
	defer cancel()
	for i := range c.members {
		if err := c.waitHealthy(ctx, i); err != nil {
			logs := c.Logs()
			c.Close()
			return nil, fmt.Errorf("%w\n%s", err, logs)
		}
	}
	return c, nil
}

// Endpoints returns the client addresses of the members, host:port.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.clientAddr
	}
	return out
}

// Endpoint returns the chain endpoint naming every member: etcd://a,b,c.
func (c *Cluster) Endpoint() string { return "etcd://" + strings.Join(c.Endpoints(), ",") }

// Kill sends SIGKILL to member i (by its process id) and waits for it to exit.
func (c *Cluster) Kill(i int) error {
	m := c.members[i]
	if m.killed {
		return nil
	}
	m.killed = true
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("etcdlocal: kill %s: %w", m.name, err)
	}
	<-m.done
	return nil
}

// Close kills every member still running and removes the data folder.
func (c *Cluster) Close() error {
	var errs []error
	for i := range c.members {
		errs = append(errs, c.Kill(i))
	}
	errs = append(errs, os.RemoveAll(c.dir))
	return errors.Join(errs...)
}

// Logs returns the tail of every member's log, for a failure message.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, m := range c.members {
		out := m.log.String()
		if len(out) > 2000 {
			out = "…" + out[len(out)-2000:]
		}
		fmt.Fprintf(&b, "--- etcd %s (%s) ---\n%s\n", m.name, m.clientAddr, out)
	}
	return b.String()
}

// healthPoll is the interval between two health checks while starting.
const healthPoll = 50 * time.Millisecond

// waitHealthy polls member i's /health until it says true, it exits or ctx ends.
func (c *Cluster) waitHealthy(ctx context.Context, i int) error {
	m := c.members[i]
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(healthPoll)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.clientURL+"/health", nil)
		if err != nil {
			return fmt.Errorf("etcdlocal: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"health":"true"`)) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcdlocal: %s at %s not healthy: %w", m.name, m.clientAddr, ctx.Err())
		case <-m.done:
			return fmt.Errorf("etcdlocal: %s %w", m.name, errMemberExited)
		case <-tick.C:
		}
	}
}

// freePorts returns n distinct ports free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("etcdlocal: pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// lockedBuffer collects a process's output safely while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
