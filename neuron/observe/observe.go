package observe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Config sets an Observer's bounds. DefaultConfig documents every default.
type Config struct {
	// MaxPeerLabels bounds the distinct peer labels of the Dendrite's
	// metrics: the first MaxPeerLabels synapses called get a label of their
	// own (their key's first 8 hex digits), later ones share peer="other".
	MaxPeerLabels int
	// MaxPoints bounds the points of each training curve on the page.
	MaxPoints int
	// MaxTests bounds the test results kept for the page, the latest ones.
	MaxTests int
	// Samples is how many throughput samples are kept, one per SampleEvery.
	Samples     int
	SampleEvery time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns 64 peer labels, 1000 points per training curve, the
// last 500 test results, and 300 throughput samples taken each second
// (five minutes).
func DefaultConfig() Config {
	return Config{MaxPeerLabels: 64, MaxPoints: 1000, MaxTests: 500, Samples: 300, SampleEvery: time.Second}
}

// Observer collects one neuron's metrics and serves them with the live page.
// Its methods are safe for concurrent use.
type Observer struct {
	cfg      Config
	now      func() time.Time
	started  time.Time
	registry *prometheus.Registry

	axon     *axonHandler
	dendrite *dendriteMetrics
	train    *trainMetrics

	mu         sync.Mutex
	network    func() Network
	steps      *series[stepPoint]
	last       *stepPoint // the latest step, whether the curve kept it or not
	tests      *ring[testPoint]
	throughput *ring[throughputPoint]
	prev       totals // the counters at the previous throughput sample

	server  *http.Server
	served  chan error    // Serve's result
	stop    chan struct{} // closed by Close: ends the sampler
	sampled chan struct{} // closed when the sampler has ended
}

// New returns an Observer with its own registry holding the neuron's
// metrics, the Go runtime's and the process's (memory, CPU, open files).
func New(cfg Config) *Observer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = time.Second
	}
	o := &Observer{
		cfg:        cfg,
		now:        cfg.Now,
		started:    cfg.Now(),
		registry:   prometheus.NewRegistry(),
		network:    func() Network { return Network{} },
		steps:      newSeries[stepPoint](cfg.MaxPoints),
		tests:      newRing[testPoint](cfg.MaxTests),
		throughput: newRing[throughputPoint](cfg.Samples),
	}
	o.axon = newAxonHandler(o.registry)
	o.dendrite = newDendriteMetrics(o.registry, cfg.MaxPeerLabels)
	o.train = newTrainMetrics(o.registry)
	o.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		networkCollector{o},
	)
	return o
}

// Registry returns the Observer's Prometheus registry, to add metrics to.
func (o *Observer) Registry() *prometheus.Registry { return o.registry }

// Start serves the page, its data and the metrics on addr (host:port; port
// 0 picks a free one) until Close, and samples the throughput every
// SampleEvery. network tells what the neuron knows of its network when the
// page or a scrape asks. It returns the address listened on.
func (o *Observer) Start(addr string, network func() Network) (net.Addr, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.server != nil {
		lis.Close()
		return nil, errors.New("observe: already started")
	}
	if network != nil {
		o.network = network
	}
	o.server = &http.Server{
		Handler:           o.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	o.served = make(chan error, 1)
	o.stop, o.sampled = make(chan struct{}), make(chan struct{})
	go func() { o.served <- o.server.Serve(lis) }()
	go o.sample(o.stop) // handed over now: Close may clear o.stop before sample runs
	return lis.Addr(), nil
}

// closeTimeout bounds how long Close waits for the requests in progress.
const closeTimeout = 5 * time.Second

// Close stops serving and the sampler: it waits up to closeTimeout for the
// requests in progress, then closes every connection. It is idempotent; an
// Observer never started needs no Close.
func (o *Observer) Close() error {
	o.mu.Lock()
	srv, stop := o.server, o.stop
	o.stop = nil
	o.mu.Unlock()
	if srv == nil || stop == nil {
		return nil
	}
	close(stop)
	<-o.sampled
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		err = srv.Close()
	}
	if serveErr := <-o.served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("observe: close: %w", err)
	}
	return nil
}

// sample records a throughput sample every SampleEvery until stop closes.
func (o *Observer) sample(stop <-chan struct{}) {
	defer close(o.sampled)
	o.mu.Lock()
	o.prev = o.totals()
	o.mu.Unlock()
	tick := time.NewTicker(o.cfg.SampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			o.mu.Lock()
			o.addSample()
			o.mu.Unlock()
		}
	}
}

// totals are the counters the throughput is computed from.
type totals struct {
	at                                 time.Time
	examples, requests, bytesIn, calls float64
	bytesOut                           float64
}

// totals reads the counters now; o.mu is held.
func (o *Observer) totals() totals {
	a := o.axon.totals()
	return totals{
		at:       o.now(),
		examples: o.train.examples(),
		requests: a.requests, bytesIn: a.bytesIn, bytesOut: a.bytesOut,
		calls: o.dendrite.total(),
	}
}

// addSample records the rates since the previous sample; o.mu is held.
func (o *Observer) addSample() {
	cur := o.totals()
	dt := cur.at.Sub(o.prev.at).Seconds()
	if dt <= 0 {
		return
	}
	rate := func(now, before float64) number { return number(math.Max(0, now-before) / dt) }
	o.throughput.add(throughputPoint{
		T:              millis(cur.at),
		ExamplesPerSec: rate(cur.examples, o.prev.examples),
		RequestsPerSec: rate(cur.requests, o.prev.requests),
		BytesInPerSec:  rate(cur.bytesIn, o.prev.bytesIn),
		BytesOutPerSec: rate(cur.bytesOut, o.prev.bytesOut),
		CallsPerSec:    rate(cur.calls, o.prev.calls),
	})
	o.prev = cur
}

// millis returns t in milliseconds since the Unix epoch, as the page's
// JavaScript counts time.
func millis(t time.Time) int64 { return t.UnixMilli() }
