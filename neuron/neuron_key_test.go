package neuron

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Two runs with the same --neuron_key file get the same neuron key and the
// same synapse key; a different file gives different keys.
func TestIdentityStableAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "neuron.key")
	first, err := LoadIdentityFlag(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadIdentityFlag(path)
	if err != nil {
		t.Fatal(err)
	}
	if first.Neuron.PublicHex() != second.Neuron.PublicHex() || first.Synapse.PublicHex() != second.Synapse.PublicHex() {
		t.Fatal("a second run with the same key file got other keys")
	}
	if first.Neuron.PublicHex() == first.Synapse.PublicHex() {
		t.Fatal("the synapse key is the neuron key")
	}
	if k, err := loadNeuronKey(path); err != nil || k.PublicHex() != first.Neuron.PublicHex() {
		t.Fatalf("StartNeuron's key %v, %v; want the file's neuron key", k, err)
	}
	other, err := LoadIdentityFlag(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Synapse.PublicHex() == first.Synapse.PublicHex() {
		t.Fatal("two key files share a synapse key")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Fatalf("key file mode %o, want 600", mode)
	}
	fresh, err := LoadIdentityFlag("")
	if err != nil || fresh.Synapse == nil {
		t.Fatalf("no key file: %v, %v", fresh, err)
	}
}

// A key file that cannot be parsed is a --neuron_key usage error, and is left as it was.
func TestLoadIdentityFlagBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(path, []byte("junk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var usage *UsageError
	if _, err := LoadIdentityFlag(path); !errors.As(err, &usage) || usage.Flag != "neuron_key" {
		t.Errorf("LoadIdentityFlag = %v, want a --neuron_key usage error", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "junk\n" {
		t.Error("the bad file was changed")
	}
}
