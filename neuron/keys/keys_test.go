package keys

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
	k, err := KeyFromSeed(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
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

// An old key file holding only the neuron key keeps its neuron key and gets
// a synapse key, written to the file so that the next run reads it back.
func TestIdentityUpgradesOldKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "neuron.key")
	old := testKey(t, 3)
	if err := old.Save(path); err != nil {
		t.Fatal(err)
	}
	if id, err := LoadIdentity(path); err != nil || id.Synapse != nil {
		t.Fatalf("old file: %v, %v; want no synapse key", id, err)
	}
	id, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if id.Neuron.PublicHex() != old.PublicHex() || id.Synapse == nil {
		t.Fatal("upgrading changed the neuron key or gave no synapse key")
	}
	back, err := LoadIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Synapse == nil || back.Synapse.PublicHex() != id.Synapse.PublicHex() {
		t.Fatal("the synapse key added to an old file was not saved")
	}
	// Readers of the neuron key alone still read the new file.
	if k, err := LoadKey(path); err != nil || k.PublicHex() != old.PublicHex() {
		t.Fatalf("LoadKey of an upgraded file: %v, %v", k, err)
	}
	onlyEntry(t, filepath.Dir(path), "neuron.key")
}

// A corrupt or truncated key file is a clear error, and is left as it is.
func TestIdentityCorruptFile(t *testing.T) {
	dir := t.TempDir()
	id := &Identity{Neuron: testKey(t, 1), Synapse: testKey(t, 2)}
	good := id.Marshal()
	back, err := ParseIdentity(good)
	if err != nil || back.Neuron.PublicHex() != id.Neuron.PublicHex() || back.Synapse.PublicHex() != id.Synapse.PublicHex() {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	second := bytes.Index(good, []byte("-----BEGIN "+synapseKeyPEMType))
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"empty":                 {nil, "not a bittensor key file"},
		"truncated first block": {good[:40], "truncated"},
		"truncated second":      {good[:second+40], "truncated"},
		"cut mid-line":          {good[:len(good)-10], "truncated"},
		"junk after":            {append(slices.Clone(good), "junk\n"...), "text outside"},
		"junk before":           {append([]byte("x\n"), good...), "text outside"},
		"synapse first":         {append(slices.Clone(good[second:]), good[:second]...), "not a bittensor key file"},
		"unknown block":         {append(slices.Clone(good[:second]), "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"...), `"FOO"`},
		"three blocks":          {append(slices.Clone(good), good[second:]...), "at most one"},
		"short seed":            {[]byte("-----BEGIN BITTENSOR ED25519 PRIVATE KEY-----\nAAAA\n-----END BITTENSOR ED25519 PRIVATE KEY-----\n"), "seed is 3 bytes"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(path, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadOrCreateIdentity(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an error naming the file and containing %q", name, err, c.want)
		}
		if data, _ := os.ReadFile(path); !bytes.Equal(data, c.data) {
			t.Errorf("%s: the bad file was changed", name)
		}
	}
}

// FuzzParseIdentity feeds arbitrary key-file contents to ParseIdentity: it
// returns an identity or an error; an identity it returns survives a
// Marshal/ParseIdentity round trip, and its neuron key is ParseKey's.
func FuzzParseIdentity(f *testing.F) {
	a, err := KeyFromSeed(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	b, err := KeyFromSeed(bytes.Repeat([]byte{2}, 32))
	if err != nil {
		f.Fatal(err)
	}
	good := (&Identity{Neuron: a, Synapse: b}).Marshal()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(pemBlock(keyPEMType, a))
	f.Add(append(slices.Clone(good), good...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseIdentity(data)
		if err != nil {
			return
		}
		k, err := ParseKey(data)
		if err != nil || k.PublicHex() != id.Neuron.PublicHex() {
			t.Fatalf("ParseKey disagrees with ParseIdentity: %v", err)
		}
		if id.Synapse == nil {
			return
		}
		back, err := ParseIdentity(id.Marshal())
		if err != nil || back.Neuron.PublicHex() != id.Neuron.PublicHex() || back.Synapse.PublicHex() != id.Synapse.PublicHex() {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// onlyEntry fails unless dir holds exactly the one entry name (no stray
// temporary files).
func onlyEntry(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		t.Fatalf("%s holds %v, want only %s", dir, entries, name)
	}
}

func testKey(t testing.TB, b byte) *Key {
	t.Helper()
	k, err := KeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
