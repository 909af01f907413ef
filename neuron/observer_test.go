package neuron_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/axon"
	"github.com/opentensor/bittensor-go/neuron/dendrite"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/nettest"
	"github.com/opentensor/bittensor-go/neuron/internal/neurontest"
	"github.com/opentensor/bittensor-go/neuron/wire"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/opentensor/bittensor-go/neuron/observe"
	"github.com/opentensor/bittensor-go/neuron/observe/observetest"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// scrapeNeuron scrapes n's metrics from an httptest server of its Observer.
func scrapeNeuron(t *testing.T, n *neuron.Neuron) observetest.Metrics {
	t.Helper()
	srv := httptest.NewServer(n.Observer.Handler())
	defer srv.Close()
	m, err := observetest.Scrape(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scrapeUntil scrapes n's metrics until done accepts them, for at most
// 10 s, and returns the last scrape.
func scrapeUntil(t *testing.T, n *neuron.Neuron, done func(observetest.Metrics) bool) observetest.Metrics {
	t.Helper()
	var m observetest.Metrics
	start := time.Now()
	eventually.True(t, 10*time.Second, func() bool {
		m = scrapeNeuron(t, n)
		return done(m) || time.Since(start) >= 10*time.Second
	}, "the metrics reach their awaited state")
	return m
}

// metric returns a series' value, failing the test when it is missing.
func metric(t *testing.T, m observetest.Metrics, name string, labels ...string) float64 {
	t.Helper()
	v, ok := m.Value(name, labels...)
	if !ok {
		t.Fatalf("no series %s %v", name, labels)
	}
	return v
}

// B's training steps call A's synapse over the wire: A's Axon metrics count
// the Forward and Backward RPCs with their bytes and latency, a refused
// request under its code; B's Dendrite metrics count the calls to A's
// synapse; both neurons count steps and gossip rounds, and B's page lists
// both synapses with its weights.
func TestNeuronMetricsFollowItsCalls(t *testing.T) {
	torch.ManualSeed(5)
	cfgA := neurontest.Config()
	_, nA, synA := neurontest.StartTinyNeuron(t, cfgA)
	cfgB := neurontest.Config()
	cfgB.Bootstrap = nA.Metagraph.Addr()
	trB, nB, synB := neurontest.StartTinyNeuron(t, cfgB)
	neurontest.AwaitSynapse(t, trB, nB, synA.Key(), 10*time.Second)
	before := metricOr(scrapeNeuron(t, nB), "bittensor_train_steps_total")
	const steps = 5
	for i := range steps {
		res, err := trB.Step(context.Background(), neurontest.TinyBatch())
		if err != nil || res.Failed != 0 {
			t.Fatalf("B's step %d: %+v, %v", i, res, err)
		}
	}

	// A refused request: unsigned.
	conn, err := grpc.NewClient(nA.Axon.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = bittensorpb.NewBittensorClient(conn).Forward(ctx, &bittensorpb.TensorMessage{
		Version: wire.ProtocolVersion, NeuronKey: nB.Key.PublicHex(), SynapseKey: synA.Key()})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("unsigned request: %v, want UNAUTHENTICATED", err)
	}

	// The Axon counts and times a request when gRPC reports its end, which
	// may come after the caller has the answer: scrape until the requests
	// are all counted and every Forward counted is timed too (bounded).
	mA := scrapeUntil(t, nA, func(m observetest.Metrics) bool {
		ok, _ := m.Value("bittensor_axon_requests_total", "method", "Forward", "code", "OK")
		refused, _ := m.Value("bittensor_axon_requests_total", "method", "Forward", "code", "Unauthenticated")
		timed, _ := m.Value("bittensor_axon_request_duration_seconds", "method", "Forward")
		backwards, _ := m.Value("bittensor_axon_requests_total", "method", "Backward", "code", "OK")
		return ok >= steps && refused == 1 && timed == ok+refused && backwards >= 1
	})
	forwards := metric(t, mA, "bittensor_axon_requests_total", "method", "Forward", "code", "OK")
	if forwards < steps || metric(t, mA, "bittensor_axon_requests_total", "method", "Backward", "code", "OK") < 1 {
		t.Errorf("A's Axon answered %v Forwards and %v Backwards, want at least %d and 1", forwards,
			metric(t, mA, "bittensor_axon_requests_total", "method", "Backward", "code", "OK"), steps)
	}
	if got := metric(t, mA, "bittensor_axon_requests_total", "method", "Forward", "code", "Unauthenticated"); got != 1 {
		t.Errorf("A's Axon refused %v unsigned requests, want 1", got)
	}
	if got := metric(t, mA, "bittensor_axon_request_duration_seconds", "method", "Forward"); got != forwards+1 {
		t.Errorf("A's Forward latency count %v, want %v", got, forwards+1)
	}
	if metric(t, mA, "bittensor_axon_received_bytes_total", "method", "Forward") <= 0 ||
		metric(t, mA, "bittensor_axon_sent_bytes_total", "method", "Forward") <= 0 {
		t.Error("A's Axon counted no bytes")
	}

	mB := scrapeNeuron(t, nB)
	peerA := observe.ShortKey(synA.Key())
	if got := metric(t, mB, "bittensor_dendrite_calls_total", "peer", peerA, "direction", "forward", "outcome", "success"); got < steps {
		t.Errorf("B's successful Forward calls to A: %v, want at least %d", got, steps)
	}
	if got := metric(t, mB, "bittensor_dendrite_call_duration_seconds", "peer", peerA, "direction", "backward"); got < 1 {
		t.Errorf("B's Backward calls to A timed: %v, want at least 1", got)
	}
	if got := metric(t, mB, "bittensor_train_steps_total") - before; got != steps {
		t.Errorf("B's steps counted %v, want %d", got, steps)
	}
	if got := metric(t, mB, "bittensor_metagraph_synapses"); got != 2 {
		t.Errorf("B's metagraph holds %v synapses, want 2", got)
	}
	if got := metric(t, mB, "bittensor_metagraph_gossip_rounds_total"); got < 1 {
		t.Errorf("B's gossip rounds %v, want at least 1", got)
	}
	if _, ok := mB.Value("process_resident_memory_bytes"); !ok {
		t.Error("no process memory metric")
	}

	// The page's data, from the served port.
	resp, err := http.Get("http://" + nB.MetricsAddr.String() + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Synapses []struct {
			SynapseKey string  `json:"synapse_key"`
			NeuronKey  string  `json:"neuron_key"`
			Local      bool    `json:"local"`
			Weight     float64 `json:"weight"`
			Forwards   uint64  `json:"forwards"`
		} `json:"synapses"`
		Weights struct {
			Rows []string `json:"rows"`
			Cols []string `json:"cols"`
		} `json:"weights"`
		Steps []json.RawMessage `json:"steps"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range st.Synapses {
		got[s.SynapseKey] = true
		switch s.SynapseKey {
		case synA.Key():
			if s.Local || s.NeuronKey != nA.Key.PublicHex() || s.Forwards < steps || !(s.Weight > 0) {
				t.Errorf("A's synapse on B's page: %+v", s)
			}
		case synB.Key():
			if !s.Local {
				t.Errorf("B's own synapse is not marked local: %+v", s)
			}
		}
	}
	if len(st.Synapses) != 2 || !got[synA.Key()] || !got[synB.Key()] {
		t.Errorf("B's page lists %+v, want A's and B's synapses", st.Synapses)
	}
	if len(st.Weights.Rows) != 1 || st.Weights.Rows[0] != nB.Key.PublicHex() || len(st.Weights.Cols) != 2 {
		t.Errorf("B's weight matrix %+v, want B's row over 2 synapses", st.Weights)
	}
	if len(st.Steps) < steps {
		t.Errorf("B's page has %d steps, want at least %d", len(st.Steps), steps)
	}
}

// metricOr returns a series' value, 0 when it is missing.
func metricOr(m observetest.Metrics, name string, labels ...string) float64 {
	v, _ := m.Value(name, labels...)
	return v
}

// A neuron started with MetricsPort -1 serves no page; its metrics are
// still kept.
func TestMetricsPortOff(t *testing.T) {
	cfg := neurontest.Config()
	cfg.MetricsPort = -1
	tr, n, _ := neurontest.StartTinyNeuron(t, cfg)
	if n.MetricsAddr != nil {
		t.Fatalf("metrics served on %v with MetricsPort -1", n.MetricsAddr)
	}
	if _, err := tr.Step(context.Background(), neurontest.TinyBatch()); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, scrapeNeuron(t, n), "bittensor_train_steps_total"); got != 1 {
		t.Errorf("steps %v, want 1", got)
	}
}

// A request the Axon's admission refuses from its headers alone, which gRPC
// never shows its stats handlers, still reaches the Axon's metrics under
// its code.
func TestAxonMetricsCountAdmissionRefusals(t *testing.T) {
	obs := observe.New(observe.DefaultConfig())
	cfg := axon.DefaultConfig()
	cfg.MaxConcurrent, cfg.MaxQueued = 1, 0
	cfg.StatsHandlers = []stats.Handler{obs.AxonHandler()}
	syn := &fixture.GatedSynapse{LinearSynapse: fixture.NewLinearSynapse(t, 1), Entered: make(chan struct{}, 1), Release: make(chan struct{})}
	_, defs := nettest.StartAxon(t, cfg, syn)
	d := nettest.NewDendrite(t, 10*time.Second)
	ctx := context.Background()
	first := make(chan dendrite.Responses, 1)
	go func() {
		res, err := d.ForwardTensor(ctx, defs, []*torch.Tensor{torch.Ones([]int64{2, fixture.In})})
		if err != nil {
			t.Error(err)
		}
		first <- res
	}()
	<-syn.Entered // the one place is taken
	res, err := d.ForwardTensor(ctx, defs, []*torch.Tensor{torch.Ones([]int64{2, fixture.In})})
	if err != nil || status.Code(res.Errs[0]) != codes.ResourceExhausted {
		t.Fatalf("second request: %v %v, want RESOURCE_EXHAUSTED", res.Errs, err)
	}
	close(syn.Release)
	if r := <-first; r.Errs[0] != nil {
		t.Fatalf("first request: %v", r.Errs[0])
	}
	srv := httptest.NewServer(obs.Handler())
	defer srv.Close()
	m, err := observetest.Scrape(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]float64{"OK": 1, "ResourceExhausted": 1} {
		if got := metric(t, m, "bittensor_axon_requests_total", "method", "Forward", "code", code); got != want {
			t.Errorf("Forward %s: %v, want %v", code, got, want)
		}
	}
	if got := metric(t, m, "bittensor_axon_requests_in_flight"); got != 0 {
		t.Errorf("in flight %v after both ended, want 0", got)
	}
}
