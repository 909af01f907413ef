package neuron

import (
	"context"
	"errors"
	"testing"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"google.golang.org/protobuf/proto"
)

// fuzzConfig keeps the work small so that valid seeds are cheap to build.
func fuzzConfig() MetagraphConfig {
	c := stateConfig()
	c.PoWBits = 4
	return c
}

// FuzzSynapseDefinition feeds outside bytes, decoded as a Synapse, through the
// acceptance rules: never a panic, only the package's errors, and anything
// accepted is a definition its owner signed.
func FuzzSynapseDefinition(f *testing.F) {
	clock := newManualClock()
	owner := labelKey(f, "owner")
	valid := signedDef(f, owner, "syn", clock.Now(), fuzzConfig().PoWBits)
	for _, d := range []*bittensorpb.Synapse{valid, {}, {Version: MetagraphVersion, Port: "0"}} {
		b, err := proto.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	known := []error{ErrMalformedSynapse, ErrUnknownSynapseVersion, ErrBadProofOfWork, ErrBadSynapseSignature,
		ErrStaleSynapse, ErrExpiredSynapse, ErrFutureSynapse}

	f.Fuzz(func(t *testing.T, data []byte) {
		d := new(bittensorpb.Synapse)
		if err := proto.Unmarshal(data, d); err != nil {
			return
		}
		st := newMetagraphState(fuzzConfig(), clock.Now())
		err := st.accept(d, clock.Now())
		if err != nil {
			for _, k := range known {
				if errors.Is(err, k) {
					return
				}
			}
			t.Fatalf("accept: unclassified error %v", err)
		}
		if err := VerifySynapse(d, fuzzConfig().PoWBits); err != nil {
			t.Fatalf("accepted a definition that does not verify: %v", err)
		}
		if d.GetNeuronKey() != owner.PublicHex() {
			t.Fatalf("accepted a definition signed by an unknown key %q", d.GetNeuronKey())
		}
	})
}

// FuzzGossipBatch feeds outside bytes, decoded as a GossipBatch, to the
// Metagraph.Gossip handler: never a panic, and what it stores afterwards is
// only well-formed peers and verified definitions.
func FuzzGossipBatch(f *testing.F) {
	clock := newManualClock()
	owner := labelKey(f, "owner")
	valid := &bittensorpb.GossipBatch{
		Version:  MetagraphVersion,
		Peers:    []string{"10.0.0.2:8092", "peer.example:1"},
		Synapses: []*bittensorpb.Synapse{signedDef(f, owner, "syn", clock.Now(), fuzzConfig().PoWBits)},
	}
	for _, b := range []*bittensorpb.GossipBatch{valid, {}, {Version: MetagraphVersion, Peers: []string{"::::"}}} {
		data, err := proto.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		in := new(bittensorpb.GossipBatch)
		if err := proto.Unmarshal(data, in); err != nil {
			return
		}
		net := NewMemoryNetwork(1 << 20)
		mg, err := NewMetagraph(fuzzConfig(), labelKey(t, "me"), WithTransport(net.Transport("me.test:8092")), WithClock(clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		out, err := mg.Gossip(context.Background(), in)
		if err != nil {
			return // refused as a whole with a status
		}
		if out.GetVersion() != MetagraphVersion {
			t.Fatalf("answer version %q", out.GetVersion())
		}
		for _, d := range mg.GetSynapses(1 << 20) {
			if err := VerifySynapse(d, fuzzConfig().PoWBits); err != nil {
				t.Fatalf("stored a definition that does not verify: %v", err)
			}
		}
		mg.mu.Lock()
		defer mg.mu.Unlock()
		for addr := range mg.state.peers {
			if err := validateHostPort(addr); err != nil {
				t.Fatalf("stored a bad peer address: %v", err)
			}
		}
		if len(mg.state.peers) > mg.cfg.MaxPeers {
			t.Fatalf("%d peers stored, limit %d", len(mg.state.peers), mg.cfg.MaxPeers)
		}
	})
}
