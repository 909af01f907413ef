package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	for _, data := range []string{"first", "second, longer", "3"} {
		if err := WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("after WriteFile(%q): %q, %v", data, got, err)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("mode %o, want 600", perm)
	}
	assertOnly(t, filepath.Dir(path), "f")
}

func TestWriteWithFailureKeepsTarget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteWith(path, 0o644, func(tmp string) error {
		if err := os.WriteFile(tmp, []byte("half"), 0o644); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteWith = %v, want the write's error", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "old" {
		t.Fatalf("target after a failed write: %q, %v", got, err)
	}
	assertOnly(t, filepath.Dir(path), "f")
}

func TestWriteWithTempBeside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt")
	err := WriteWith(path, 0o640, func(tmp string) error {
		if filepath.Dir(tmp) != dir {
			t.Errorf("temporary file %s is not in %s", tmp, dir)
		}
		info, err := os.Stat(tmp)
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm != 0o640 {
			t.Errorf("temporary file mode %o, want 640", perm)
		}
		return os.WriteFile(tmp, []byte("x"), 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	assertOnly(t, dir, "ckpt")
}

func TestWriteFileMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "f")
	if err := WriteFile(path, []byte("x"), 0o600); err == nil {
		t.Fatal("WriteFile into a missing folder succeeded")
	}
}

// assertOnly fails unless dir holds exactly the one entry name.
func assertOnly(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("%s holds %v, want only %s", dir, names, name)
	}
}
