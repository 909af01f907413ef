// Package atomicfile replaces files durably: a reader, or a process that
// starts after a crash at any moment, finds either the file's old contents or
// its new contents, complete, never a mix or a truncated file.
//
// The rules, in order:
//
//  1. The new contents go to a fresh temporary file in the target's own
//     folder (so that the rename below never crosses file systems).
//  2. The temporary file is flushed to stable storage (fsync) before anything
//     refers to it: a rename that reached the disk before the data did would
//     leave a zero-length or torn file after a power loss.
//  3. The temporary file is renamed over the target (atomic on POSIX).
//  4. The folder is flushed, so that the rename itself survives a power loss.
//
// A failure at any step removes the temporary file and leaves the target as
// it was. A process killed between steps 1 and 3 leaves a stray temporary
// file (named ".NAME.tmp-*") beside an intact target.
//
// The package has no dependencies beyond the standard library, so that both
// torch and neuron can use it.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, durably (see the package rules). The
// file gets mode perm; path's folder must exist.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return WriteWith(path, perm, func(tmp string) error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

// WriteWith replaces path durably with what write puts in the file named
// tmp, which exists (empty, mode perm) in path's folder when write is called.
// write may close and reopen tmp (a C library writing by name, say) but must
// not rename or remove it. When write fails, path is left unchanged and the
// error is returned as is.
func WriteWith(path string, perm fs.FileMode, write func(tmp string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err := write(tmp); err != nil {
		return err
	}
	if err := syncPath(tmp); err != nil {
		return fmt.Errorf("atomicfile: flush %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	committed = true
	if err := syncPath(dir); err != nil {
		return fmt.Errorf("atomicfile: flush folder %s: %w", dir, err)
	}
	return nil
}

// syncPath flushes the file or folder at path to stable storage.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
