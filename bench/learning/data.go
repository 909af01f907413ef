package main

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"

	"github.com/opentensor/bittensor-go/examples/mnist"
)

// The idx files of the MNIST distribution, as the mnist package reads them.
var idxNames = [4]string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

// subsetData writes into dir the first trainN training and testN test
// examples of MNIST (0: all), as idx files a neuron reads with --data_dir,
// and returns the number of training examples written.
func subsetData(ctx context.Context, dir string, trainN, testN int) (int, error) {
	src, err := mnist.FindData(ctx, "")
	if err != nil {
		return 0, err
	}
	train, test, err := mnist.Load(src)
	if err != nil {
		return 0, err
	}
	train, test = firstN(train, trainN), firstN(test, testN)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	for i, set := range []*mnist.Dataset{train, test} {
		images := idx(set.Pixels, set.Len(), mnist.Rows, mnist.Cols)
		labels := idx(set.Labels, set.Len())
		if err := os.WriteFile(filepath.Join(dir, idxNames[2*i]), images, 0o644); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, idxNames[2*i+1]), labels, 0o644); err != nil {
			return 0, err
		}
	}
	return train.Len(), nil
}

// firstN returns the first n examples of d (all of them when n is 0 or
// more than d holds).
func firstN(d *mnist.Dataset, n int) *mnist.Dataset {
	if n <= 0 || n >= d.Len() {
		return d
	}
	return &mnist.Dataset{Pixels: d.Pixels[:n*mnist.Pixels], Labels: d.Labels[:n]}
}

// idx encodes unsigned bytes of the given dimensions as an idx array.
func idx(data []byte, dims ...int) []byte {
	out := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		out = binary.BigEndian.AppendUint32(out, uint32(d))
	}
	return append(out, data...)
}
