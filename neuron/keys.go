package neuron

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// Save writes the key to path with file mode 0600, atomically.
func (k *Key) Save(path string) error {
	data := pem.EncodeToMemory(&pem.Block{Type: keyPEMType, Bytes: k.private.Seed()})
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("neuron: save key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return fmt.Errorf("neuron: save key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("neuron: save key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("neuron: save key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("neuron: save key: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("neuron: save key: %w", err)
	}
	return nil
}

// LoadKey reads a key written by Save.
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

// ParseKey decodes the contents of a key file written by Save.
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
