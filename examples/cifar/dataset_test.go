package cifar

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/examples/mnist"
	"github.com/opentensor/bittensor-go/neuron"
)

// records returns n CIFAR-10 records: record i has label i%10 and every
// byte of its image i%256, except channel c's first pixel, which is c.
func records(n int) []byte {
	buf := make([]byte, n*RecordSize)
	for i := range n {
		rec := buf[i*RecordSize : (i+1)*RecordSize]
		rec[0] = byte(i % Classes)
		for p := 1; p < RecordSize; p++ {
			rec[p] = byte(i)
		}
		for c := range Channels {
			rec[1+c*Rows*Cols] = byte(c)
		}
	}
	return buf
}

// writeCIFAR writes the six files of a CIFAR-10 folder, with perTrain
// records in each training file and nTest in the test file.
func writeCIFAR(t *testing.T, perTrain, nTest int) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range cifarTrainFiles {
		if err := os.WriteFile(filepath.Join(dir, name), records(perTrain), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, cifarTestFile), records(nTest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDecodeCIFAR10(t *testing.T) {
	d, err := DecodeCIFAR10(records(3))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || len(d.Pixels) != 3*Pixels {
		t.Fatalf("%d labels, %d pixels; want 3 and %d", d.Len(), len(d.Pixels), 3*Pixels)
	}
	for i := range 3 {
		img := d.Pixels[i*Pixels : (i+1)*Pixels]
		if d.Labels[i] != byte(i) || img[1] != byte(i) || img[Pixels-1] != byte(i) || img[Rows*Cols] != 1 || img[2*Rows*Cols] != 2 {
			t.Fatalf("record %d decoded as label %d, pixels %v … %v", i, d.Labels[i], img[:2], img[Pixels-1])
		}
	}
}

func TestDecodeCIFAR10RefusesBadRecords(t *testing.T) {
	badLabel := records(2)
	badLabel[RecordSize] = 10
	for name, c := range map[string]struct {
		buf  []byte
		want string
	}{
		"empty":      {nil, "empty"},
		"truncated":  {records(2)[:2*RecordSize-1], "not a whole number of 3073-byte records (truncated after record 1?)"},
		"header":     {[]byte{3}, "not a whole number"},
		"bad label":  {badLabel, "record 1 has label 10"},
		"extra byte": {append(records(1), 0), "not a whole number"},
	} {
		_, err := DecodeCIFAR10(c.buf)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrCorrupt saying %q", name, err, c.want)
		}
	}
}

func TestLoadCIFAR10(t *testing.T) {
	train, test, err := LoadCIFAR10(writeCIFAR(t, 4, 3))
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 20 || test.Len() != 3 {
		t.Fatalf("%d training and %d test examples, want 20 and 3", train.Len(), test.Len())
	}
}

// A missing file says where to get CIFAR-10 (a usage error naming
// --data_dir); a damaged one names the file and what is wrong with it.
func TestLoadCIFAR10BadFolders(t *testing.T) {
	dir := writeCIFAR(t, 2, 2)
	if err := os.Remove(filepath.Join(dir, "data_batch_3.bin")); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadCIFAR10(dir)
	var ue *neuron.UsageError
	if !errors.As(err, &ue) || ue.Flag != "data_dir" || !strings.Contains(err.Error(), "data_batch_3.bin") ||
		!strings.Contains(err.Error(), "https://www.cs.toronto.edu/~kriz/cifar.html") {
		t.Errorf("missing file: %v, want a --data_dir usage error naming the file and where to download", err)
	}

	dir = writeCIFAR(t, 2, 2)
	path := filepath.Join(dir, cifarTestFile)
	if err := os.Truncate(path, RecordSize+100); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadCIFAR10(dir)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated file: %v, want ErrCorrupt naming %s", err, path)
	}

	dir = writeCIFAR(t, 2, 2)
	path = filepath.Join(dir, "data_batch_1.bin")
	if err := os.Truncate(path, maxBatchFileBytes+RecordSize); err != nil {
		t.Fatal(err)
	}
	if _, _, err = LoadCIFAR10(dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge file: %v, want ErrCorrupt saying it is too large", err)
	}
}

// Fashion-MNIST images become 3×32×32: a 2-pixel black border, the grey
// image in each channel.
func TestLoadFashionMNISTAsColour(t *testing.T) {
	dir := t.TempDir()
	n := 3
	pixels := make([]byte, n*mnist.Pixels)
	for i := range n {
		for p := range mnist.Pixels {
			pixels[i*mnist.Pixels+p] = byte(1 + i*7 + p%13)
		}
	}
	labels := []byte{4, 0, 9}
	for name, x := range map[string]mnist.IDX{
		"train-images-idx3-ubyte": {Dims: []int{n, mnist.Rows, mnist.Cols}, Data: pixels},
		"train-labels-idx1-ubyte": {Dims: []int{n}, Data: labels},
		"t10k-images-idx3-ubyte":  {Dims: []int{1, mnist.Rows, mnist.Cols}, Data: pixels[:mnist.Pixels]},
		"t10k-labels-idx1-ubyte":  {Dims: []int{1}, Data: labels[:1]},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), x.Encode(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	train, test, err := LoadFashionMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != n || test.Len() != 1 || string(train.Labels) != string(labels) {
		t.Fatalf("%d/%d examples, labels %v", train.Len(), test.Len(), train.Labels)
	}
	for i := range n {
		img := train.Pixels[i*Pixels : (i+1)*Pixels]
		for c := range Channels {
			for y := range Rows {
				for x := range Cols {
					got := img[c*Rows*Cols+y*Cols+x]
					want := byte(0)
					if sy, sx := y-2, x-2; sy >= 0 && sy < mnist.Rows && sx >= 0 && sx < mnist.Cols {
						want = pixels[i*mnist.Pixels+sy*mnist.Cols+sx]
					}
					if got != want {
						t.Fatalf("image %d channel %d (%d,%d) = %d, want %d", i, c, y, x, got, want)
					}
				}
			}
		}
	}

	if err := os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte")); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadFashionMNIST(dir)
	var ue *neuron.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Errorf("missing file: %v, want a usage error saying what to install", err)
	}
}

// Debian's copy, when installed, loads whole.
func TestLoadDebianFashionMNIST(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		t.Skipf("dataset-fashion-mnist is not installed: %v", err)
	}
	train, test, err := LoadFashionMNIST(FashionMNISTDir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 {
		t.Fatalf("%d training and %d test images, want 60000 and 10000", train.Len(), test.Len())
	}
}

func FuzzDecodeCIFAR10(f *testing.F) {
	f.Add(records(1))
	f.Add(records(2)[:RecordSize+17])
	f.Add([]byte{})
	f.Add([]byte{10})
	f.Fuzz(func(t *testing.T, buf []byte) {
		d, err := DecodeCIFAR10(buf)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(buf) != d.Len()*RecordSize || len(d.Pixels) != d.Len()*Pixels || d.Len() == 0 {
			t.Fatalf("%d bytes decoded to %d labels and %d pixels", len(buf), d.Len(), len(d.Pixels))
		}
		for i, l := range d.Labels {
			if l >= Classes || l != buf[i*RecordSize] {
				t.Fatalf("label %d is %d, record says %d", i, l, buf[i*RecordSize])
			}
		}
	})
}
