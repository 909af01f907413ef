package metagraph

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/opentensor/bittensor-go/internal/testing/etcdlocal"
	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// One 3-member etcd cluster serves every chain test but the one that kills a
// member; each test writes under a prefix of its own.
var shared struct {
	once    sync.Once
	cluster *etcdlocal.Cluster
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cluster != nil {
		shared.cluster.Close()
	}
	os.Exit(code)
}

func sharedCluster(t *testing.T) *etcdlocal.Cluster {
	t.Helper()
	shared.once.Do(func() {
		shared.cluster, shared.err = etcdlocal.Start(context.Background(), etcdlocal.Options{Members: 3})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.cluster
}

// chainConfig is the fast local configuration of the chain tests: TTL 2 s
// (the lease's), refresh every 100 ms, 4 bits of work.
func chainConfig() Config {
	c := LocalConfig()
	c.Period, c.Refresh = 100*time.Millisecond, 100*time.Millisecond
	return c
}

func chainSettings(endpoints []string, prefix string) ChainConfig {
	c := DefaultChainConfig()
	c.Endpoints, c.Prefix = endpoints, prefix
	c.DialTimeout, c.CallTimeout = 2*time.Second, 2*time.Second
	return c
}

// chainMember starts a Chain with one synapse; it stops when the test ends.
func chainMember(t *testing.T, endpoints []string, prefix, name string, opts ...ChainOption) (*Chain, synapseID) {
	t.Helper()
	key := labelKey(t, name)
	opts = append(opts, WithChainErrors(func(err error) { t.Logf("%s: %v", name, err) }))
	mg, err := NewChain(context.Background(), chainConfig(), chainSettings(endpoints, prefix), key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mg.Stop() })
	syn := labelKey(t, name+" synapse").PublicHex()
	if err := mg.Subscribe(NewSynapseDefinition(syn, "127.0.0.1", 8091)); err != nil {
		t.Fatal(err)
	}
	if err := mg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return mg, synapseID{key.PublicHex(), syn}
}

// rawClient is a plain etcd client, for looking at (and forging) what is stored.
func rawClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func holds(mg Metagraph, id synapseID) bool {
	_, ok := synapseKeys(mg.GetSynapses(1000))[id]
	return ok
}

// Neurons find each other through etcd: each lists the other's synapse and
// counts the other as a peer, and sees its join as an event.
func TestChainMembersFindEachOther(t *testing.T) {
	c := sharedCluster(t)
	var mu sync.Mutex
	var joins []ChainEvent
	a, idA := chainMember(t, c.Endpoints(), "/find/", "chain A", WithChainEvents(func(ev ChainEvent) {
		mu.Lock()
		joins = append(joins, ev)
		mu.Unlock()
	}))
	b, idB := chainMember(t, c.Endpoints()[1:], "/find/", "chain B")
	eventually.True(t, 5*time.Second, func() bool {
		return holds(a, idB) && holds(b, idA)
	}, "A and B know each other")
	if p := a.GetPeers(10); !slices.Equal(p, []string{idB.neuron}) {
		t.Errorf("A's peers %v, want B's neuron key", p)
	}
	if got := a.GetSynapses(10); len(got) != 2 || idOf(got[0]) != idA {
		t.Errorf("A lists %d synapses, first %v; want 2, its own first", len(got), got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(joins) != 1 || !joins[0].Joined || joins[0].Synapse != idB.synapse {
		t.Errorf("A's events %+v, want one join of B's synapse", joins)
	}
	if !strings.HasPrefix(a.Addr(), "etcd://127.0.0.1:") {
		t.Errorf("Addr %q", a.Addr())
	}
}

// A clean stop revokes the lease: the others forget the neuron at once; a
// neuron that dies (no revoke, no keep-alive) is deleted by etcd within its
// lease's TTL.
func TestChainStopAndDeath(t *testing.T) {
	c := sharedCluster(t)
	raw := rawClient(t, c.Endpoints())
	a, _ := chainMember(t, c.Endpoints(), "/death/", "death A")
	b, idB := chainMember(t, c.Endpoints(), "/death/", "death B")
	d, idD := chainMember(t, c.Endpoints(), "/death/", "death D")
	eventually.True(t, 5*time.Second, func() bool { return holds(a, idB) && holds(a, idD) }, "A knows B and D")

	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	took := eventually.True(t, time.Second, func() bool { return !holds(a, idB) }, "A forgets the stopped B")
	t.Logf("a stopped neuron left A's view after %v", took)

	if err := d.stop(false); err != nil { // as if the process were killed
		t.Fatal(err)
	}
	ttl := chainConfig().TTL
	keyD := synapseKeyPath("/death/", idD)
	took = eventually.True(t, ttl+time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := raw.Get(ctx, keyD)
		return err == nil && len(resp.Kvs) == 0
	}, "etcd deletes the dead D's definition")
	t.Logf("etcd deleted a dead neuron's definition after %v (TTL %v)", took, ttl)
	eventually.True(t, 200*time.Millisecond, func() bool { return !holds(a, idD) }, "A forgets the dead D")
}

// Values written straight into etcd by someone without the owner's key are
// ignored and counted: a forged signature, a copy under another neuron's key,
// junk, an oversize value, an old definition replayed, a forged weights
// record, a key outside the layout.
func TestChainIgnoresForgeries(t *testing.T) {
	c := sharedCluster(t)
	const prefix = "/forge/"
	raw := rawClient(t, c.Endpoints())
	a, _ := chainMember(t, c.Endpoints(), prefix, "forge A")
	before := a.Stats().Rejected

	cfg := chainConfig()
	owner, forger := labelKey(t, "forge owner"), labelKey(t, "forger")
	now := time.Now()
	put := func(key string, value []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := raw.Put(ctx, key, string(value)); err != nil {
			t.Fatal(err)
		}
	}
	marshal := func(d *bittensorpb.Synapse) []byte {
		b, err := marshalSynapse(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Signed by the forger but claiming the owner's neuron key.
	forged := signedDef(t, forger, "forged synapse", now, cfg.PoWBits)
	forged.NeuronKey = owner.PublicHex()
	rework(forged, cfg.PoWBits) // the work holds; only the signature is wrong
	put(synapseKeyPath(prefix, idOf(forged)), marshal(forged))
	// A valid definition of the owner's, under the forger's neuron key.
	valid := signedDef(t, owner, "owner synapse", now, cfg.PoWBits)
	put(synapseKeyPath(prefix, synapseID{forger.PublicHex(), valid.GetSynapseKey()}), marshal(valid))
	// Junk, and a value over the limit.
	put(synapseKeyPath(prefix, synapseID{owner.PublicHex(), labelKey(t, "junk").PublicHex()}), []byte("\xff\xff junk"))
	put(synapseKeyPath(prefix, synapseID{owner.PublicHex(), labelKey(t, "big").PublicHex()}), make([]byte, DefaultChainConfig().MaxValueBytes+1))
	// A once-valid definition refreshed longer than a TTL ago (a replay).
	old := signedDef(t, owner, "old synapse", now.Add(-2*cfg.TTL), cfg.PoWBits)
	put(synapseKeyPath(prefix, idOf(old)), marshal(old))
	// A weights record signed by the forger, stored as the owner's.
	rec, err := encodeWeights(forger, now.UnixMilli(), []SynapseWeight{{owner.PublicHex(), valid.GetSynapseKey(), 1}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	put(weightsKeyPath(prefix, owner.PublicHex()), rec)
	put(prefix+"synapses/not-a-key", []byte("x"))
	const forgeries = 7

	// An honest newcomer written after the forgeries: once A sees it, A has
	// read every forgery (a watch delivers in revision order).
	b, idB := chainMember(t, c.Endpoints(), prefix, "forge B")
	eventually.True(t, 5*time.Second, func() bool { return holds(a, idB) }, "A sees the honest newcomer")
	got := a.GetSynapses(100)
	if len(got) != 2 {
		t.Errorf("A holds %d synapses, want its own and B's: %v", len(got), got)
	}
	if n := a.Stats().Rejected - before; n != forgeries {
		t.Errorf("A refused %d values, want the %d forgeries", n, forgeries)
	}
	for _, r := range a.WeightMatrix() {
		if r.Neuron == owner.PublicHex() {
			t.Errorf("A took the forged weights: %+v", r)
		}
	}
	// A member that starts after the forgeries reads them by listing and
	// refuses them the same way.
	late, _ := chainMember(t, c.Endpoints(), prefix, "forge late")
	if got := late.GetSynapses(100); len(got) != 3 {
		t.Errorf("a late member holds %d synapses, want 3 (A, B, its own)", len(got))
	}
	if n := late.Stats().Rejected; n != forgeries {
		t.Errorf("a late member refused %d values, want %d", n, forgeries)
	}
	_ = b
}

// Weights set on one neuron are published, signed, and readable by every
// other as a row of the network's weight matrix.
func TestChainPublishesWeights(t *testing.T) {
	c := sharedCluster(t)
	a, idA := chainMember(t, c.Endpoints(), "/weights/", "weights A")
	b, idB := chainMember(t, c.Endpoints(), "/weights/", "weights B")
	eventually.True(t, 5*time.Second, func() bool { return holds(a, idB) }, "A knows B")
	syn := a.GetSynapses(10)
	w := make([]float64, len(syn))
	for i, s := range syn {
		if idOf(s) == idB {
			w[i] = 0.75
		} else {
			w[i] = 0.25
		}
	}
	if err := a.SetWeights(syn, w); err != nil {
		t.Fatal(err)
	}
	if rows := b.WeightMatrix(); len(rows) != 0 {
		t.Errorf("B reads weights before anyone set any: %+v", rows)
	}
	want := []SynapseWeight{{idB.neuron, idB.synapse, 0.75}, {idA.neuron, idA.synapse, 0.25}}
	eventually.True(t, 5*time.Second, func() bool {
		rows := b.WeightMatrix()
		return len(rows) == 1 && rows[0].Neuron == idA.neuron && slices.Equal(rows[0].Weights, want)
	}, "B reads A's weights")
	if err := a.SetWeights(syn[:1], []float64{math.NaN()}); err == nil {
		t.Error("a NaN weight was accepted")
	}
}

// One etcd member is killed: the neurons keep their leases (their
// definitions outlive several TTLs) and a newcomer still joins.
func TestChainSurvivesMemberKill(t *testing.T) {
	c, err := etcdlocal.Start(context.Background(), etcdlocal.Options{Members: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, idA := chainMember(t, c.Endpoints(), "/kill/", "kill A")
	b, idB := chainMember(t, c.Endpoints(), "/kill/", "kill B")
	eventually.True(t, 5*time.Second, func() bool { return holds(a, idB) && holds(b, idA) }, "A and B know each other")
	// Kill the leader, the harder case: a new one is elected, and requests
	// in flight at the old one time out.
	leader := leaderOf(t, c)
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	rest := slices.Delete(slices.Clone(c.Endpoints()), leader, leader+1)
	n, idN := chainMember(t, rest, "/kill/", "kill newcomer")
	took := eventually.True(t, 10*time.Second, func() bool { return holds(a, idN) && holds(b, idN) }, "A and B see the newcomer after the kill")
	t.Logf("after the kill, a newcomer was seen by both within %v", took)
	// A lease TTL and a half later everyone still holds everyone:
	// keep-alives and refreshes went on through the other members.
	time.Sleep(3 * chainConfig().TTL / 2)
	for name, mg := range map[string]*Chain{"A": a, "B": b, "newcomer": n} {
		for _, id := range []synapseID{idA, idB, idN} {
			if !holds(mg, id) {
				t.Errorf("%s lost synapse %s after the member kill", name, keys.Label(id.synapse))
			}
		}
	}
}

// leaderOf returns the index of the cluster's leader.
func leaderOf(t *testing.T, c *etcdlocal.Cluster) int {
	t.Helper()
	raw := rawClient(t, c.Endpoints())
	for i, e := range c.Endpoints() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := raw.Status(ctx, e)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if st.Header.MemberId == st.Leader {
			return i
		}
	}
	t.Fatal("no member is the leader")
	return 0
}

// An endpoint where nothing listens, or where something that is not etcd
// answers, fails within the dial timeout with ErrChainUnreachable.
func TestNewChainUnreachable(t *testing.T) {
	gossip, _ := grpcMember(t, "not etcd")
	dead := deadAddr(t)
	for name, endpoint := range map[string]string{"nothing listens": dead, "not etcd": gossip.Addr()} {
		cc := chainSettings([]string{endpoint}, "/x/")
		cc.DialTimeout = time.Second
		start := time.Now()
		_, err := NewChain(context.Background(), chainConfig(), cc, labelKey(t, "dialer"))
		if !errors.Is(err, ErrChainUnreachable) {
			t.Errorf("%s: %v, want ErrChainUnreachable", name, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: took %v with a dial timeout of 1s", name, took)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", name, err)
		}
	}
}

func TestParseChainEndpoint(t *testing.T) {
	got, err := ParseChainEndpoint("etcd://127.0.0.1:2379,10.0.0.2:2380")
	if err != nil || !slices.Equal(got, []string{"127.0.0.1:2379", "10.0.0.2:2380"}) {
		t.Errorf("= %v, %v", got, err)
	}
	for _, bad := range []string{"", "127.0.0.1:2379", "http://127.0.0.1:2379", "etcd://", "etcd://host", "etcd://a:1,", "etcd://a:99999",
		"etcd://" + strings.Repeat("a:1,", maxChainEndpoints) + "a:1"} {
		if _, err := ParseChainEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestChainKeys(t *testing.T) {
	id := synapseID{labelKey(t, "n").PublicHex(), labelKey(t, "s").PublicHex()}
	if kind, got := parseChainKey("/p/", synapseKeyPath("/p/", id)); kind != chainKeySynapse || got != id {
		t.Errorf("synapse key: %v %v", kind, got)
	}
	if kind, got := parseChainKey("/p/", weightsKeyPath("/p/", id.neuron)); kind != chainKeyWeights || got.neuron != id.neuron {
		t.Errorf("weights key: %v %v", kind, got)
	}
	for _, bad := range []string{"/q/synapses/" + id.neuron + "/" + id.synapse, "/p/synapses/" + id.neuron, "/p/synapses/" + id.neuron + "/" + id.synapse + "/x",
		"/p/weights/" + strings.ToUpper(id.neuron), "/p/other/" + id.neuron, "/p/"} {
		if kind, _ := parseChainKey("/p/", bad); kind != chainKeyInvalid {
			t.Errorf("%q parsed as %v", bad, kind)
		}
	}
}

func TestWeightsRecord(t *testing.T) {
	k := labelKey(t, "weights owner")
	n1, s1, s2 := labelKey(t, "n1").PublicHex(), labelKey(t, "s1").PublicHex(), labelKey(t, "s2").PublicHex()
	rec, err := encodeWeights(k, 42, []SynapseWeight{{n1, s1, 0.1}, {n1, s2, 0.9}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeWeights(rec, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got.Neuron != k.PublicHex() || got.Nonce != 42 || !slices.Equal(got.Weights, []SynapseWeight{{n1, s2, 0.9}, {n1, s1, 0.1}}) {
		t.Errorf("decoded %+v", got)
	}
	if _, err := decodeWeights(rec, 1); !errors.Is(err, ErrMalformedWeights) {
		t.Errorf("over the entry limit: %v", err)
	}
	flipped := slices.Clone(rec)
	flipped[len(flipped)-70] ^= 1 // a weight's bit
	if _, err := decodeWeights(flipped, 10); !errors.Is(err, ErrBadWeightsSignature) {
		t.Errorf("a changed weight: %v", err)
	}
	if _, err := decodeWeights(rec[:len(rec)-1], 10); !errors.Is(err, ErrMalformedWeights) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := encodeWeights(k, 1, []SynapseWeight{{n1, s1, math.Inf(1)}}, 10); err == nil {
		t.Error("an infinite weight was encoded")
	}
	top, err := encodeWeights(k, 1, []SynapseWeight{{n1, s1, 0.1}, {n1, s2, 0.9}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeWeights(top, 1); err != nil || len(got.Weights) != 1 || got.Weights[0].Synapse != s2 {
		t.Errorf("a record capped at one entry keeps %+v, %v; want the highest weight", got, err)
	}
	book := newWeightBook(1)
	if !book.take(got) || book.take(&WeightsRecord{Neuron: "other", Nonce: 9}) || book.take(got) {
		t.Error("the weight book takes a full book's newcomer or a stale record")
	}
}

// deadAddr returns a 127.0.0.1 address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ports, err := freePortsForTest(1)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0])
}

func freePortsForTest(n int) ([]int, error) {
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		out = append(out, l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
	return out, nil
}
