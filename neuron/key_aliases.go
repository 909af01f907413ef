package neuron

import (
	"crypto/ed25519"

	"github.com/opentensor/bittensor-go/neuron/keys"
)

// Key is an ed25519 key pair identifying a neuron or a synapse (see package keys).
type Key = keys.Key

// Identity is a neuron's key and its synapse's key, kept in one key file (see package keys).
type Identity = keys.Identity

// NewKey creates a fresh random key pair.
func NewKey() (*Key, error) { return keys.NewKey() }

// KeyFromSeed derives a key pair from a 32-byte seed (deterministic; for tests).
func KeyFromSeed(seed []byte) (*Key, error) { return keys.KeyFromSeed(seed) }

// LoadKey reads the neuron key of a key file.
func LoadKey(path string) (*Key, error) { return keys.LoadKey(path) }

// ParseKey decodes the neuron key of a key file's contents.
func ParseKey(data []byte) (*Key, error) { return keys.ParseKey(data) }

// LoadOrCreateKey loads the key at path, creating it when missing.
func LoadOrCreateKey(path string) (*Key, error) { return keys.LoadOrCreateKey(path) }

// NewIdentity creates a fresh neuron key and synapse key.
func NewIdentity() (*Identity, error) { return keys.NewIdentity() }

// ParseIdentity decodes a key file's contents.
func ParseIdentity(data []byte) (*Identity, error) { return keys.ParseIdentity(data) }

// LoadIdentity reads a key file.
func LoadIdentity(path string) (*Identity, error) { return keys.LoadIdentity(path) }

// LoadOrCreateIdentity loads the key file at path, creating it (or adding a
// synapse key to an old one-key file) as needed; empty path gives fresh keys.
func LoadOrCreateIdentity(path string) (*Identity, error) { return keys.LoadOrCreateIdentity(path) }

// ParsePublicKey decodes a hex public key as carried in neuron_key and synapse_key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) { return keys.ParsePublicKey(s) }

// Verify reports whether sig is publicHex's signature of msg.
func Verify(publicHex string, msg, sig []byte) bool { return keys.Verify(publicHex, msg, sig) }
