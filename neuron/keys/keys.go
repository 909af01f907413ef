package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opentensor/bittensor-go/internal/atomicfile"
)

// Key is an ed25519 key pair identifying a neuron or a synapse on the network.
type Key struct {
	private ed25519.PrivateKey
}

const keyPEMType = "BITTENSOR ED25519 PRIVATE KEY"

// NewKey creates a fresh random key pair.
func NewKey() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("neuron: generate key: %w", err)
	}
	return &Key{private: priv}, nil
}

// KeyFromSeed derives a key pair from a 32-byte seed (deterministic; for tests).
func KeyFromSeed(seed []byte) (*Key, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("neuron: key seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return &Key{private: ed25519.NewKeyFromSeed(seed)}, nil
}

// Public returns the public half of the key.
func (k *Key) Public() ed25519.PublicKey { return k.private.Public().(ed25519.PublicKey) }

// PublicHex returns the hex-encoded public key, as carried in neuron_key and synapse_key.
func (k *Key) PublicHex() string { return hex.EncodeToString(k.Public()) }

// Sign signs msg with the private key.
func (k *Key) Sign(msg []byte) []byte { return ed25519.Sign(k.private, msg) }

// Save writes the key alone to path with file mode 0600, atomically and
// durably. A neuron's key file also holds its synapse key: see Identity.Save.
func (k *Key) Save(path string) error {
	if err := writeKeyFile(path, pemBlock(keyPEMType, k)); err != nil {
		return fmt.Errorf("neuron: save key: %w", err)
	}
	return nil
}

// LoadKey reads the neuron key of a key file written by Key.Save or Identity.Save.
func LoadKey(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("neuron: load key: %w", err)
	}
	k, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("neuron: load key %s: %w", path, err)
	}
	return k, nil
}

// ParseKey decodes the neuron key of a key file's contents (its first PEM
// block); any synapse key after it is left alone.
func ParseKey(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != keyPEMType {
		return nil, fmt.Errorf("not a bittensor key file (want a PEM block %q)", keyPEMType)
	}
	return KeyFromSeed(block.Bytes)
}

// LoadOrCreateKey loads the key at path, creating and saving a new one when the
// file does not exist.
func LoadOrCreateKey(path string) (*Key, error) {
	k, err := LoadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if k, err = NewKey(); err != nil {
		return nil, err
	}
	return k, k.Save(path)
}

// Identity is what a neuron is known by from one run to the next: the neuron
// key that signs its messages and synapse definitions, and the key that names
// its synapse. Peers' routers learn per synapse key which synapses to call,
// so a synapse key that changed on every run would make a restarted neuron a
// stranger to the network (and a resumed router's rows point at nothing).
//
// An identity lives in one key file (mode 0600), two PEM blocks in order:
//
//	-----BEGIN BITTENSOR ED25519 PRIVATE KEY-----   the neuron key's 32-byte seed
//	-----BEGIN BITTENSOR ED25519 SYNAPSE KEY-----   the synapse key's 32-byte seed
//
// The first block alone is the format Key.Save writes and older versions
// wrote; LoadOrCreateIdentity adds the second block to such a file. Readers
// of the neuron key alone (LoadKey) ignore the second block.
type Identity struct {
	Neuron  *Key
	Synapse *Key
}

const synapseKeyPEMType = "BITTENSOR ED25519 SYNAPSE KEY"

// NewIdentity creates a fresh neuron key and synapse key.
func NewIdentity() (*Identity, error) {
	n, err := NewKey()
	if err != nil {
		return nil, err
	}
	s, err := NewKey()
	if err != nil {
		return nil, err
	}
	return &Identity{Neuron: n, Synapse: s}, nil
}

// Marshal encodes the identity as a key file's contents.
func (id *Identity) Marshal() []byte {
	return append(pemBlock(keyPEMType, id.Neuron), pemBlock(synapseKeyPEMType, id.Synapse)...)
}

// Save writes the identity to path with file mode 0600, atomically and durably.
func (id *Identity) Save(path string) error {
	if err := writeKeyFile(path, id.Marshal()); err != nil {
		return fmt.Errorf("neuron: save identity: %w", err)
	}
	return nil
}

