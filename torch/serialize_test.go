package torch_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
)

// onlyFiles fails the test unless dir holds exactly the named files.
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("folder holds %v, want %v (no temporary files left)", got, names)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.pt")
	in := map[string]*torch.Tensor{
		"fc.weight": p(7, 0, 3, 4).SetRequiresGrad(true),
		"f64":       p64(5, 1, 2),
		"ids":       i64(3, -1, 7),
		"i32":       torch.FromInt32([]int32{1, 2}),
		"bytes":     torch.FromUint8([]uint8{0, 255}),
		"mask":      torch.FromBool([]bool{true, false}),
		"scalar":    torch.Scalar(4),
		"view":      p(7, 0, 3, 4).T(), // non-contiguous
	}
	if err := torch.Save(path, in); err != nil {
		t.Fatal(err)
	}
	onlyFiles(t, dir, "state.pt")
	out, err := torch.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("loaded %d tensors, saved %d", len(out), len(in))
	}
	for name, want := range in {
		got, ok := out[name]
		if !ok {
			t.Errorf("%s missing after load", name)
			continue
		}
		if got.DType() != want.DType() || !slices.Equal(got.Shape(), want.Shape()) {
			t.Errorf("%s: loaded %v, saved %v", name, got, want)
			continue
		}
		if err := testutil.Close(testutil.MustValues(t, got), testutil.MustValues(t, want), 0, 0); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Saving again replaces the file atomically; still no temporary files.
	if err := torch.Save(path, map[string]*torch.Tensor{"only": torch.Scalar(1)}); err != nil {
		t.Fatal(err)
	}
	onlyFiles(t, dir, "state.pt")
	if out, err := torch.Load(path); err != nil || len(out) != 1 {
		t.Errorf("reloaded %d tensors, %v; want 1", len(out), err)
	}
}

func TestSaveFailureLeavesFileAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.pt")
	if err := torch.Save(path, map[string]*torch.Tensor{"a": p(7, 0, 3)}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := torch.Save(path, map[string]*torch.Tensor{"a": p(7, 0, 3), "bad": torch.Errorf("broken")}); err == nil {
		t.Error("save of a failed tensor: no error")
	}
	after, _ := os.ReadFile(path)
	if !slices.Equal(before, after) {
		t.Error("a failed save changed the file")
	}
	onlyFiles(t, dir, "state.pt")
	if err := torch.Save(filepath.Join(dir, "missing", "x.pt"), map[string]*torch.Tensor{"a": p(7, 0, 3)}); err == nil {
		t.Error("save into a missing folder: no error")
	}
}

func TestLoadBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pt")
	if err := torch.Save(good, map[string]*torch.Tensor{"w": p(7, 0, 64, 64)}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"truncated.pt":      data[:len(data)/2],
		"truncated-tail.pt": data[:len(data)-30],
		"header-only.pt":    data[:64],
		"empty.pt":          nil,
		"foreign.pt":        []byte("{\"this\": \"is JSON, not a checkpoint\"}\n"),
		"zeros.pt":          make([]byte, 4096),
	}
	// A file written by PyTorch's torch.save (a pickle in a zip) is foreign too.
	py, err := os.ReadFile("testdata/pytorch_save.pt")
	if err != nil {
		t.Fatal(err)
	}
	bad["pytorch-save.pt"] = py
	for name, b := range bad {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := torch.Load(path)
		if err == nil {
			t.Errorf("%s: loaded without error", name)
			continue
		}
		if !strings.Contains(err.Error(), "not a readable checkpoint") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: unclear error %q", name, err)
		}
	}
	if _, err := torch.Load(filepath.Join(dir, "absent.pt")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// rewriteArchive copies the zip archive at src to dst, passing each entry's
// content through edit; the copy has valid CRCs, as a crafted file would.
func rewriteArchive(t *testing.T, src, dst string, edit func(name string, data []byte) []byte) {
	t.Helper()
	r, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	w := zip.NewWriter(&out)
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		fw, err := w.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(edit(f.Name, data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejectsInconsistentRecords(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pt")
	if err := torch.Save(good, map[string]*torch.Tensor{"w": p(7, 0, 4, 4)}); err != nil {
		t.Fatal(err)
	}
	// An intact rewrite loads: the check accepts what libtorch wrote.
	same := filepath.Join(dir, "same.pt")
	rewriteArchive(t, good, same, func(_ string, d []byte) []byte { return d })
	if ts, err := torch.Load(same); err != nil || len(ts) != 1 {
		t.Fatalf("rewritten archive: %d tensors, %v", len(ts), err)
	}
	// A data record shorter than the tensor's shape, with a valid CRC.
	short := filepath.Join(dir, "short.pt")
	rewriteArchive(t, good, short, func(name string, d []byte) []byte {
		if strings.Contains(name, "/data/") {
			return d[:len(d)/2]
		}
		return d
	})
	_, err := torch.Load(short)
	if err == nil || !strings.Contains(err.Error(), "do not match their shapes") {
		t.Errorf("short data record: %v", err)
	}
}
