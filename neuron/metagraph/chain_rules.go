package metagraph

import (
	"cmp"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// This file holds the chain backend's rules: what it stores in etcd, where,
// and how a member judges what it reads back. Plain Go over values, like
// state.go; chain.go is the shell that talks to etcd.
//
// Layout, under a prefix P (ChainConfig.Prefix, "/bittensor/" by default):
//
//	P synapses/<neuron key>/<synapse key>   a Synapse message (proto), signed and worked as for gossip
//	P weights/<neuron key>                  the neuron's signed weights record (below)
//
// Every key a neuron writes is put under its one lease, whose TTL is the
// definition's lifetime (Config.TTL): kept alive while the neuron runs,
// revoked on a clean stop, expired by etcd when it dies. So a death shows
// as a delete within one TTL, on every member at once.
//
// etcd is a store, not a trust root: anyone who can write to it can write
// anything. So a member
//   - ignores keys outside the layout and values longer than MaxValueBytes;
//   - takes a definition only when it decodes, names the same keys as its
//     etcd key, and passes every rule a gossiped one must (fields, version,
//     proof of work, signature, refresh time within TTL and clock skew,
//     newer nonce than the one held): a forged, replayed or stale value is
//     refused and counted, never stored;
//   - owners re-sign their definitions every Refresh, as with gossip, so a
//     value replayed into etcd after its owner died still expires TTL after
//     the owner's last refresh;
//   - takes a weights record only when it decodes exactly, holds at most
//     MaxWeights finite entries, is signed by the neuron its key names, and
//     is newer than the record held; at most Size records are kept;
//   - reads a listing in pages and at most Size keys of each kind, so no
//     amount of junk in etcd makes it hold more than its caches.
//
// A delete (lease expiry or revoke) forgets a remote definition; a local one
// is put again at the next refresh.
//
// Weights record (all integers big-endian):
//
//	1 byte version (1) ‖ 32 bytes neuron key ‖ int64 nonce (owner's clock, ms)
//	‖ uint32 count ‖ count × (32 bytes neuron key ‖ 32 bytes synapse key ‖ float64 weight)
//	‖ 64 bytes ed25519 signature of SHA-256(weightsDomain ‖ everything before it)

// Errors a value read from the chain is refused with; test with errors.Is.
var (
	// ErrChainUnreachable: no etcd member answered at the endpoint within the
	// dial timeout, or what answered is not etcd.
	ErrChainUnreachable = errors.New("chain unreachable")
	// ErrBadChainKey: the etcd key is not in the layout, or does not name the
	// keys its value holds.
	ErrBadChainKey = errors.New("key outside the chain layout")
	// ErrOversizeValue: the value is longer than MaxValueBytes.
	ErrOversizeValue = errors.New("value too large")
	// ErrMalformedWeights: a weights record does not decode.
	ErrMalformedWeights = errors.New("malformed weights record")
	// ErrBadWeightsSignature: the neuron key did not sign this weights record.
	ErrBadWeightsSignature = errors.New("bad weights signature")
)

// ChainEndpointScheme is the scheme of a chain endpoint: etcd://host:port[,host:port…].
const ChainEndpointScheme = "etcd://"

// ParseChainEndpoint splits "etcd://host:port[,host:port…]" into the etcd
// members' addresses.
func ParseChainEndpoint(s string) ([]string, error) {
	rest, ok := strings.CutPrefix(s, ChainEndpointScheme)
	if !ok {
		return nil, fmt.Errorf("%.64q is not an etcd endpoint: want etcd://HOST:PORT[,HOST:PORT…] such as etcd://127.0.0.1:2379", s)
	}
	if rest == "" {
		return nil, fmt.Errorf("%.64q names no etcd member: want etcd://HOST:PORT[,HOST:PORT…]", s)
	}
	parts := strings.Split(rest, ",")
	if len(parts) > maxChainEndpoints {
		return nil, fmt.Errorf("%d etcd members named, limit %d", len(parts), maxChainEndpoints)
	}
	for _, p := range parts {
		if err := validateHostPort(p); err != nil {
			return nil, fmt.Errorf("etcd member: %w", err)
		}
	}
	return parts, nil
}

// maxChainEndpoints bounds the members one endpoint may name.
const maxChainEndpoints = 16

// chainKeyKind tells what an etcd key under the prefix holds.
type chainKeyKind int

const (
	chainKeyInvalid chainKeyKind = iota
	chainKeySynapse
	chainKeyWeights
)

const (
	synapsesDir = "synapses/"
	weightsDir  = "weights/"
)

// synapseKeyPath is where a definition lives under prefix.
func synapseKeyPath(prefix string, id synapseID) string {
	return prefix + synapsesDir + id.neuron + "/" + id.synapse
}

// weightsKeyPath is where a neuron's weights record lives under prefix.
func weightsKeyPath(prefix, neuron string) string { return prefix + weightsDir + neuron }

// parseChainKey reads an etcd key of the layout: a definition's identity, or
// the neuron of a weights record.
func parseChainKey(prefix, key string) (chainKeyKind, synapseID) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return chainKeyInvalid, synapseID{}
	}
	if r, ok := strings.CutPrefix(rest, synapsesDir); ok {
		neuron, synapse, ok := strings.Cut(r, "/")
		if ok && isKeyHex(neuron) && isKeyHex(synapse) {
			return chainKeySynapse, synapseID{neuron: neuron, synapse: synapse}
		}
		return chainKeyInvalid, synapseID{}
	}
	if neuron, ok := strings.CutPrefix(rest, weightsDir); ok && isKeyHex(neuron) {
		return chainKeyWeights, synapseID{neuron: neuron}
	}
	return chainKeyInvalid, synapseID{}
}

