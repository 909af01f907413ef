package metagraph

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"
	"github.com/opentensor/bittensor-go/neuron/metagraph/metagraphtest"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// newManualClock returns a clock tests move by hand.
func newManualClock() *metagraphtest.Clock {
	return metagraphtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// labelKey returns a deterministic key; different labels give different keys.
func labelKey(t testing.TB, label string) *keys.Key {
	t.Helper()
	k, err := metagraphtest.LabelKey(label)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedDef returns a valid definition of synapse syn owned by owner.
func signedDef(t testing.TB, owner *keys.Key, syn string, at time.Time, bits int) *bittensorpb.Synapse {
	t.Helper()
	d := NewSynapseDefinition(labelKey(t, syn).PublicHex(), "10.1.2.3", 8091)
	if err := SignSynapse(d, owner, at.UnixMilli(), bits); err != nil {
		t.Fatal(err)
	}
	return d
}

// unworked rewrites d's proof of work to one with fewer than bits leading zero
// bits and signs it again, so that only the work is wrong.
func unworked(t testing.TB, d *bittensorpb.Synapse, owner *keys.Key, bits int) *bittensorpb.Synapse {
	t.Helper()
	d = copySynapse(d)
	fields := synapseFields(d)
	pow := make([]byte, powLen)
	for c := uint64(0); ; c++ {
		binary.BigEndian.PutUint64(pow, c)
		if digest := synapseDigest(fields, pow); leadingZeroBits(digest) < bits {
			d.ProofOfWork = pow
			d.Signature = owner.Sign(digest[:])
			return d
		}
	}
}

// rework solves d's proof of work again for its current fields, leaving the
// signature as it is, and returns the new work digest.
func rework(d *bittensorpb.Synapse, bits int) [sha256.Size]byte {
	pow, digest := solveWork(synapseFields(d), bits)
	d.ProofOfWork = pow
	return digest
}

// synapseKeys returns the (neuron, synapse) identities in defs.
func synapseKeys(defs []*bittensorpb.Synapse) map[synapseID]int64 {
	out := make(map[synapseID]int64, len(defs))
	for _, d := range defs {
		out[idOf(d)] = d.GetNonce()
	}
	return out
}

// memoryMember starts a metagraph listening at addr on net, keyed by addr,
// with cfg, the fake clock and a seeded choice of partners; it stops when the
// test ends.
func memoryMember(t *testing.T, net *MemoryNetwork, cfg Config, clock *metagraphtest.Clock, addr string, seed uint64, bootstrap ...string) *Gossip {
	t.Helper()
	cfg.Bootstrap = bootstrap
	mg, err := NewGossip(cfg, labelKey(t, addr), WithTransport(net.Transport(addr)), WithClock(clock.Now), WithRandSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	if err := mg.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mg.Stop() })
	return mg
}
