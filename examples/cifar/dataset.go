package cifar

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opentensor/bittensor-go/neuron"
)

// Pixels is the number of bytes of one image: 3 channels of 32×32, each
// channel's rows in order (the CIFAR-10 binary layout).
const Pixels = Channels * Rows * Cols

// RecordSize is the size of one record of a CIFAR-10 binary file: the label
// byte, then the image.
const RecordSize = 1 + Pixels

// maxBatchFileBytes bounds what one CIFAR-10 file may hold; the real ones
// hold 10,000 records (30,730,000 bytes).
const maxBatchFileBytes = 64 << 20

// The CIFAR-10 binary distribution's files.
var (
	cifarTrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	cifarTestFile   = "test_batch.bin"
)

// cifarHint tells the user where to get CIFAR-10.
const cifarHint = "download the CIFAR-10 binary version (cifar-10-binary.tar.gz, from " +
	"https://www.cs.toronto.edu/~kriz/cifar.html), unpack it and pass --data_dir with the folder " +
	"cifar-10-batches-bin (it holds data_batch_1.bin … data_batch_5.bin and test_batch.bin); " +
	"or train on Fashion-MNIST with --dataset fashion-mnist (apt-get install dataset-fashion-mnist)"

// ErrCorrupt marks a data file whose bytes are not what its format says.
// Errors of the decoders wrap it.
var ErrCorrupt = errors.New("corrupt data file")

// Dataset is a set of 3×32×32 images with their labels, held in memory.
type Dataset struct {
	// Pixels holds Len()·Pixels bytes (0–255), image after image, each
	// channel by channel, row by row.
	Pixels []byte
	// Labels holds each image's class, 0–9.
	Labels []byte
}

// Len returns the number of examples.
func (d *Dataset) Len() int { return len(d.Labels) }

// DecodeCIFAR10 decodes the records of a CIFAR-10 binary file: a whole
// number of RecordSize records, at least one, each label below Classes. Any
// mismatch is an error wrapping ErrCorrupt, naming the record.
func DecodeCIFAR10(buf []byte) (*Dataset, error) {
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: empty, want records of %d bytes", ErrCorrupt, RecordSize)
	}
	if len(buf)%RecordSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte records (truncated after record %d?)",
			ErrCorrupt, len(buf), RecordSize, len(buf)/RecordSize)
	}
	n := len(buf) / RecordSize
	d := &Dataset{Pixels: make([]byte, n*Pixels), Labels: make([]byte, n)}
	for i := range n {
		rec := buf[i*RecordSize : (i+1)*RecordSize]
		if rec[0] >= Classes {
			return nil, fmt.Errorf("%w: record %d has label %d, want 0 to %d", ErrCorrupt, i, rec[0], Classes-1)
		}
		d.Labels[i] = rec[0]
		copy(d.Pixels[i*Pixels:], rec[1:])
	}
	return d, nil
}

// LoadCIFAR10 reads the training set (data_batch_1.bin … data_batch_5.bin)
// and the test set (test_batch.bin) from dir. A missing file is an error
// saying where to get the data; a damaged one names the file.
func LoadCIFAR10(dir string) (train, test *Dataset, err error) {
	train = &Dataset{}
	for _, name := range cifarTrainFiles {
		d, err := readCIFAR10File(dir, name)
		if err != nil {
			return nil, nil, err
		}
		train.Pixels = append(train.Pixels, d.Pixels...)
		train.Labels = append(train.Labels, d.Labels...)
	}
	if test, err = readCIFAR10File(dir, cifarTestFile); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

func readCIFAR10File(dir, name string) (*Dataset, error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &neuron.UsageError{Flag: "data_dir", Err: fmt.Errorf("%s has no %s: %s", dir, name, cifarHint)}
		}
		return nil, fmt.Errorf("cifar: %w", err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxBatchFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cifar: %s: %w", path, err)
	}
	if len(buf) > maxBatchFileBytes {
		return nil, corruptFile(path, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, maxBatchFileBytes))
	}
	d, err := DecodeCIFAR10(buf)
	if err != nil {
		return nil, corruptFile(path, err)
	}
	return d, nil
}

func corruptFile(path string, err error) error {
	return fmt.Errorf("cifar: %s: %w; replace it with a good copy: %s", path, err, cifarHint)
}