// decodeChainSynapse reads the value of a definition's key: bounded, a
// Synapse message naming the same keys as the etcd key. The caller still
// applies the definition rules (screen, verify, admit).
func decodeChainSynapse(id synapseID, value []byte, maxBytes int) (*bittensorpb.Synapse, error) {
	if len(value) > maxBytes {
		return nil, fmt.Errorf("metagraph: chain synapse %s: %w: %d bytes, limit %d", keys.Label(id.synapse), ErrOversizeValue, len(value), maxBytes)
	}
	def := new(bittensorpb.Synapse)
	if err := proto.Unmarshal(value, def); err != nil {
		return nil, fmt.Errorf("metagraph: chain synapse %s: %w: %v", keys.Label(id.synapse), ErrMalformedSynapse, err)
	}
	if idOf(def) != id {
		return nil, fmt.Errorf("metagraph: chain synapse %s: %w: the value is neuron %s's synapse %s",
			keys.Label(id.synapse), ErrBadChainKey, keys.Label(def.GetNeuronKey()), keys.Label(def.GetSynapseKey()))
	}
	return copySynapse(def), nil // unknown fields are not signed and do not travel on
}

// SynapseWeight is one entry of a weights record: the weight a neuron gives
// one synapse (by its owner's key and its own).
type SynapseWeight struct {
	Neuron  string  `json:"neuron_key"`
	Synapse string  `json:"synapse_key"`
	Weight  float64 `json:"weight"`
}

// WeightsRecord is a neuron's published weights, as read from the chain.
type WeightsRecord struct {
	// Neuron is the key of the neuron that signed the record.
	Neuron string `json:"neuron_key"`
	// Nonce is the owner's clock at publication, in Unix milliseconds.
	Nonce int64 `json:"nonce"`
	// Weights are the neuron's weights, highest first.
	Weights []SynapseWeight `json:"weights"`
}

const (
	weightsVersion    = 1
	weightsHeaderLen  = 1 + ed25519.PublicKeySize + 8 + 4
	weightsEntryLen   = 2*ed25519.PublicKeySize + 8
	weightsDomain     = "bittensor-go weights v1\x00"
	defaultMaxWeights = 1000
)

