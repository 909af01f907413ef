package neuron

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeySaveLoad(t *testing.T) {
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys", "neuron.key")
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Fatalf("key file mode %o, want 600", mode)
	}
	back, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.PublicHex() != k.PublicHex() {
		t.Fatal("loaded key differs from the saved one")
	}
	msg := []byte("hello")
	if !Verify(k.PublicHex(), msg, back.Sign(msg)) {
		t.Fatal("signature of the loaded key does not verify against the saved key")
	}
	if Verify(k.PublicHex(), []byte("other"), back.Sign(msg)) {
		t.Fatal("signature verifies for another message")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "neuron.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if k1.PublicHex() != k2.PublicHex() {
		t.Fatal("LoadOrCreateKey created a second key instead of loading the first")
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadKey(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadKey(missing) = %v, want fs.ErrNotExist", err)
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(junk); err == nil || !strings.Contains(err.Error(), "not a bittensor key file") {
		t.Fatalf("LoadKey(junk) = %v", err)
	}
	if _, err := LoadOrCreateKey(junk); err == nil {
		t.Fatal("LoadOrCreateKey replaced an unreadable key file")
	}
}

func TestParsePublicKey(t *testing.T) {
	k := testKey(t, 5)
	if pub, err := ParsePublicKey(k.PublicHex()); err != nil || string(pub) != string(k.Public()) {
		t.Fatalf("ParsePublicKey(own key) = %x, %v", pub, err)
	}
	for _, s := range []string{"", "zz", "abcd", k.PublicHex() + "00"} {
		if _, err := ParsePublicKey(s); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded", s)
		}
	}
	if Verify("zz", []byte("m"), make([]byte, 64)) {
		t.Fatal("Verify with a malformed key succeeded")
	}
	if _, err := KeyFromSeed([]byte{1}); err == nil {
		t.Fatal("KeyFromSeed with a short seed succeeded")
	}
}

// FuzzParseKey feeds arbitrary key-file contents to ParseKey: it must return a
// key or an error, and a key it returns must sign verifiably.
func FuzzParseKey(f *testing.F) {
	seed := bytes.Repeat([]byte{7}, 32)
	k, err := KeyFromSeed(seed)
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "k")
	if err := k.Save(path); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("-----BEGIN BITTENSOR ED25519 PRIVATE KEY-----\nAAAA\n-----END BITTENSOR ED25519 PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKey(data)
		if err != nil {
			return
		}
		msg := []byte("probe")
		if !Verify(k.PublicHex(), msg, k.Sign(msg)) {
			t.Fatalf("parsed key does not verify its own signature")
		}
	})
}
