package observe

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/neuron/observe/observetest"
)

// scrape serves o's handler on an httptest server and scrapes its /metrics.
func scrape(t *testing.T, o *Observer) observetest.Metrics {
	t.Helper()
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()
	m, err := observetest.Scrape(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func value(t *testing.T, m observetest.Metrics, name string, labels ...string) float64 {
	t.Helper()
	v, ok := m.Value(name, labels...)
	if !ok {
		t.Fatalf("no series %s %v", name, labels)
	}
	return v
}

// The Axon handler counts a gRPC server's RPCs by method and code, their
// bytes and their latency; a method that is not Forward or Backward is
// labelled other, whatever its name.
func TestAxonHandlerCountsRPCs(t *testing.T) {
	o := New(DefaultConfig())
	srv := grpc.NewServer(grpc.StatsHandler(o.AxonHandler()))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := healthpb.NewHealthClient(conn)
	for range 3 {
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "no such service"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: %v, want NOT_FOUND", err)
	}

	m := scrape(t, o)
	if got := value(t, m, "bittensor_axon_requests_total", "method", "other", "code", "OK"); got != 3 {
		t.Errorf("OK requests %v, want 3", got)
	}
	if got := value(t, m, "bittensor_axon_requests_total", "method", "other", "code", "NotFound"); got != 1 {
		t.Errorf("NotFound requests %v, want 1", got)
	}
	if got := value(t, m, "bittensor_axon_request_duration_seconds", "method", "other"); got != 4 {
		t.Errorf("latency histogram count %v, want 4", got)
	}
	if got := value(t, m, "bittensor_axon_received_bytes_total", "method", "other"); got <= 0 {
		t.Errorf("received bytes %v, want > 0", got)
	}
	if got := value(t, m, "bittensor_axon_sent_bytes_total", "method", "other"); got <= 0 {
		t.Errorf("sent bytes %v, want > 0", got)
	}
	if got := value(t, m, "bittensor_axon_requests_in_flight"); got != 0 {
		t.Errorf("in flight %v, want 0", got)
	}
	if got := m.LabelValues("bittensor_axon_requests_total", "method"); len(got) != 1 {
		t.Errorf("method labels %v, want only other", got)
	}
}

// An RPC shown to the handler only as a begin and an end (how the Axon
// reports a refusal by admission) is counted with its code.
func TestAxonHandlerCountsAnRPCWithoutPayloads(t *testing.T) {
	o := New(DefaultConfig())
	h := o.AxonHandler()
	ctx := h.TagRPC(context.Background(), &stats.RPCTagInfo{FullMethodName: "/Bittensor/Forward"})
	now := time.Now()
	h.HandleRPC(ctx, &stats.Begin{BeginTime: now})
	h.HandleRPC(ctx, &stats.End{BeginTime: now, EndTime: now, Error: status.Error(codes.ResourceExhausted, "busy")})
	m := scrape(t, o)
	if got := value(t, m, "bittensor_axon_requests_total", "method", "Forward", "code", "ResourceExhausted"); got != 1 {
		t.Errorf("refused Forward counted %v times, want 1", got)
	}
}

// Dendrite calls are counted per peer, direction and outcome; only the first
// MaxPeerLabels synapses get a label of their own, and keys that are not hex
// never reach a label.
func TestDendriteCallsHaveBoundedPeerLabels(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPeerLabels = 4
	o := New(cfg)
	key := func(i int) string { return strings.Repeat(string("0123456789abcdef"[i%16]), 64) }
	for i := range 16 {
		o.DendriteCall(key(i), false, 10*time.Millisecond, OutcomeSuccess)
	}
	o.DendriteCall(key(0), true, time.Second, OutcomeTimeout)
	o.DendriteCall(key(1), false, time.Second, "something else")
	o.DendriteCall("<script>", false, time.Second, OutcomeFailure)

	m := scrape(t, o)
	peers := m.LabelValues("bittensor_dendrite_calls_total", "peer")
	if len(peers) != 5 {
		t.Errorf("peer labels %v, want 4 and other", peers)
	}
	if got := value(t, m, "bittensor_dendrite_calls_total", "peer", "other"); got != 13 {
		t.Errorf("calls under other %v, want 12 past the cap and the bad key", got)
	}
	if got := value(t, m, "bittensor_dendrite_calls_total", "peer", "00000000", "direction", "backward", "outcome", "timeout"); got != 1 {
		t.Errorf("backward timeouts of peer 00000000: %v, want 1", got)
	}
	if got := value(t, m, "bittensor_dendrite_calls_total", "peer", "11111111", "outcome", "failure"); got != 1 {
		t.Errorf("an unknown outcome counts as a failure: got %v, want 1", got)
	}
	if got := value(t, m, "bittensor_dendrite_call_duration_seconds", "direction", "forward"); got != 18 {
		t.Errorf("forward latency count %v, want 18", got)
	}
	if ShortKey("<script>") != "invalid" || ShortKey("") != "invalid" || ShortKey(key(10)) != "aaaaaaaa" {
		t.Errorf("ShortKey: %q %q %q", ShortKey("<script>"), ShortKey(""), ShortKey(key(10)))
	}
}

// Steps and tests reach the metrics and the page's data; a skipped step's
// losses that are not finite are JSON nulls, not an encoding error.
func TestTrainingReachesMetricsAndState(t *testing.T) {
	o := New(DefaultConfig())
	o.Step(Step{Epoch: 0, Examples: 32, Elapsed: 100 * time.Millisecond, LocalLoss: 2, TargetLoss: 2.5, DistillationLoss: 0.1})
	o.Step(Step{Epoch: 0, Examples: 32, Elapsed: 200 * time.Millisecond, LocalLoss: math.NaN(), TargetLoss: math.Inf(1), Skipped: true})
	o.Step(Step{Epoch: 1, Examples: 16, Elapsed: 100 * time.Millisecond, LocalLoss: 1, TargetLoss: 1.5, DistillationLoss: 0.05})
	o.Test(Test{Epoch: 1, Loss: 0.7, LocalAccuracy: 0.8, NetworkAccuracy: 0.9})

	m := scrape(t, o)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bittensor_train_steps_total", nil, 3},
		{"bittensor_train_skipped_steps_total", nil, 1},
		{"bittensor_train_examples_total", nil, 80},
		{"bittensor_train_loss", []string{"loss", "local"}, 1},
		{"bittensor_train_examples_per_second", nil, 160},
		{"bittensor_train_epoch", nil, 1},
		{"bittensor_train_step_duration_seconds", nil, 3},
		{"bittensor_test_loss", nil, 0.7},
		{"bittensor_test_accuracy", []string{"path", "network"}, 0.9},
	} {
		if got := value(t, m, c.name, c.labels...); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s %v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := m.Value("process_resident_memory_bytes"); !ok {
		t.Error("no process memory metric")
	}
	if _, ok := m.Value("go_memstats_heap_alloc_bytes"); !ok {
		t.Error("no Go heap metric")
	}

	st := getState(t, o)
	if len(st.Steps) != 3 || st.LastStep == nil || st.LastStep.Step != 2 || len(st.Tests) != 1 {
		t.Fatalf("state: %d steps, last %+v, %d tests; want 3, step 2, 1", len(st.Steps), st.LastStep, len(st.Tests))
	}
	if st.Steps[1].Local != nil || st.Steps[1].Target != nil || *st.Steps[2].Local != 1 {
		t.Errorf("losses %v %v %v, want null, null and 1", st.Steps[1].Local, st.Steps[1].Target, *st.Steps[2].Local)
	}
}

// decodedState is the part of /api/state the tests read.
type decodedState struct {
	Steps []struct {
		Step   int      `json:"step"`
		Local  *float64 `json:"local"`
		Target *float64 `json:"target"`
	} `json:"steps"`
	LastStep *struct {
		Step int `json:"step"`
	} `json:"last_step"`
	Tests    []json.RawMessage `json:"tests"`
	Synapses []struct {
		SynapseKey string  `json:"synapse_key"`
		Weight     float64 `json:"weight"`
		BackoffMs  int64   `json:"backoff_ms"`
	} `json:"synapses"`
	Peers   []string `json:"peers"`
	Weights struct {
		Rows   []string     `json:"rows"`
		Values [][]*float64 `json:"values"`
	} `json:"weights"`
	Metagraph struct {
		Rounds uint64 `json:"gossip_rounds"`
	} `json:"metagraph"`
	Throughput []struct {
		ExamplesPerSec float64 `json:"examples_per_sec"`
	} `json:"throughput"`
}

func getState(t *testing.T, o *Observer) decodedState {
	t.Helper()
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/api/state: %s %s: %s", resp.Status, resp.Header.Get("Content-Type"), b)
	}
	var st decodedState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("/api/state: %v: %s", err, b)
	}
	return st
}