// encodeWeights signs a weights record of key's neuron: the entries with the
// highest weights first, at most maxEntries of them. Every weight must be
// finite and every key a well-formed public key.
func encodeWeights(key *keys.Key, nonce int64, entries []SynapseWeight, maxEntries int) ([]byte, error) {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b SynapseWeight) int {
		return cmp.Or(cmp.Compare(b.Weight, a.Weight), cmp.Compare(a.Neuron, b.Neuron), cmp.Compare(a.Synapse, b.Synapse))
	})
	entries = entries[:min(len(entries), maxEntries)]
	buf := make([]byte, 0, weightsHeaderLen+len(entries)*weightsEntryLen+ed25519.SignatureSize)
	buf = append(buf, weightsVersion)
	buf = append(buf, key.Public()...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(nonce))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(entries)))
	for _, e := range entries {
		if math.IsNaN(e.Weight) || math.IsInf(e.Weight, 0) {
			return nil, fmt.Errorf("metagraph: weights: synapse %s has weight %v", keys.Label(e.Synapse), e.Weight)
		}
		n, errN := hex.DecodeString(e.Neuron)
		s, errS := hex.DecodeString(e.Synapse)
		if !isKeyHex(e.Neuron) || !isKeyHex(e.Synapse) || errN != nil || errS != nil {
			return nil, fmt.Errorf("metagraph: weights: %w: entry %s/%s", ErrMalformedWeights, keys.Label(e.Neuron), keys.Label(e.Synapse))
		}
		buf = append(buf, n...)
		buf = append(buf, s...)
		buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(e.Weight))
	}
	digest := weightsDigest(buf)
	return append(buf, key.Sign(digest[:])...), nil
}

func weightsDigest(body []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(weightsDomain))
	h.Write(body)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// decodeWeights reads and verifies a weights record: exact length, a known
// version, at most maxEntries finite entries, no synapse twice, a valid
// signature by the neuron it names.
func decodeWeights(b []byte, maxEntries int) (*WeightsRecord, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("metagraph: %w: %s", ErrMalformedWeights, fmt.Sprintf(format, args...))
	}
	if len(b) < weightsHeaderLen+ed25519.SignatureSize {
		return nil, bad("%d bytes, want at least %d", len(b), weightsHeaderLen+ed25519.SignatureSize)
	}
	if b[0] != weightsVersion {
		return nil, bad("version %d, want %d", b[0], weightsVersion)
	}
	neuron := b[1 : 1+ed25519.PublicKeySize]
	nonce := int64(binary.BigEndian.Uint64(b[1+ed25519.PublicKeySize:]))
	count := binary.BigEndian.Uint32(b[1+ed25519.PublicKeySize+8:])
	if uint64(count) > uint64(maxEntries) {
		return nil, bad("%d entries, limit %d", count, maxEntries)
	}
	if want := weightsHeaderLen + int(count)*weightsEntryLen + ed25519.SignatureSize; len(b) != want {
		return nil, bad("%d bytes for %d entries, want %d", len(b), count, want)
	}
	if nonce <= 0 {
		return nil, bad("nonce %d, want > 0", nonce)
	}
	body, sig := b[:len(b)-ed25519.SignatureSize], b[len(b)-ed25519.SignatureSize:]
	digest := weightsDigest(body)
	if !ed25519.Verify(ed25519.PublicKey(neuron), digest[:], sig) {
		return nil, fmt.Errorf("metagraph: weights of neuron %s: %w", keys.Label(hex.EncodeToString(neuron)), ErrBadWeightsSignature)
	}
	rec := &WeightsRecord{Neuron: hex.EncodeToString(neuron), Nonce: nonce, Weights: make([]SynapseWeight, count)}
	seen := make(map[synapseID]bool, count)
	for i := range rec.Weights {
		e := body[weightsHeaderLen+i*weightsEntryLen:]
		w := SynapseWeight{
			Neuron:  hex.EncodeToString(e[:ed25519.PublicKeySize]),
			Synapse: hex.EncodeToString(e[ed25519.PublicKeySize : 2*ed25519.PublicKeySize]),
			Weight:  math.Float64frombits(binary.BigEndian.Uint64(e[2*ed25519.PublicKeySize:])),
		}
		if math.IsNaN(w.Weight) || math.IsInf(w.Weight, 0) {
			return nil, bad("entry %d has weight %v", i, w.Weight)
		}
		id := synapseID{neuron: w.Neuron, synapse: w.Synapse}
		if seen[id] {
			return nil, bad("synapse %s listed twice", keys.Label(w.Synapse))
		}
		seen[id] = true
		rec.Weights[i] = w
	}
	return rec, nil
}

