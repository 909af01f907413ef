package cifar

import (
	"fmt"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/nn"
)

// DPNConfig is the shape of a Dual Path Network (Chen et al., 2017) for
// 32×32 images: a 3×3 stem convolution (3→64) with batch norm, then four
// stages of bottleneck blocks. Stage i has NumBlocks[i] blocks whose grouped
// 3×3 convolution has InPlanes[i] channels in Groups groups; each block adds
// OutPlanes[i] channels to the residual path and DenseDepth[i] channels to
// the densely connected path. The stages' strides are 1, 2, 1, 2.
type DPNConfig struct {
	InPlanes, OutPlanes, NumBlocks, DenseDepth [4]int64
	Groups                                     int64
}

// DPN26 is the seed's network: the shallow 26-layer DPN.
func DPN26() DPNConfig {
	return DPNConfig{
		InPlanes:   [4]int64{96, 192, 384, 768},
		OutPlanes:  [4]int64{256, 512, 1024, 2048},
		NumBlocks:  [4]int64{2, 2, 2, 2},
		DenseDepth: [4]int64{16, 32, 24, 128},
		Groups:     32,
	}
}

// Image geometry, and the network's fixed parts.
const (
	Channels   = 3
	Rows       = 32
	Cols       = 32
	stemPlanes = 64
	// poolSize is the average pooling after the last stage: its 8×8 maps
	// become 2×2.
	poolSize = 4
)

// stageStrides are the strides of the four stages' first blocks.
var stageStrides = [4]int64{1, 2, 1, 2}

// Validate reports whether the configuration builds a network.
func (c DPNConfig) Validate() error {
	if c.Groups < 1 {
		return fmt.Errorf("cifar: dpn: %d groups, want at least 1", c.Groups)
	}
	for i := range 4 {
		if c.InPlanes[i] < 1 || c.OutPlanes[i] < 1 || c.NumBlocks[i] < 1 || c.DenseDepth[i] < 0 {
			return fmt.Errorf("cifar: dpn: stage %d: in %d, out %d, blocks %d, dense %d: want positive sizes",
				i+1, c.InPlanes[i], c.OutPlanes[i], c.NumBlocks[i], c.DenseDepth[i])
		}
		if c.InPlanes[i]%c.Groups != 0 {
			return fmt.Errorf("cifar: dpn: stage %d: %d channels do not split into %d groups", i+1, c.InPlanes[i], c.Groups)
		}
	}
	return nil
}

// Channels returns the number of channels the last stage puts out.
func (c DPNConfig) Channels() int64 { return c.OutPlanes[3] + (c.NumBlocks[3]+1)*c.DenseDepth[3] }

// FeatureDim returns the size of the flattened features a trunk computes
// from one image: Channels() × 2 × 2 (9728 for DPN26).
func (c DPNConfig) FeatureDim() int64 {
	side := int64(Rows)
	for _, s := range stageStrides {
		side /= s
	}
	side /= poolSize
	return c.Channels() * side * side
}

// normMode says which statistics a batch norm uses.
type normMode int

const (
	// useRunning normalises with the running statistics and changes
	// nothing (evaluation, and every served forward).
	useRunning normMode = iota
	// useBatch normalises with the batch's statistics and computes the
	// running statistics the next optimizer step commits.
	useBatch
)

// batchNorm is a BatchNorm2d whose training forward does not write the
// running statistics that served forwards read concurrently: it writes
// copies, which commit installs while no request runs.
type batchNorm struct {
	*nn.BatchNorm2d
	pendingMean, pendingVar *torch.Tensor
}

func (b *batchNorm) forward(x *torch.Tensor, mode normMode) *torch.Tensor {
	if mode == useRunning {
		return torch.BatchNorm(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, false, b.Momentum, b.Eps)
	}
	b.dropPending()
	b.pendingMean, b.pendingVar = b.RunningMean.Clone(), b.RunningVar.Clone()
	return torch.BatchNorm(x, b.Weight, b.Bias, b.pendingMean, b.pendingVar, true, b.Momentum, b.Eps)
}

// commit installs the running statistics of the last training forward.
func (b *batchNorm) commit() error {
	if b.pendingMean == nil {
		return nil
	}
	defer b.dropPending()
	if err := b.RunningMean.CopyFrom(b.pendingMean); err != nil {
		return err
	}
	return b.RunningVar.CopyFrom(b.pendingVar)
}

func (b *batchNorm) dropPending() {
	if b.pendingMean != nil {
		b.pendingMean.Free()
		b.pendingVar.Free()
		b.pendingMean, b.pendingVar = nil, nil
	}
}

// norms collects a network's batch norms, so that the model can commit them.
type norms []*batchNorm

// add registers a new batch norm of n channels in parent under name.
func (ns *norms) add(parent nn.Module, name string, n int64) *batchNorm {
	b := &batchNorm{BatchNorm2d: nn.Register(parent, name, nn.NewBatchNorm2d(n))}
	*ns = append(*ns, b)
	return b
}

