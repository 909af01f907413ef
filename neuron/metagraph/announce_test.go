package metagraph

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// mnistAnnouncement makes d announce what the MNIST synapse serves.
func mnistAnnouncement(d *bittensorpb.Synapse) *bittensorpb.Synapse {
	d.Modality = bittensorpb.Modality_IMAGE
	d.InputDtype = bittensorpb.DataType_FLOAT32
	d.InputShape = []int64{1, 28, 28}
	d.OutputShape = []int64{1024}
	return d
}

// announcedDef returns a valid definition of synapse syn owned by owner that
// announces what the MNIST synapse serves.
func announcedDef(t testing.TB, owner *keys.Key, syn string, at time.Time, bits int) *bittensorpb.Synapse {
	t.Helper()
	d := mnistAnnouncement(NewSynapseDefinition(labelKey(t, syn).PublicHex(), "10.1.2.3", 8091))
	if err := SignSynapse(d, owner, at.UnixMilli(), bits); err != nil {
		t.Fatal(err)
	}
	return d
}

// A definition that announces nothing is hashed by the 2020 fields alone, as
// definitions were before the announcement existed: recomputed here by hand.
func TestDefinitionWithoutAnnouncementHashesAsBefore(t *testing.T) {
	d := signedDef(t, labelKey(t, "owner"), "syn", time.Unix(1700000000, 0), 4)
	h := sha256.New()
	h.Write([]byte("bittensor-go synapse definition v1\x00"))
	for _, f := range []string{d.Version, d.NeuronKey, d.SynapseKey, d.Address, d.Port, d.BlockHash} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f))))
		h.Write([]byte(f))
	}
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(d.Nonce)))
	if got := synapseFields(d); !slices.Equal(got[:], h.Sum(nil)) {
		t.Fatalf("fields digest of a definition without announcement changed: %x, want %x", got, h.Sum(nil))
	}
	if err := VerifySynapse(d, 4); err != nil {
		t.Fatalf("a definition without announcement: %v", err)
	}
}

// The announcement is covered by the signature and the work: change any of
// its fields (or strip it), redo the work, and the signature fails.
func TestAnnouncementIsSigned(t *testing.T) {
	owner := labelKey(t, "owner")
	d := announcedDef(t, owner, "syn", time.Unix(1700000000, 0), 8)
	if err := VerifySynapse(d, 8); err != nil {
		t.Fatalf("verify an announcing definition: %v", err)
	}
	tamper := map[string]func(*bittensorpb.Synapse){
		"modality":     func(s *bittensorpb.Synapse) { s.Modality = bittensorpb.Modality_TEXT },
		"input dtype":  func(s *bittensorpb.Synapse) { s.InputDtype = bittensorpb.DataType_FLOAT64 },
		"input shape":  func(s *bittensorpb.Synapse) { s.InputShape = []int64{3, 32, 32} },
		"input any":    func(s *bittensorpb.Synapse) { s.InputShape = []int64{1, -1, 28} },
		"input rank":   func(s *bittensorpb.Synapse) { s.InputShape = []int64{1, 28} },
		"input none":   func(s *bittensorpb.Synapse) { s.InputShape, s.InputDtype = nil, 0 },
		"output width": func(s *bittensorpb.Synapse) { s.OutputShape = []int64{512} },
		"output shape": func(s *bittensorpb.Synapse) { s.OutputShape = []int64{1024, 1} },
		"moved dims":   func(s *bittensorpb.Synapse) { s.InputShape, s.OutputShape = []int64{1, 28, 28, 1024}, []int64{1} },
		"stripped": func(s *bittensorpb.Synapse) {
			s.Modality, s.InputDtype, s.InputShape, s.OutputShape = 0, 0, nil, nil
		},
	}
	for name, f := range tamper {
		c := copySynapse(d)
		f(c)
		rework(c, 8)
		if err := VerifySynapse(c, 8); !errors.Is(err, keys.ErrBadSignature) {
			t.Errorf("%s changed: %v, want keys.ErrBadSignature", name, err)
		}
	}
	// Added to a definition signed without one, an announcement is a forgery.
	plain := signedDef(t, owner, "syn", time.Unix(1700000000, 0), 8)
	forged := mnistAnnouncement(copySynapse(plain))
	rework(forged, 8)
	if err := VerifySynapse(forged, 8); !errors.Is(err, keys.ErrBadSignature) {
		t.Errorf("announcement added after signing: %v, want keys.ErrBadSignature", err)
	}
}