// ParseIdentity decodes a key file's contents: the neuron key block, then at
// most one synapse key block, with nothing but white space around them. An
// old file that holds only the neuron key gives an Identity whose Synapse is
// nil. Anything else (a truncated block, a seed of the wrong size, an
// unknown block, text outside the blocks) is an error.
func ParseIdentity(data []byte) (*Identity, error) {
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 || blocks[0].Type != keyPEMType {
		return nil, fmt.Errorf("not a bittensor key file (want a PEM block %q first)", keyPEMType)
	}
	if len(blocks) > 2 || (len(blocks) == 2 && blocks[1].Type != synapseKeyPEMType) {
		return nil, fmt.Errorf("key file: after the neuron key, want at most one PEM block %q, found %d blocks (%q last)",
			synapseKeyPEMType, len(blocks)-1, blocks[len(blocks)-1].Type)
	}
	id := &Identity{}
	if id.Neuron, err = keyFromBlock(blocks[0]); err != nil {
		return nil, fmt.Errorf("key file: neuron key: %w", err)
	}
	if len(blocks) == 2 {
		if id.Synapse, err = keyFromBlock(blocks[1]); err != nil {
			return nil, fmt.Errorf("key file: synapse key: %w", err)
		}
	}
	return id, nil
}

// LoadIdentity reads a key file. Its Synapse is nil for an old file that
// holds only the neuron key.
func LoadIdentity(path string) (*Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("neuron: load key: %w", err)
	}
	id, err := ParseIdentity(data)
	if err != nil {
		return nil, fmt.Errorf("neuron: load key %s: %w (delete or fix the file; it is not replaced)", path, err)
	}
	return id, nil
}

// LoadOrCreateIdentity returns the identity kept at path: it creates the
// file (both keys) when it does not exist, and adds a synapse key to a file
// that holds only a neuron key, durably, before returning. Every later call
// with the same path returns the same two keys. An empty path gives a fresh
// identity for this run only. A file that cannot be read or parsed is an
// error and is left as it is.
//
// Two processes creating or upgrading the same file at the same moment may
// each return a different synapse key; the file ends with one of them.
func LoadOrCreateIdentity(path string) (*Identity, error) {
	if path == "" {
		return NewIdentity()
	}
	id, err := LoadIdentity(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if id, err = NewIdentity(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case id.Synapse != nil:
		return id, nil
	default:
		if id.Synapse, err = NewKey(); err != nil {
			return nil, err
		}
	}
	if err := id.Save(path); err != nil {
		return nil, err
	}
	return id, nil
}

// pemBlock encodes k's seed as a PEM block of the given type.
func pemBlock(typ string, k *Key) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: k.private.Seed()})
}

// keyFromBlock decodes a key block: a bare seed, no PEM headers.
func keyFromBlock(b *pem.Block) (*Key, error) {
	if len(b.Headers) > 0 {
		return nil, fmt.Errorf("unexpected PEM headers in %q", b.Type)
	}
	return KeyFromSeed(b.Bytes)
}

// maxKeyBlocks bounds the PEM blocks pemBlocks decodes (a file holds two).
const maxKeyBlocks = 4

// pemBlocks splits data into PEM blocks, refusing anything but white space
// between, before and after them. pem.Decode itself skips text before a
// block, so a truncated block would otherwise pass as "no block".
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := data
	for len(bytes.TrimSpace(rest)) > 0 {
		if len(blocks) == maxKeyBlocks {
			return nil, fmt.Errorf("key file: more than %d PEM blocks", maxKeyBlocks)
		}
		if !bytes.HasPrefix(bytes.TrimLeft(rest, " \t\r\n"), []byte("-----BEGIN ")) {
			return nil, errors.New("key file: text outside the PEM blocks (truncated or corrupt?)")
		}
		b, next := pem.Decode(rest)
		if b == nil {
			return nil, errors.New("key file: an unterminated or corrupt PEM block (truncated?)")
		}
		blocks = append(blocks, b)
		rest = next
	}
	return blocks, nil
}

// writeKeyFile writes a key file: its folder is created (mode 0700) when
// missing, and the file (mode 0600) is replaced atomically and durably.
func writeKeyFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o600)
}

// ErrBadSignature is wrapped by every refusal of a signature: a message's
// (package wire) or a synapse definition's (package metagraph).
var ErrBadSignature = errors.New("bad signature")

// ParsePublicKey decodes a hex-encoded ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("neuron: public key %.16q: not hex: %w", s, err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("neuron: public key is %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// Verify reports whether sig is a valid signature of msg by the hex public key.
func Verify(publicHex string, msg, sig []byte) bool {
	pub, err := ParsePublicKey(publicHex)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, msg, sig)
}

// Label abbreviates a key (or whatever a peer sent in its place) for
// messages, quoting anything that is not plain hex.
func Label(k string) string {
	if len(k) > 8 {
		k = k[:8]
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return strconv.QuoteToASCII(k)
		}
	}
	if k == "" {
		return "<none>"
	}
	return k
}
