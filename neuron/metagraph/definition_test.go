package metagraph

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

func TestSignVerifySynapse(t *testing.T) {
	owner := labelKey(t, "owner")
	d := signedDef(t, owner, "syn", time.Unix(1700000000, 0), 12)
	if err := VerifySynapse(d, 12); err != nil {
		t.Fatalf("verify own signature: %v", err)
	}
	if d.GetNeuronKey() != owner.PublicHex() || d.GetVersion() != MetagraphVersion || d.GetPort() != "8091" {
		t.Fatalf("signed definition has wrong fields: %v", d)
	}
	if got := leadingZeroBits(synapseDigest(synapseFields(d), d.GetProofOfWork())); got < 12 {
		t.Fatalf("proof of work has %d bits, want >= 12", got)
	}
	if err := VerifySynapse(d, 40); !errors.Is(err, ErrBadProofOfWork) {
		t.Fatalf("verify at a higher difficulty: %v, want ErrBadProofOfWork", err)
	}

	// Every field is covered: change one, redo the work, and the signature
	// fails. (The version has one legal value; see ErrUnknownSynapseVersion.)
	tamper := map[string]func(*bittensorpb.Synapse){
		"neuron key":  func(s *bittensorpb.Synapse) { s.NeuronKey = labelKey(t, "other").PublicHex() },
		"synapse key": func(s *bittensorpb.Synapse) { s.SynapseKey = labelKey(t, "other syn").PublicHex() },
		"address":     func(s *bittensorpb.Synapse) { s.Address = "10.1.2.4" },
		"port":        func(s *bittensorpb.Synapse) { s.Port = "8092" },
		"block hash":  func(s *bittensorpb.Synapse) { s.BlockHash = "00ff" },
		"nonce":       func(s *bittensorpb.Synapse) { s.Nonce++ },
	}
	for name, f := range tamper {
		c := copySynapse(d)
		f(c)
		rework(c, 12)
		if err := VerifySynapse(c, 12); !errors.Is(err, keys.ErrBadSignature) {
			t.Errorf("%s changed: %v, want keys.ErrBadSignature", name, err)
		}
	}
	c := copySynapse(d)
	c.ProofOfWork[7] ^= 0x80
	if err := VerifySynapse(c, 12); err == nil {
		t.Error("changed proof of work still verifies")
	}
	c = copySynapse(d)
	c.Signature = c.Signature[:63]
	if err := VerifySynapse(c, 12); !errors.Is(err, keys.ErrBadSignature) {
		t.Errorf("short signature: %v, want keys.ErrBadSignature", err)
	}
}

func TestSynapseFieldsAreCanonical(t *testing.T) {
	a := &bittensorpb.Synapse{Version: MetagraphVersion, Address: "ab", Port: "c"}
	b := &bittensorpb.Synapse{Version: MetagraphVersion, Address: "a", Port: "bc"}
	if synapseFields(a) == synapseFields(b) {
		t.Fatal("moving bytes between fields keeps the digest: fields are not length-prefixed")
	}

	// The digest depends on field values only, not on how the message was
	// encoded: unknown fields and field order on the wire change nothing.
	d := signedDef(t, labelKey(t, "owner"), "syn", time.Unix(1700000000, 0), 4)
	wire, err := proto.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	wire = protowire.AppendTag(wire, 99, protowire.BytesType)
	wire = protowire.AppendBytes(wire, []byte("not signed"))
	reordered := protowire.AppendTag(nil, 9, protowire.VarintType) // nonce first
	reordered = protowire.AppendVarint(reordered, uint64(d.GetNonce()))
	reordered = append(reordered, wire...)
	got := new(bittensorpb.Synapse)
	if err := proto.Unmarshal(reordered, got); err != nil {
		t.Fatal(err)
	}
	if err := VerifySynapse(got, 4); err != nil {
		t.Fatalf("re-encoded definition: %v", err)
	}
	if len(copySynapse(got).ProtoReflect().GetUnknown()) != 0 {
		t.Fatal("copySynapse kept unsigned unknown fields")
	}
}

func TestSignSynapseRefusesMalformed(t *testing.T) {
	owner := labelKey(t, "owner")
	syn := labelKey(t, "syn").PublicHex()
	cases := map[string]*bittensorpb.Synapse{
		"no synapse key": NewSynapseDefinition("", "10.0.0.1", 8091),
		"bad address":    NewSynapseDefinition(syn, "", 8091),
		"port 0":         NewSynapseDefinition(syn, "10.0.0.1", 0),
	}
	for name, d := range cases {
		if err := SignSynapse(d, owner, 1, 4); !errors.Is(err, ErrMalformedSynapse) {
			t.Errorf("%s: %v, want ErrMalformedSynapse", name, err)
		}
	}
	if err := SignSynapse(NewSynapseDefinition(syn, "10.0.0.1", 1), owner, 0, 4); !errors.Is(err, ErrMalformedSynapse) {
		t.Errorf("nonce 0: %v, want ErrMalformedSynapse", err)
	}
	if err := SignSynapse(NewSynapseDefinition(syn, "10.0.0.1", 1), owner, 1, 99); err == nil {
		t.Error("99 bits of work accepted")
	}
}

func TestAddressValidation(t *testing.T) {
	hosts := map[string]bool{
		"10.0.0.1": true, "::1": true, "2001:db8::1": true, "example.com": true, "a-b.c": true,
		"localhost": true, "0.0.0.0": true,
		"": false, "-a.com": false, "a-.com": false, "a..b": false, ".a": false, "a b": false,
		"a/b": false, "héllo": false, strings.Repeat("a", 64) + ".com": false, strings.Repeat("a.", 127) + "a": false,
	}
	for h, want := range hosts {
		if got := validHost(h); got != want {
			t.Errorf("validHost(%q) = %v, want %v", h, got, want)
		}
	}
	ports := map[string]bool{"1": true, "8091": true, "65535": true, "0": false, "65536": false, "080": false, "+80": false, "": false, "8o": false}
	for p, want := range ports {
		if got := validPort(p); got != want {
			t.Errorf("validPort(%q) = %v, want %v", p, got, want)
		}
	}
	addrs := map[string]bool{"127.0.0.1:8092": true, "[::1]:8092": true, "host.example:1": true, "127.0.0.1": false, "::1:80": false, "a:0": false, ":80": false}
	for a, want := range addrs {
		if got := validateHostPort(a) == nil; got != want {
			t.Errorf("validateHostPort(%q) ok = %v, want %v", a, got, want)
		}
	}
}

func TestLeadingZeroBits(t *testing.T) {
	var d [32]byte
	if got := leadingZeroBits(d); got != 256 {
		t.Fatalf("all zero: %d, want 256", got)
	}
	d[2] = 0x10
	if got := leadingZeroBits(d); got != 19 {
		t.Fatalf("0x0000_10..: %d, want 19", got)
	}
	d[0] = 0x80
	if got := leadingZeroBits(d); got != 0 {
		t.Fatalf("0x80..: %d, want 0", got)
	}
}
