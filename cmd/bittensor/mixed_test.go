package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
)

// mixedKind is one kind of neuron in the mixed network test: its name for
// `bittensor run`, flags that make it start and step quickly, and how many
// of it to start.
type mixedKind struct {
	name  string
	args  []string
	count int
}

// mixedKinds are the kinds the mixed network test runs together. Each must
// ask something no other kind serves (another modality, other inputs or
// another output width), so that each fits only its own kind.
func mixedKinds() []mixedKind {
	return []mixedKind{
		{name: "mnist", count: 2},
		{name: "fortune", count: 2},
		// One each: a DPN26 step takes seconds on a CPU, so small batches.
		{name: "cifar", args: []string{"--dataset", "fashion-mnist", "--batch_size", "2"}, count: 1},
		{name: "bert", args: []string{"--batch_size", "4"}, count: 1},
	}
}

// mixedLine holds the fields of a neuron's log line the mixed test reads.
type mixedLine struct {
	Message     string   `json:"message"`
	Metagraph   string   `json:"metagraph"`
	SynapseKeys []string `json:"synapse_keys"`
	Routed      []string `json:"routed"`
	Definitions int      `json:"definitions"`
	AxonReqs    uint64   `json:"axon_requests"`
	AxonUnfit   uint64   `json:"axon_unfit"`
}

// mixedMember is a neuron process of the mixed test and what its log showed.
type mixedMember struct {
	kind string
	p    *process

	mu        sync.Mutex
	metagraph string          // its metagraph address, once logged
	synapse   string          // its synapse key, once logged
	routed    map[string]bool // every synapse label a training line named
	steps     int             // training lines seen
	maxDefs   int             // most definitions its metagraph held
	axonReqs  uint64          // requests its Axon served, last seen
	axonUnfit uint64          // requests its Axon refused as unfit, most seen
	done      chan struct{}   // closed when its log ends
}

// watch reads every line of the member's log until it ends.
func (m *mixedMember) watch() {
	defer close(m.done)
	for l := range m.p.lines {
		var ml mixedLine
		if json.Unmarshal([]byte(l.raw), &ml) != nil {
			continue
		}
		m.mu.Lock()
		if ml.Message == "neuron started" && len(ml.SynapseKeys) == 1 {
			m.metagraph, m.synapse = ml.Metagraph, ml.SynapseKeys[0]
		}
		if strings.HasPrefix(ml.Message, "Train Epoch:") {
			m.steps++
			for _, r := range ml.Routed {
				m.routed[r] = true
			}
			m.maxDefs = max(m.maxDefs, ml.Definitions)
			m.axonReqs = ml.AxonReqs
			m.axonUnfit = max(m.axonUnfit, ml.AxonUnfit)
		}
		m.mu.Unlock()
	}
}

// A network of neurons of different kinds: every metagraph holds every
// definition, each neuron trains with the peers of its kind, and no neuron
// ever routes to a synapse of another kind, whose Axon refuses nothing as
// unfit.
func TestMixedNetworkRoutesOnlyToFittingSynapses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several training processes")
	}
	bin := buildBinary(t)
	kinds := mixedKinds()
	fast := []string{"--log_interval", "1"}
	var members []*mixedMember
	start := func(k mixedKind, i int, extra ...string) *mixedMember {
		args := append(append(slices.Clone(fast), k.args...), extra...)
		m := &mixedMember{kind: k.name, routed: map[string]bool{}, done: make(chan struct{}),
			p: startKind(t, bin, k.name, fmt.Sprintf("%s #%d", k.name, i), args...)}
		go m.watch()
		members = append(members, m)
		return m
	}
	first := start(kinds[0], 0)
	bootstrap := awaitMember(t, first, "its metagraph address", 60*time.Second, func(m *mixedMember) bool { return m.metagraph != "" }).metagraph
	for _, k := range kinds {
		for i := range k.count {
			if k.name == first.kind && i == 0 {
				continue
			}
			start(k, i, "--bootstrap", bootstrap)
		}
	}
	total := len(members)
	for _, m := range members {
		awaitMember(t, m, "its synapse key", 60*time.Second, func(m *mixedMember) bool { return m.synapse != "" })
	}
	keysOf := func(kind string) map[string]bool {
		keys := map[string]bool{}
		for _, m := range members {
			if m.kind == kind {
				keys[m.synapse[:8]] = true
			}
		}
		return keys
	}

	// Each neuron holds every definition and has routed to a peer of its
	// own kind (when there is one).
	for _, m := range members {
		peers := len(keysOf(m.kind)) > 1
		awaitMember(t, m, fmt.Sprintf("all %d definitions and a step routed to a peer of its kind", total), 120*time.Second,
			func(m *mixedMember) bool {
				if m.maxDefs < total || m.steps == 0 {
					return false
				}
				for r := range m.routed {
					if r != m.synapse[:8] {
						return true
					}
				}
				return !peers
			})
	}
	for _, m := range members {
		if err := m.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range members {
		select {
		case <-m.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%s still running 60 s after SIGTERM", m.p.name)
		}
		<-m.p.exited
		if code := m.p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s: exit status %d after SIGTERM, want 0", m.p.name, code)
		}
	}

	// Over every training step of every neuron: only its own kind was
	// called, and no Axon refused a request as unfit.
	for _, m := range members {
		own := keysOf(m.kind)
		var routed []string
		for r := range m.routed {
			routed = append(routed, r)
			if !own[r] {
				t.Errorf("%s routed to synapse %s, not one of its kind %v", m.p.name, r, own)
			}
		}
		if m.axonUnfit != 0 {
			t.Errorf("%s's Axon refused %d requests as unfit", m.p.name, m.axonUnfit)
		}
		if len(own) > 1 && m.axonReqs == 0 {
			t.Errorf("%s's Axon served no request: its peers of the same kind never called it", m.p.name)
		}
		slices.Sort(routed)
		t.Logf("%s (synapse %s): %d steps, %d definitions held, routed to %v, served %d requests",
			m.p.name, m.synapse[:8], m.steps, m.maxDefs, routed, m.axonReqs)
	}
}

// awaitMember polls what m's log showed until ok holds, failing the test
// when the deadline passes or the process ends first.
func awaitMember(t *testing.T, m *mixedMember, what string, timeout time.Duration, ok func(*mixedMember) bool) *mixedMember {
	t.Helper()
	eventually.NoError(t, timeout, func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if ok(m) {
			return nil
		}
		select {
		case <-m.done:
			return eventually.Stop(fmt.Errorf("%s ended first", m.p.name))
		default:
		}
		return fmt.Errorf("steps %d, definitions %d, routed %v", m.steps, m.maxDefs, m.routed)
	}, "%s: %s", m.p.name, what)
	return m
}