// bottleneck is a DPN block: 1×1 conv, grouped 3×3 conv (carrying the
// stride), 1×1 conv to out+dense channels; the first out channels add to the
// residual path, the last dense channels join the dense path.
type bottleneck struct {
	nn.Base
	out                 int64
	conv1, conv2, conv3 *nn.Conv2d
	bn1, bn2, bn3       *batchNorm
	// shortcut projects the input of a stage's first block; nil in the others.
	shortcut   *nn.Conv2d
	shortcutBN *batchNorm
}

func newBottleneck(ns *norms, last, in, out, dense, stride, groups int64, first bool) *bottleneck {
	b := &bottleneck{out: out}
	b.conv1 = nn.Register(b, "conv1", nn.NewConv2d(last, in, 1, torch.Conv2dOptions{}, false))
	b.bn1 = ns.add(b, "bn1", in)
	b.conv2 = nn.Register(b, "conv2", nn.NewConv2d(in, in, 3,
		torch.Conv2dOptions{Stride: [2]int64{stride, stride}, Padding: [2]int64{1, 1}, Groups: groups}, false))
	b.bn2 = ns.add(b, "bn2", in)
	b.conv3 = nn.Register(b, "conv3", nn.NewConv2d(in, out+dense, 1, torch.Conv2dOptions{}, false))
	b.bn3 = ns.add(b, "bn3", out+dense)
	if first {
		b.shortcut = nn.Register(b, "shortcut", nn.NewConv2d(last, out+dense, 1,
			torch.Conv2dOptions{Stride: [2]int64{stride, stride}}, false))
		b.shortcutBN = ns.add(b, "shortcut_bn", out+dense)
	}
	return b
}

func (b *bottleneck) forward(x *torch.Tensor, mode normMode) *torch.Tensor {
	h1 := relu(convNorm(b.conv1, b.bn1, x, mode))
	h2 := relu(convNorm(b.conv2, b.bn2, h1, mode))
	h1.Free()
	h := convNorm(b.conv3, b.bn3, h2, mode)
	h2.Free()
	defer h.Free()
	if b.shortcut != nil {
		x = convNorm(b.shortcut, b.shortcutBN, x, mode)
		defer x.Free()
	}
	d := b.out
	parts := []*torch.Tensor{x.Narrow(1, 0, d), h.Narrow(1, 0, d), x.Narrow(1, d, x.Size(1)-d), h.Narrow(1, d, h.Size(1)-d)}
	defer torch.Free(parts...)
	sum := parts[0].Add(parts[1])
	defer sum.Free()
	return relu(torch.Cat([]*torch.Tensor{sum, parts[2], parts[3]}, 1))
}

// The forwards free each intermediate result's handle as soon as they are
// done with it (see torch.Free), as Python's reference counting does.
// Autograd holds its own references to what backward needs, so a step's
// memory holds that and the few results in use at once, not every
// intermediate result (batch norms' outputs before their ReLU, the blocks'
// sums, concatenations and outputs) until the step's scope closes.

// convNorm returns bn(conv(x)).
func convNorm(conv *nn.Conv2d, bn *batchNorm, x *torch.Tensor, mode normMode) *torch.Tensor {
	c := conv.Forward(x)
	defer c.Free()
	return bn.forward(c, mode)
}

// relu returns t.Relu() and frees t.
func relu(t *torch.Tensor) *torch.Tensor {
	defer t.Free()
	return t.Relu()
}

// trunk is a whole DPN up to its pooled, flattened features.
type trunk struct {
	nn.Base
	stem   *nn.Conv2d
	stemBN *batchNorm
	blocks []*bottleneck
}

func newTrunk(ns *norms, c DPNConfig) *trunk {
	t := &trunk{}
	t.stem = nn.Register(t, "conv1", nn.NewConv2d(Channels, stemPlanes, 3, torch.Conv2dOptions{Padding: [2]int64{1, 1}}, false))
	t.stemBN = ns.add(t, "bn1", stemPlanes)
	last := int64(stemPlanes)
	for s := range 4 {
		for i := range c.NumBlocks[s] {
			stride := int64(1)
			if i == 0 {
				stride = stageStrides[s]
			}
			name := fmt.Sprintf("layer%d.%d", s+1, i)
			b := newBottleneck(ns, last, c.InPlanes[s], c.OutPlanes[s], c.DenseDepth[s], stride, c.Groups, i == 0)
			t.blocks = append(t.blocks, nn.Register(t, name, b))
			last = c.OutPlanes[s] + (i+2)*c.DenseDepth[s]
		}
	}
	return t
}

// forward maps normalised images [N, 3, 32, 32] to features [N, FeatureDim].
func (t *trunk) forward(x *torch.Tensor, mode normMode) *torch.Tensor {
	h := relu(convNorm(t.stem, t.stemBN, x, mode))
	for _, b := range t.blocks {
		next := b.forward(h, mode)
		h.Free()
		h = next
	}
	defer h.Free()
	pooled := torch.AvgPool2d(h, [2]int64{poolSize, poolSize}, [2]int64{}, [2]int64{})
	defer pooled.Free()
	return pooled.Flatten(1, -1)
}