// Announcements out of bounds or naming unknown values are malformed,
// refused before any cryptography.
func TestAnnouncementLimits(t *testing.T) {
	owner := labelKey(t, "owner")
	cases := map[string]func(*bittensorpb.Synapse){
		"unknown modality":     func(s *bittensorpb.Synapse) { s.Modality = 7 },
		"negative modality":    func(s *bittensorpb.Synapse) { s.Modality = -1 },
		"unknown dtype":        func(s *bittensorpb.Synapse) { s.InputDtype = 99 },
		"no output shape":      func(s *bittensorpb.Synapse) { s.OutputShape = nil },
		"only a modality":      func(s *bittensorpb.Synapse) { s.OutputShape, s.InputShape, s.InputDtype = nil, nil, 0 },
		"zero width":           func(s *bittensorpb.Synapse) { s.OutputShape = []int64{0} },
		"negative width":       func(s *bittensorpb.Synapse) { s.OutputShape = []int64{-1} },
		"huge width":           func(s *bittensorpb.Synapse) { s.OutputShape = []int64{maxAnnouncedDim + 1} },
		"huge output":          func(s *bittensorpb.Synapse) { s.OutputShape = []int64{1 << 13, 1 << 13, 2} },
		"overflowing output":   func(s *bittensorpb.Synapse) { s.OutputShape = []int64{1 << 24, 1 << 24, 1 << 24} },
		"too many output dims": func(s *bittensorpb.Synapse) { s.OutputShape = slices.Repeat([]int64{1}, maxAnnouncedDims+1) },
		"too many input dims":  func(s *bittensorpb.Synapse) { s.InputShape = slices.Repeat([]int64{1}, maxAnnouncedDims+1) },
		"zero input dim":       func(s *bittensorpb.Synapse) { s.InputShape = []int64{1, 0, 28} },
		"input dim -2":         func(s *bittensorpb.Synapse) { s.InputShape = []int64{1, -2, 28} },
		"huge input dim":       func(s *bittensorpb.Synapse) { s.InputShape = []int64{1 << 40} },
	}
	for name, f := range cases {
		d := announcedDef(t, owner, "syn", time.Unix(1700000000, 0), 0)
		f(d)
		if err := VerifySynapse(d, 0); !errors.Is(err, ErrMalformedSynapse) {
			t.Errorf("%s: %v, want ErrMalformedSynapse", name, err)
		}
		if err := SignSynapse(d, owner, d.Nonce, 0); !errors.Is(err, ErrMalformedSynapse) {
			t.Errorf("%s: signing it: %v, want ErrMalformedSynapse", name, err)
		}
	}
	// At the limits, it is well formed.
	d := announcedDef(t, owner, "syn", time.Unix(1700000000, 0), 0)
	d.InputShape = slices.Repeat([]int64{-1}, maxAnnouncedDims)
	d.OutputShape = []int64{maxAnnouncedDim}
	if err := SignSynapse(d, owner, d.Nonce, 0); err != nil {
		t.Fatalf("announcement at the limits: %v", err)
	}
	if err := VerifySynapse(d, 0); err != nil {
		t.Fatalf("announcement at the limits: %v", err)
	}
}

