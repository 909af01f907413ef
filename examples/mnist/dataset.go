package mnist

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Image geometry and label range of MNIST.
const (
	Rows    = 28
	Cols    = 28
	Pixels  = Rows * Cols
	Classes = 10
)

// maxFileBytes bounds what one (decompressed) idx file may hold; the largest
// MNIST file is 47,040,016 bytes.
const maxFileBytes = 64 << 20

// The four files of the MNIST distribution, without the optional ".gz".
const (
	trainImagesFile = "train-images-idx3-ubyte"
	trainLabelsFile = "train-labels-idx1-ubyte"
	testImagesFile  = "t10k-images-idx3-ubyte"
	testLabelsFile  = "t10k-labels-idx1-ubyte"
)

// Dataset is a set of MNIST images with their labels, held in memory.
type Dataset struct {
	// Pixels holds Len()·Pixels grey levels (0–255), image after image.
	Pixels []byte
	// Labels holds the digit of each image.
	Labels []byte
}

// Len returns the number of examples.
func (d *Dataset) Len() int { return len(d.Labels) }

// Load reads the training and test sets from dir, which holds the four MNIST
// idx files, each either plain or gzip-compressed (name + ".gz").
func Load(dir string) (train, test *Dataset, err error) {
	if train, err = loadSet(dir, trainImagesFile, trainLabelsFile); err != nil {
		return nil, nil, err
	}
	if test, err = loadSet(dir, testImagesFile, testLabelsFile); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

func loadSet(dir, imagesName, labelsName string) (*Dataset, error) {
	imgBuf, imgPath, err := readIDXFile(dir, imagesName)
	if err != nil {
		return nil, err
	}
	pixels, n, err := DecodeImages(imgBuf)
	if err != nil {
		return nil, corruptFile(imgPath, err)
	}
	lblBuf, lblPath, err := readIDXFile(dir, labelsName)
	if err != nil {
		return nil, err
	}
	labels, err := DecodeLabels(lblBuf)
	if err != nil {
		return nil, corruptFile(lblPath, err)
	}
	if len(labels) != n {
		return nil, corruptFile(lblPath, fmt.Errorf("%w: %d labels for %d images in %s", ErrCorrupt, len(labels), n, imgPath))
	}
	return &Dataset{Pixels: pixels, Labels: labels}, nil
}

// readIDXFile reads dir/name or dir/name.gz, decompressing the latter, and
// returns the bytes and the path it read.
func readIDXFile(dir, name string) ([]byte, string, error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		path += ".gz"
		f, err = os.Open(path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("mnist: %s has no %s or %s.gz: %s", dir, name, name, fixHint)
		}
		return nil, "", fmt.Errorf("mnist: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	var magic [2]byte
	if n, _ := io.ReadFull(f, magic[:]); n == 2 && magic == [2]byte{0x1f, 0x8b} {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, "", fmt.Errorf("mnist: %s: %w", path, err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, "", corruptFile(path, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err))
		}
		defer zr.Close()
		r = zr
	} else if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, "", fmt.Errorf("mnist: %s: %w", path, err)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, "", corruptFile(path, fmt.Errorf("%w: %v", ErrCorrupt, err))
	}
	if n > maxFileBytes {
		return nil, "", corruptFile(path, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, maxFileBytes))
	}
	return buf.Bytes(), path, nil
}

// fixHint tells the user how to get a good copy of the data.
const fixHint = "fetch the data with `go mod download " + dataModule + "` in the bittensor-go checkout, " +
	"or pass --data_dir with a folder holding " + trainImagesFile + ", " + trainLabelsFile + ", " +
	testImagesFile + " and " + testLabelsFile + " (plain or .gz)"

func corruptFile(path string, err error) error {
	return fmt.Errorf("mnist: %s: %w; replace it with a good copy (in the module cache, `go mod verify` "+
		"confirms the damage and `go clean -modcache && go mod download` restores it), "+
		"or pass --data_dir with a folder holding the four MNIST files", path, err)
}
