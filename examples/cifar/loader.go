package cifar

import (
	"fmt"
	"math/rand/v2"

	"github.com/opentensor/bittensor-go/examples/internal/prefetch"
	"github.com/opentensor/bittensor-go/examples/internal/tensorbatches"
	"github.com/opentensor/bittensor-go/neuron/trainer"
)

// cropPadding is how far a random crop may shift an image (torchvision's
// RandomCrop(32, padding=4)): the image is padded with zeros by 4 pixels on
// each side and a 32×32 window is cut out of it.
const cropPadding = 4

// Loader cuts a Dataset into minibatches of images of [Channels, Rows,
// Cols], shuffled and augmented anew each epoch when asked, and prepares
// them on a goroutine ahead of the consumer: it is a prefetch.Loader, whose
// methods it has.
type Loader struct{ *prefetch.Loader }

// NewLoader returns a loader of batchSize examples per batch (at least 1;
// the last batch of an epoch may be smaller) of data, which must hold at
// least one example and Pixels bytes for each. With train, epoch e visits
// the examples in an order drawn from (seed, e) and augments each (a random
// crop with padding 4 and a horizontal flip with probability ½) from a
// stream drawn from them too, so a resumed run sees the same batches;
// without it, the examples come in order as they are.
func NewLoader(data *Dataset, batchSize int, train bool, seed uint64) (*Loader, error) {
	o := prefetch.Options{BatchSize: batchSize, Shuffle: train, Seed: seed}
	if train {
		o.Augment = randomCropFlip
	}
	l, err := prefetch.NewLoader(prefetch.Images{Shape: []int64{Channels, Rows, Cols}, Pixels: data.Pixels, Labels: data.Labels}, o)
	if err != nil {
		return nil, fmt.Errorf("cifar: %w", err)
	}
	return &Loader{l}, nil
}

// Tensors returns the loader's batches as tensors for a trainer.Trainer:
// images [batch, 3, 32, 32] float32 in [0, 1] and labels [batch] int64.
func (l *Loader) Tensors() trainer.Batches { return tensorbatches.Of(l.Loader) }

// randomCropFlip writes into dst the image src cropped at a random shift of
// up to cropPadding pixels each way and mirrored with probability ½, drawn
// from rng in that order (dx, dy, flip).
func randomCropFlip(dst, src []byte, rng *rand.Rand) {
	dx, dy := rng.IntN(2*cropPadding+1)-cropPadding, rng.IntN(2*cropPadding+1)-cropPadding
	augment(dst, src, dx, dy, rng.IntN(2) == 1)
}

// augment writes into dst the 32×32 window of src padded with zeros, shifted
// by (dx, dy), mirrored left to right when flip: dst(c, y, x) = src(c, y+dy,
// x'+dx) with x' = 31−x when flipped and x otherwise, 0 outside src.
func augment(dst, src []byte, dx, dy int, flip bool) {
	for c := range Channels {
		plane, out := src[c*Rows*Cols:(c+1)*Rows*Cols], dst[c*Rows*Cols:(c+1)*Rows*Cols]
		for y := range Rows {
			sy := y + dy
			row := out[y*Cols : (y+1)*Cols]
			if sy < 0 || sy >= Rows {
				clear(row)
				continue
			}
			for x := range Cols {
				sx := x
				if flip {
					sx = Cols - 1 - x
				}
				sx += dx
				if sx < 0 || sx >= Cols {
					row[x] = 0
				} else {
					row[x] = plane[sy*Cols+sx]
				}
			}
		}
	}
}
