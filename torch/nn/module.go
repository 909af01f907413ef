package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opentensor/bittensor-go/torch"
)

// Module is anything that embeds Base: a tree of named parameters, buffers and
// sub-modules with a training flag.
type Module interface {
	base() *Base
}

// Layer is a Module with a single-input forward pass.
type Layer interface {
	Module
	Forward(x *torch.Tensor) *torch.Tensor
}

type namedTensor struct {
	name string
	t    *torch.Tensor
}

type namedModule struct {
	name string
	m    Module
}

// Base holds a module's registered state. Embed it in a model struct and
// register state in the constructor:
//
//	type MLP struct {
//		nn.Base
//		fc1, fc2 *nn.Linear
//	}
//
//	func NewMLP() *MLP {
//		m := &MLP{}
//		m.fc1 = nn.Register(m, "fc1", nn.NewLinear(784, 128, true))
//		m.fc2 = nn.Register(m, "fc2", nn.NewLinear(128, 10, true))
//		return m
//	}
type Base struct {
	params   []namedTensor
	buffers  []namedTensor
	children []namedModule
	eval     bool
}

func (b *Base) base() *Base { return b }

// RegisterParameter adds a trainable tensor under name and marks it as
// requiring grad. It returns t, or a tensor carrying the error when t cannot
// require grad (it is not of a float type, say).
func (b *Base) RegisterParameter(name string, t *torch.Tensor) *torch.Tensor {
	t = t.SetRequiresGrad(true)
	b.params = append(b.params, namedTensor{name, t})
	return t
}

// RegisterBuffer adds non-trainable state (running statistics, say) under name.
func (b *Base) RegisterBuffer(name string, t *torch.Tensor) *torch.Tensor {
	b.buffers = append(b.buffers, namedTensor{name, t})
	return t
}

// RegisterModule adds a sub-module under name.
func (b *Base) RegisterModule(name string, m Module) {
	b.children = append(b.children, namedModule{name, m})
}

// IsTraining reports whether the module is in training mode (the default).
func (b *Base) IsTraining() bool { return !b.eval }

// Register adds child to parent under name and returns child, typed.
func Register[M Module](parent Module, name string, child M) M {
	parent.base().RegisterModule(name, child)
	return child
}

// Train puts m and all its sub-modules in training mode.
func Train(m Module) { setMode(m, false) }

// Eval puts m and all its sub-modules in evaluation mode (dropout off,
// batch norm uses running statistics).
func Eval(m Module) { setMode(m, true) }

func setMode(m Module, eval bool) {
	b := m.base()
	b.eval = eval
	for _, c := range b.children {
		setMode(c.m, eval)
	}
}

func walk(m Module, prefix string, params bool, visit func(name string, t *torch.Tensor)) {
	b := m.base()
	list := b.buffers
	if params {
		list = b.params
	}
	for _, p := range list {
		visit(prefix+p.name, p.t)
	}
	for _, c := range b.children {
		walk(c.m, prefix+c.name+".", params, visit)
	}
}

// Parameters returns m's trainable tensors, depth first in registration order.
func Parameters(m Module) []*torch.Tensor {
	var out []*torch.Tensor
	walk(m, "", true, func(_ string, t *torch.Tensor) { out = append(out, t) })
	return out
}

// NamedParameters returns m's trainable tensors by dotted name ("fc1.weight").
func NamedParameters(m Module) map[string]*torch.Tensor {
	out := map[string]*torch.Tensor{}
	walk(m, "", true, func(n string, t *torch.Tensor) { out[n] = t })
	return out
}

// StateDict returns m's parameters and buffers by dotted name.
func StateDict(m Module) map[string]*torch.Tensor {
	out := NamedParameters(m)
	walk(m, "", false, func(n string, t *torch.Tensor) { out[n] = t })
	return out
}

// LoadStateDict copies the values of state into m's parameters and buffers.
// Every entry of m must be present with the same shape; extra entries are an
// error. The whole of state is checked (CheckStateDict) before anything is
// copied, so that a mismatch leaves m unchanged.
func LoadStateDict(m Module, state map[string]*torch.Tensor) error {
	if err := CheckStateDict(m, state); err != nil {
		return err
	}
	for n, t := range StateDict(m) {
		if err := t.CopyFrom(state[n]); err != nil {
			return fmt.Errorf("nn: load state: %s: %w", n, err)
		}
	}
	return nil
}

// CheckStateDict reports whether LoadStateDict(m, state) would accept state:
// the same names as m's parameters and buffers, each without an error and of
// the same shape. It changes nothing.
func CheckStateDict(m Module, state map[string]*torch.Tensor) error {
	own := StateDict(m)
	var missing, extra []string
	for n := range own {
		if _, ok := state[n]; !ok {
			missing = append(missing, n)
		}
	}
	for n := range state {
		if _, ok := own[n]; !ok {
			extra = append(extra, n)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		slices.Sort(missing)
		slices.Sort(extra)
		return fmt.Errorf("nn: load state: missing %v, unexpected %v", missing, extra)
	}
	for n, t := range own {
		src := state[n]
		if err := src.Err(); err != nil {
			return fmt.Errorf("nn: load state: %s: %w", n, err)
		}
		if got, want := src.Shape(), t.Shape(); !slices.Equal(got, want) {
			return fmt.Errorf("nn: load state: %s has shape %v, the module wants %v", n, got, want)
		}
	}
	return nil
}

// Save writes m's state to path atomically and durably (see torch.Save): a
// crash during Save leaves the previous file whole.
func Save(path string, m Module) error { return torch.Save(path, StateDict(m)) }

// Load restores m's state from a file written by Save. The file is read and
// checked whole before m changes: on failure m is as it was.
func Load(path string, m Module) error {
	state, err := torch.Load(path)
	if err != nil {
		return err
	}
	defer freeAll(state)
	return LoadStateDict(m, state)
}

func freeAll(state map[string]*torch.Tensor) {
	for _, t := range state {
		t.Free()
	}
}

// ZeroGrad drops the gradients of m's parameters.
func ZeroGrad(m Module) error {
	for _, p := range Parameters(m) {
		if err := p.ZeroGrad(); err != nil {
			return fmt.Errorf("nn: zero grad: %w", err)
		}
	}
	return nil
}

// To moves m's parameters and buffers to device d in place.
func To(m Module, d torch.Device) error {
	for n, t := range StateDict(m) {
		if err := t.MoveTo(d); err != nil {
			return fmt.Errorf("nn: %s: %w", n, err)
		}
	}
	return nil
}

// Describe lists m's state, one "name shape" per line, sorted as registered.
func Describe(m Module) string {
	var sb strings.Builder
	visit := func(n string, t *torch.Tensor) { fmt.Fprintf(&sb, "%s %v\n", n, t.Shape()) }
	walk(m, "", true, visit)
	walk(m, "", false, visit)
	return sb.String()
}
