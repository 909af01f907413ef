package metagraph

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"strconv"

	"github.com/opentensor/bittensor-go/neuron/keys"
	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

// A synapse definition is signed and worked over its field values, never over
// proto marshal output (which is not canonical):
//
//	fields  = SHA-256(domain ‖ for version, neuron_key, synapse_key, address,
//	                  port, block_hash: uint32 BE length ‖ bytes ‖ nonce as int64 BE
//	                  ‖ the announcement, if any: see announce.go)
//	digest  = SHA-256(fields ‖ proof_of_work)          proof_of_work: 8 bytes
//	valid   ⇔ digest has ≥ PoWBits leading zero bits ∧ signature = ed25519(neuron key, digest)
//
// The nonce is the owner's refresh time in Unix milliseconds, strictly
// increasing from one refresh to the next: it orders definitions (newest wins)
// and is the owner's heartbeat (a definition expires TTL after it).

// MetagraphVersion is the version carried by GossipBatch and Synapse messages
// this package writes and the only one it accepts.
const MetagraphVersion = "bittensor-go/1"

// Errors a received synapse definition is refused with; test with errors.Is.
var (
	// ErrMalformedSynapse: a field is missing, too long or not well formed.
	ErrMalformedSynapse = errors.New("malformed synapse definition")
	// ErrUnknownSynapseVersion: the definition's version is not MetagraphVersion.
	ErrUnknownSynapseVersion = errors.New("unknown synapse definition version")
	// ErrBadProofOfWork: the work digest has too few leading zero bits.
	ErrBadProofOfWork = errors.New("insufficient proof of work")
	// ErrStaleSynapse: the nonce is not newer than the one already known.
	ErrStaleSynapse = errors.New("stale nonce")
	// ErrExpiredSynapse: the owner refreshed the definition longer ago than the TTL.
	ErrExpiredSynapse = errors.New("expired definition")
	// ErrFutureSynapse: the definition claims a refresh time beyond the allowed clock skew.
	ErrFutureSynapse = errors.New("refresh time in the future")
)

// Field limits of a synapse definition. Keys are lower-case hex ed25519
// public keys, exactly as Key.PublicHex writes them, so that one key has one
// spelling.
const (
	maxVersionLen   = 32
	maxHostLen      = 253
	maxBlockHashLen = 128
	powLen          = 8
	keyHexLen       = 2 * ed25519.PublicKeySize
)

// synapseDomain separates synapse-definition digests from any other use of the
// same keys.
const synapseDomain = "bittensor-go synapse definition v1\x00"

// NewSynapseDefinition returns the unsigned definition of a local synapse
// served at address:port, ready for Metagraph.Subscribe, which fills in the
// neuron key, nonce, proof of work and signature (and renews them every
// Config.Refresh).
func NewSynapseDefinition(synapseKey, address string, port int) *bittensorpb.Synapse {
	return &bittensorpb.Synapse{
		Version:    MetagraphVersion,
		SynapseKey: synapseKey,
		Address:    address,
		Port:       strconv.Itoa(port),
	}
}

// synapseFields hashes the canonical encoding of every field but the proof of
// work and the signature.
func synapseFields(s *bittensorpb.Synapse) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(synapseDomain))
	var n [8]byte
	for _, f := range []string{s.GetVersion(), s.GetNeuronKey(), s.GetSynapseKey(), s.GetAddress(), s.GetPort(), s.GetBlockHash()} {
		binary.BigEndian.PutUint32(n[:4], uint32(len(f)))
		h.Write(n[:4])
		h.Write([]byte(f))
	}
	binary.BigEndian.PutUint64(n[:], uint64(s.GetNonce()))
	h.Write(n[:])
	hashAnnouncement(h, s) // nothing for a definition that announces nothing
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// synapseDigest is the work digest of fields and a proof-of-work value.
func synapseDigest(fields [sha256.Size]byte, pow []byte) [sha256.Size]byte {
	var buf [sha256.Size + powLen]byte
	copy(buf[:], fields[:])
	copy(buf[sha256.Size:], pow)
	return sha256.Sum256(buf[:])
}