// weightBook holds the newest weights record of each neuron, at most limit
// of them (a record of a neuron not yet held is refused when full).
type weightBook struct {
	limit   int
	records map[string]*WeightsRecord
}

func newWeightBook(limit int) weightBook {
	return weightBook{limit: limit, records: make(map[string]*WeightsRecord)}
}

// take stores rec when newer than the record held for its neuron and there
// is room, and reports whether it did.
func (w *weightBook) take(rec *WeightsRecord) bool {
	old, ok := w.records[rec.Neuron]
	if ok && rec.Nonce <= old.Nonce || !ok && len(w.records) >= w.limit {
		return false
	}
	w.records[rec.Neuron] = rec
	return true
}

// forget drops a neuron's record.
func (w *weightBook) forget(neuron string) { delete(w.records, neuron) }

// list returns the records by neuron key.
func (w *weightBook) list() []*WeightsRecord {
	out := make([]*WeightsRecord, 0, len(w.records))
	for _, r := range w.records {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *WeightsRecord) int { return cmp.Compare(a.Neuron, b.Neuron) })
	return out
}

// ---- the chain's rules over the metagraph state ----

// forget drops a remote definition whose etcd key was deleted (its owner's
// lease expired or was revoked), and reports whether one was held. A local
// definition stays: its owner puts it again.
func (st *metagraphState) forget(id synapseID) bool {
	e, ok := st.synapses[id]
	if !ok || e.local {
		return false
	}
	delete(st.synapses, id)
	return true
}

// owners returns up to n keys of the neurons other than self that own a
// live definition, by key: the chain backend's peers.
func (st *metagraphState) owners(n int, self string, now time.Time) []string {
	if n <= 0 {
		return nil
	}
	seen := make(map[string]bool)
	for id, e := range st.synapses {
		if id.neuron != self && !e.local && st.live(e, now) {
			seen[id.neuron] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out[:min(n, len(out))]
}

// weightEntries returns the weight of every stored definition, for a
// weights record.
func (st *metagraphState) weightEntries() []SynapseWeight {
	out := make([]SynapseWeight, 0, len(st.synapses))
	for id, e := range st.synapses {
		out = append(out, SynapseWeight{Neuron: id.neuron, Synapse: id.synapse, Weight: e.weight})
	}
	return out
}

// resignLocal returns every local definition as an unsigned copy with its
// next nonce chosen (a new lease needs them all put again).
func (st *metagraphState) resignLocal(now time.Time) []*bittensorpb.Synapse {
	out := make([]*bittensorpb.Synapse, 0, len(st.local))
	for _, id := range st.local {
		d := copySynapse(st.synapses[id].def)
		d.Nonce = st.nextNonce(id, now)
		out = append(out, d)
	}
	return out
}

// marshalSynapse is a definition's value on the chain.
func marshalSynapse(d *bittensorpb.Synapse) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("metagraph: chain: marshal synapse %s: %w", keys.Label(d.GetSynapseKey()), err)
	}
	return b, nil
}

// ChainEntry returns the etcd key and value a signed definition is stored
// under below prefix, for programs that write to the chain themselves (the
// chain benchmark's simulated registrants); a Chain does this itself.
func ChainEntry(prefix string, def *bittensorpb.Synapse) (key string, value []byte, err error) {
	value, err = marshalSynapse(def)
	if err != nil {
		return "", nil, err
	}
	return synapseKeyPath(prefix, idOf(def)), value, nil
}