// The page's data holds the network as the neuron knows it: unknown
// weights are nulls, a backoff in the past is 0, and the Metagraph's
// counters reach both the page and the metrics.
func TestNetworkReachesStateAndMetrics(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cfg := DefaultConfig()
	cfg.Now = func() time.Time { return now }
	o := New(cfg)
	network := Network{
		NeuronKey: "aa", Peers: []string{"127.0.0.1:1"},
		Synapses: []Synapse{
			{SynapseKey: "s1", Local: true, Weight: 0.5},
			{SynapseKey: "s2", Weight: 0.25, BackoffUntil: now.Add(1500 * time.Millisecond), InARow: 2},
			{SynapseKey: "s3", BackoffUntil: now.Add(-time.Second)},
		},
		Weights: WeightMatrix{Rows: []string{"aa", "bb"}, Cols: []string{"s1", "s2", "s3"},
			Values: [][]float64{{0.5, 0.25, 0}, {math.NaN(), 1, math.Inf(-1)}}},
		Stats: MetagraphStats{Synapses: 3, Live: 1, Accepted: 7, GossipRounds: 10, GossipFailedRounds: 4},
	}
	addr, err := o.Start("127.0.0.1:0", func() Network { return network })
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	st := getState(t, o)
	if len(st.Synapses) != 3 || st.Synapses[1].BackoffMs != 1500 || st.Synapses[2].BackoffMs != 0 {
		t.Errorf("synapses %+v, want backoffs 1500 and 0", st.Synapses)
	}
	if len(st.Weights.Rows) != 2 || st.Weights.Values[1][0] != nil || st.Weights.Values[1][2] != nil || *st.Weights.Values[1][1] != 1 {
		t.Errorf("weights %+v, want nulls where not finite", st.Weights)
	}
	if st.Metagraph.Rounds != 10 || len(st.Peers) != 1 {
		t.Errorf("metagraph rounds %d, peers %v", st.Metagraph.Rounds, st.Peers)
	}
	m, err := observetest.Scrape("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bittensor_metagraph_synapses", nil, 3},
		{"bittensor_metagraph_live_peers", nil, 1},
		{"bittensor_metagraph_definitions_total", []string{"result", "accepted"}, 7},
		{"bittensor_metagraph_gossip_rounds_total", []string{"result", "ok"}, 6},
		{"bittensor_metagraph_gossip_rounds_total", []string{"result", "failed"}, 4},
		{"bittensor_dendrite_backed_off_synapses", nil, 1},
	} {
		if got := value(t, m, c.name, c.labels...); got != c.want {
			t.Errorf("%s %v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// The throughput samples are rates over the time between two samples.
func TestThroughputSamplesAreRates(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cfg := DefaultConfig()
	cfg.Now = func() time.Time { return now }
	o := New(cfg)
	o.mu.Lock()
	o.prev = o.totals()
	o.mu.Unlock()
	o.Step(Step{Examples: 64, Elapsed: time.Second})
	o.DendriteCall("ab", false, time.Millisecond, OutcomeSuccess)
	now = now.Add(2 * time.Second)
	o.mu.Lock()
	o.addSample()
	o.mu.Unlock()
	st := getState(t, o)
	if len(st.Throughput) != 1 || st.Throughput[0].ExamplesPerSec != 32 {
		t.Fatalf("throughput %+v, want one sample of 32 examples/s", st.Throughput)
	}
}

// The page and its files are served; other paths and methods are refused,
// and the page may load nothing from elsewhere.
func TestHandlerServesThePage(t *testing.T) {
	srv := httptest.NewServer(New(DefaultConfig()).Handler())
	defer srv.Close()
	for _, c := range []struct {
		method, path string
		code         int
		contains     string
	}{
		{"GET", "/", 200, `<script src="app.js"`},
		{"GET", "/app.js", 200, "api/state"},
		{"GET", "/style.css", 200, "--accent"},
		{"GET", "/metrics", 200, "bittensor_train_steps_total"},
		{"GET", "/nothing", 404, ""},
		{"POST", "/api/state", 405, ""},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.contains) {
			t.Errorf("%s %s: %d, want %d containing %q", c.method, c.path, resp.StatusCode, c.code, c.contains)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s %s: Content-Security-Policy %q", c.method, c.path, csp)
		}
	}
}

// Start serves until Close; Close is idempotent, a second Start fails, and
// a port in use is an error that names it.
func TestStartAndClose(t *testing.T) {
	o := New(DefaultConfig())
	addr, err := o.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Start("127.0.0.1:0", nil); err == nil {
		t.Error("a second Start succeeded")
	}
	if _, err := New(DefaultConfig()).Start(addr.String(), nil); err == nil {
		t.Error("Start on a port in use succeeded")
	}
	resp, err := http.Get("http://" + addr.String() + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if resp, err := http.Get("http://" + addr.String() + "/"); err == nil {
		resp.Body.Close()
		t.Error("still serving after Close")
	}
}

// Close right after Start returns, however the sampler's start is
// scheduled (it once waited forever when Close ran before the sampler read
// its stop channel).
func TestCloseRightAfterStart(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		for range 200 {
			o := New(DefaultConfig())
			if _, err := o.Start("127.0.0.1:0", nil); err != nil {
				done <- err
				return
			}
			if err := o.Close(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Close right after Start did not return")
	}
}