// leadingZeroBits counts the leading zero bits of a digest.
func leadingZeroBits(d [sha256.Size]byte) int {
	n := 0
	for _, b := range d {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// solveWork finds the first 8-byte counter whose digest has powBits leading
// zero bits (2^powBits hashes expected).
func solveWork(fields [sha256.Size]byte, powBits int) ([]byte, [sha256.Size]byte) {
	var buf [sha256.Size + powLen]byte
	copy(buf[:], fields[:])
	for c := uint64(0); ; c++ {
		binary.BigEndian.PutUint64(buf[sha256.Size:], c)
		d := sha256.Sum256(buf[:])
		if leadingZeroBits(d) >= powBits {
			return append([]byte(nil), buf[sha256.Size:]...), d
		}
	}
}

// SignSynapse makes def a valid definition owned by key: it sets the neuron
// key and nonce, solves the proof of work at powBits and signs. The other
// fields must already be well formed.
func SignSynapse(def *bittensorpb.Synapse, key *keys.Key, nonce int64, powBits int) error {
	if powBits < 0 || powBits > maxPoWBits {
		return fmt.Errorf("metagraph: sign synapse: proof-of-work bits %d out of range 0..%d", powBits, maxPoWBits)
	}
	def.NeuronKey = key.PublicHex()
	def.Nonce = nonce
	def.ProofOfWork, def.Signature = nil, nil
	if err := checkSynapseFields(def); err != nil {
		return err
	}
	pow, digest := solveWork(synapseFields(def), powBits)
	def.ProofOfWork = pow
	def.Signature = key.Sign(digest[:])
	return nil
}

// VerifySynapse checks that def is well formed, carries at least powBits of
// proof of work and is signed by its neuron key. It does not judge freshness
// (that needs a clock and the cache: see the metagraph's rules).
func VerifySynapse(def *bittensorpb.Synapse, powBits int) error {
	if err := checkSynapseFields(def); err != nil {
		return err
	}
	return verifyWorkAndSignature(def, powBits)
}

// verifyWorkAndSignature is the costly half of VerifySynapse: one SHA-256 pair
// for the work, then (only if the work holds) one ed25519 verification.
func verifyWorkAndSignature(def *bittensorpb.Synapse, powBits int) error {
	if len(def.GetProofOfWork()) != powLen {
		return fmt.Errorf("metagraph: synapse %s: %w: proof of work is %d bytes, want %d",
			keys.Label(def.GetSynapseKey()), ErrMalformedSynapse, len(def.GetProofOfWork()), powLen)
	}
	digest := synapseDigest(synapseFields(def), def.GetProofOfWork())
	if got := leadingZeroBits(digest); got < powBits {
		return fmt.Errorf("metagraph: synapse %s: %w: %d leading zero bits, want %d",
			keys.Label(def.GetSynapseKey()), ErrBadProofOfWork, got, powBits)
	}
	if !keys.Verify(def.GetNeuronKey(), digest[:], def.GetSignature()) {
		return fmt.Errorf("metagraph: synapse %s: %w by neuron %s",
			keys.Label(def.GetSynapseKey()), keys.ErrBadSignature, keys.Label(def.GetNeuronKey()))
	}
	return nil
}

// checkSynapseFields checks the cheap, structural rules: version, key
// spelling, address, port and field sizes. Proof of work and signature are
// left to verifyWorkAndSignature.
func checkSynapseFields(def *bittensorpb.Synapse) error {
	if def == nil {
		return fmt.Errorf("metagraph: %w: nil synapse", ErrMalformedSynapse)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("metagraph: synapse %s: %w: %s", keys.Label(def.GetSynapseKey()), ErrMalformedSynapse, fmt.Sprintf(format, args...))
	}
	switch {
	case len(def.GetVersion()) > maxVersionLen:
		return bad("version is %d bytes, limit %d", len(def.GetVersion()), maxVersionLen)
	case def.GetVersion() != MetagraphVersion:
		return fmt.Errorf("metagraph: synapse %s: %w %q, want %q", keys.Label(def.GetSynapseKey()), ErrUnknownSynapseVersion, def.GetVersion(), MetagraphVersion)
	case !isKeyHex(def.GetNeuronKey()):
		return bad("neuron key %.16q is not %d lower-case hex digits", def.GetNeuronKey(), keyHexLen)
	case !isKeyHex(def.GetSynapseKey()):
		return bad("synapse key %.16q is not %d lower-case hex digits", def.GetSynapseKey(), keyHexLen)
	case !validHost(def.GetAddress()):
		return bad("address %.64q is not a host name or IP address", def.GetAddress())
	case !validPort(def.GetPort()):
		return bad("port %.8q is not a number in 1..65535", def.GetPort())
	case len(def.GetBlockHash()) > maxBlockHashLen:
		return bad("block hash is %d bytes, limit %d", len(def.GetBlockHash()), maxBlockHashLen)
	case def.GetNonce() <= 0:
		return bad("nonce %d, want > 0", def.GetNonce())
	case len(def.GetProofOfWork()) > powLen:
		return bad("proof of work is %d bytes, want %d", len(def.GetProofOfWork()), powLen)
	case len(def.GetSignature()) > ed25519.SignatureSize:
		return bad("signature is %d bytes, want %d", len(def.GetSignature()), ed25519.SignatureSize)
	}
	if msg := checkAnnouncement(def); msg != "" {
		return bad("%s", msg)
	}
	return nil
}

// isKeyHex reports whether s is a public key in its one canonical spelling.
func isKeyHex(s string) bool {
	if len(s) != keyHexLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validHost reports whether h is an IP address or a DNS host name.
func validHost(h string) bool {
	if h == "" || len(h) > maxHostLen {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 || h[i-1] == '-' {
				return false
			}
			label = 0
		case c == '-':
			if label == 0 {
				return false
			}
			label++
		case '0' <= c && c <= '9', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			label++
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return label > 0 && h[len(h)-1] != '-'
}

// validPort reports whether p is a decimal port number 1..65535 without sign
// or leading zeros.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	n, err := strconv.Atoi(p)
	return err == nil && n <= 65535
}

// validateHostPort checks a "host:port" metagraph address.
func validateHostPort(addr string) error {
	if len(addr) > maxHostLen+6 {
		return fmt.Errorf("address is %d bytes, limit %d", len(addr), maxHostLen+6)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %.64q: %w", addr, err)
	}
	if !validHost(host) {
		return fmt.Errorf("address %.64q: host is not a host name or IP address", addr)
	}
	if !validPort(port) {
		return fmt.Errorf("address %.64q: port is not a number in 1..65535", addr)
	}
	return nil
}
