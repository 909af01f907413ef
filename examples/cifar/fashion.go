package cifar

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opentensor/bittensor-go/examples/mnist"
	"github.com/opentensor/bittensor-go/neuron"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs
// Fashion-MNIST (the four idx files, gzip-compressed).
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// fashionHint tells the user where to get Fashion-MNIST.
const fashionHint = "install it with `apt-get install dataset-fashion-mnist` (files under " + FashionMNISTDir +
	"), or pass --data_dir with a folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, " +
	"t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz)"

// fashionPad is the zero border that makes a 28×28 image 32×32.
const fashionPad = (Rows - mnist.Rows) / 2

// LoadFashionMNIST reads Fashion-MNIST (the MNIST idx format) from dir and
// returns it as 3×32×32 images: each 28×28 grey image padded with a
// 2-pixel black border and copied into the three channels, so the CIFAR
// model learns from real images installed offline.
func LoadFashionMNIST(dir string) (train, test *Dataset, err error) {
	for _, name := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		if !exists(filepath.Join(dir, name)) && !exists(filepath.Join(dir, name+".gz")) {
			return nil, nil, &neuron.UsageError{Flag: "data_dir", Err: fmt.Errorf("%s has no %s or %s.gz: %s", dir, name, name, fashionHint)}
		}
	}
	grey, greyTest, err := mnist.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("fashion-mnist: %w; Debian's copy is restored by "+
			"`apt-get install --reinstall dataset-fashion-mnist`", err)
	}
	return asColour(grey), asColour(greyTest), nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// asColour pads each 28×28 grey image to 32×32 and repeats it in 3 channels.
func asColour(d *mnist.Dataset) *Dataset {
	n := d.Len()
	out := &Dataset{Pixels: make([]byte, n*Pixels), Labels: append([]byte(nil), d.Labels...)}
	for i := range n {
		src := d.Pixels[i*mnist.Pixels : (i+1)*mnist.Pixels]
		dst := out.Pixels[i*Pixels : (i+1)*Pixels]
		for c := range Channels {
			plane := dst[c*Rows*Cols : (c+1)*Rows*Cols]
			for y := range mnist.Rows {
				copy(plane[(y+fashionPad)*Cols+fashionPad:], src[y*mnist.Cols:(y+1)*mnist.Cols])
			}
		}
	}
	return out
}
