package synapse

import (
	"errors"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

// Backward answers a Backward for syn from caller: inside syn's Guard, it
// recomputes the forward on inputs with autograd on and back-propagates grad,
// the caller's output gradient, returning the gradient of the inputs x (a
// leaf that requires grad) when wantGrad, and handing a NetworkLearner the
// gradients of its parameters. With neither to compute it does nothing. Its
// errors are gRPC statuses.
func Backward(syn Synapse, caller string, inputs any, modality bittensorpb.Modality, x, grad *torch.Tensor, wantGrad bool) (*torch.Tensor, error) {
	learner, _ := syn.(NetworkLearner)
	var params []*torch.Tensor
	if learner != nil {
		params = learner.LearnParameters()
	}
	if !wantGrad && len(params) == 0 {
		return nil, nil // no input gradient asked for, no learning allowed
	}
	var inGrad *torch.Tensor
	err := Guard(syn, func() error {
		out, g, err := recompute(syn, inputs, modality, grad)
		if err != nil {
			return err
		}
		inGrad, err = LearnFrom(learner, params, caller, out, x, g, wantGrad)
		return err
	})
	return inGrad, err
}

// LearnFrom back-propagates g from out, a forward of the synapse with its
// graph: it hands learner (when params is not empty) the gradients of params
// from caller, and returns the gradient of the inputs x when wantGrad. It
// runs inside the synapse's Guard; its errors are gRPC statuses.
func LearnFrom(learner NetworkLearner, params []*torch.Tensor, caller string, out, x, g *torch.Tensor, wantGrad bool) (*torch.Tensor, error) {
	wrt := params
	if wantGrad {
		wrt = append(slices.Clip(params), x)
	}
	grads, err := torch.Grad([]*torch.Tensor{out}, wrt, []*torch.Tensor{g}, false)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "axon: backward: %v", err)
	}
	var inGrad *torch.Tensor
	if wantGrad {
		inGrad = grads[len(params)]
		if inGrad == nil { // the output does not depend on the inputs
			inGrad = x.ZerosLike()
		}
	}
	if len(params) == 0 {
		return inGrad, nil
	}
	defer freeAll(grads[:len(params)])
	if err := learner.Learn(caller, grads[:len(params)]); err != nil {
		if errors.Is(err, ErrGradientNotFinite) {
			return nil, status.Errorf(codes.InvalidArgument, "axon: %v", err)
		}
		return nil, status.Errorf(codes.Internal, "axon: learn: %v", err)
	}
	return inGrad, nil
}

// TrainStep answers a Backward for a Trainable synapse: it back-propagates
// grad into the synapse's parameters and steps inside the synapse's
// TrainStep, returning the gradient of the inputs x when wantGrad.
func TrainStep(syn Trainable, inputs any, modality bittensorpb.Modality, x, grad *torch.Tensor, wantGrad bool) (*torch.Tensor, error) {
	var inGrad *torch.Tensor
	err := syn.TrainStep(func() error {
		out, g, err := recompute(syn, inputs, modality, grad)
		if err != nil {
			return err
		}
		if err := out.BackwardWith(g, false); err != nil {
			return status.Errorf(codes.Internal, "axon: backward: %v", err)
		}
		if wantGrad {
			inGrad = x.Grad()
		}
		return nil
	})
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return nil, err
		}
		return nil, status.Errorf(codes.Internal, "axon: train step: %v", err)
	}
	if wantGrad && inGrad == nil { // the output does not depend on the inputs
		inGrad = x.ZerosLike()
	}
	return inGrad, nil
}

// recompute runs syn's forward on inputs with autograd on and checks grad,
// the caller's output gradient, against the output: it returns the output
// and the gradient in the output's dtype.
func recompute(syn Synapse, inputs any, modality bittensorpb.Modality, grad *torch.Tensor) (out, g *torch.Tensor, err error) {
	torch.EnableGrad(func() { out, err = CallForward(syn, inputs, modality) })
	if err != nil {
		return nil, nil, Status(err)
	}
	if !slices.Equal(out.Shape(), grad.Shape()) {
		return nil, nil, status.Errorf(codes.InvalidArgument, "axon: output gradient has shape %v, the output %v", grad.Shape(), out.Shape())
	}
	g = grad
	if g.DType() != out.DType() {
		g = g.ToDType(out.DType())
	}
	return out, g, nil
}

// freeAll frees every tensor of ts that is not nil.
func freeAll(ts []*torch.Tensor) {
	for _, t := range ts {
		if t != nil {
			t.Free()
		}
	}
}

// Guard runs fn inside syn's Guard when it has one.
func Guard(syn Synapse, fn func() error) error {
	if g, ok := syn.(Guarded); ok {
		return g.Guard(fn)
	}
	return fn()
}

// Status turns a synapse's forward error into a gRPC status.
func Status(err error) error {
	if errors.Is(err, ErrModalityNotSupported) {
		return status.Errorf(codes.Unimplemented, "axon: %v", err)
	}
	return status.Errorf(codes.Internal, "axon: synapse forward: %v", err)
}