// Gossip carries the announcement intact, and a member keeps a definition
// that fits nothing it asks as it keeps any other.
func TestGossipCarriesAnnouncement(t *testing.T) {
	clock := newManualClock()
	net := NewMemoryNetwork(1 << 20)
	cfg := stateConfig()
	a := memoryMember(t, net, cfg, clock, "a.test:1", 1)
	b := memoryMember(t, net, cfg, clock, "b.test:1", 2, "a.test:1")
	text := NewSynapseDefinition(labelKey(t, "text syn").PublicHex(), "10.0.0.1", 8091)
	text.Modality, text.OutputShape = bittensorpb.Modality_TEXT, []int64{256}
	if err := a.Subscribe(text); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(mnistAnnouncement(NewSynapseDefinition(labelKey(t, "image syn").PublicHex(), "10.0.0.2", 8091))); err != nil {
		t.Fatal(err)
	}
	if err := b.GossipOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Gossip{a, b} {
		got := m.GetSynapses(10)
		if len(got) != 2 {
			t.Fatalf("%s holds %d definitions, want both", m.Addr(), len(got))
		}
		for _, d := range got {
			var want *bittensorpb.Synapse
			if d.GetSynapseKey() == text.SynapseKey {
				want = text
			} else {
				want = mnistAnnouncement(&bittensorpb.Synapse{})
			}
			if d.GetModality() != want.GetModality() || d.GetInputDtype() != want.GetInputDtype() ||
				!slices.Equal(d.GetInputShape(), want.GetInputShape()) || !slices.Equal(d.GetOutputShape(), want.GetOutputShape()) {
				t.Errorf("%s holds %v, want the announcement of %v", m.Addr(), d, want)
			}
		}
	}
}

// GetSynapsesWhere filters before it counts: definitions the caller cannot
// use never crowd out those it can, whatever their weight.
func TestGetSynapsesWhereFiltersBeforeCounting(t *testing.T) {
	clock := newManualClock()
	net := NewMemoryNetwork(1 << 20)
	cfg := stateConfig()
	cfg.Size = 16
	me := memoryMember(t, net, cfg, clock, "me.test:1", 1)
	if err := me.Subscribe(mnistAnnouncement(NewSynapseDefinition(labelKey(t, "own").PublicHex(), "10.0.0.1", 8091))); err != nil {
		t.Fatal(err)
	}
	var remote []*bittensorpb.Synapse
	for i, label := range []string{"text 1", "text 2", "text 3", "image 1", "text 4", "image 2"} {
		d := NewSynapseDefinition(labelKey(t, label).PublicHex(), "10.0.0.2", 8091+i)
		if label[:4] == "text" {
			d.Modality, d.OutputShape = bittensorpb.Modality_TEXT, []int64{1024}
		} else {
			mnistAnnouncement(d)
		}
		if err := SignSynapse(d, labelKey(t, "owner "+label), clock.Now().UnixMilli(), cfg.PoWBits); err != nil {
			t.Fatal(err)
		}
		if err := func() error { me.mu.Lock(); defer me.mu.Unlock(); return me.state.accept(d, clock.Now()) }(); err != nil {
			t.Fatal(err)
		}
		remote = append(remote, d)
	}
	// The text synapses weigh most.
	if err := me.SetWeights(remote, []float64{0.9, 0.8, 0.7, 0.1, 0.6, 0.2}); err != nil {
		t.Fatal(err)
	}
	images := func(d *bittensorpb.Synapse) bool { return d.GetModality() == bittensorpb.Modality_IMAGE }
	got := me.GetSynapsesWhere(3, images)
	want := []string{labelKey(t, "own").PublicHex(), labelKey(t, "image 2").PublicHex(), labelKey(t, "image 1").PublicHex()}
	var keys []string
	for _, d := range got {
		keys = append(keys, d.GetSynapseKey())
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("GetSynapsesWhere(3, image) = %v, want own then by weight %v", keys, want)
	}
	if n := len(me.GetSynapses(100)); n != 7 {
		t.Fatalf("the metagraph holds %d definitions, want all 7", n)
	}
}
