package synapse_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/synapse"

	"github.com/opentensor/bittensor-go/neuron/internal/fixture"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func TestCallForwardDispatches(t *testing.T) {
	syn := fixture.NewLinearSynapse(t, 1)
	x := torch.Zeros([]int64{2, fixture.In})
	for _, tc := range []struct {
		inputs any
		m      bittensorpb.Modality
	}{
		{x, bittensorpb.Modality_TENSOR},
		{torch.Zeros([]int64{2, 2, 3}), bittensorpb.Modality_IMAGE},
		{[]string{"a", "b"}, bittensorpb.Modality_TEXT},
	} {
		out, err := synapse.CallForward(syn, tc.inputs, tc.m)
		if err != nil {
			t.Fatalf("%v: %v", tc.m, err)
		}
		if s := out.Shape(); len(s) != 2 || s[0] != 2 || s[1] != fixture.Out {
			t.Fatalf("%v: output shape %v", tc.m, s)
		}
	}
	for _, tc := range []struct {
		inputs any
		m      bittensorpb.Modality
		want   string
	}{
		{x, bittensorpb.Modality_TEXT, "TEXT inputs are *torch.Tensor, want []string"},
		{[]string{"a"}, bittensorpb.Modality_TENSOR, "TENSOR inputs are []string, want a *torch.Tensor"},
		{(*torch.Tensor)(nil), bittensorpb.Modality_IMAGE, "IMAGE inputs are *torch.Tensor, want a *torch.Tensor"},
		{x, bittensorpb.Modality(9), "modality 9: modality not supported"},
		{torch.Zeros([]int64{2, 3}), bittensorpb.Modality_TENSOR, "mat1 and mat2 shapes cannot be multiplied"},
	} {
		if _, err := synapse.CallForward(syn, tc.inputs, tc.m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CallForward(%T, %v) error = %v, want %q", tc.inputs, tc.m, err, tc.want)
		}
	}
	for _, tc := range []struct {
		out  *torch.Tensor
		want string
	}{
		{nil, "synapse: TENSOR forward returned no output"},
		{torch.Errorf("broken"), "synapse: TENSOR forward: broken"},
	} {
		if _, err := synapse.CallForward(fixedSynapse{out: tc.out}, x, bittensorpb.Modality_TENSOR); err == nil || err.Error() != tc.want {
			t.Errorf("CallForward of a synapse answering %v: error %v, want %q", tc.out, err, tc.want)
		}
	}
}

// fixedSynapse answers every tensor with out and no error.
type fixedSynapse struct {
	synapse.Base
	out *torch.Tensor
}

func (s fixedSynapse) ForwardTensor(*torch.Tensor) (*torch.Tensor, error) { return s.out, nil }

func TestSynapseBaseRefusesEveryModality(t *testing.T) {
	b := synapse.NewBase(fixture.Key(t, 1))
	if b.Key() != fixture.Key(t, 1).PublicHex() {
		t.Fatal("Key is not the key's hex public key")
	}
	for _, m := range []bittensorpb.Modality{bittensorpb.Modality_TEXT, bittensorpb.Modality_IMAGE, bittensorpb.Modality_TENSOR} {
		var in any = torch.Zeros([]int64{1})
		if m == bittensorpb.Modality_TEXT {
			in = []string{"a"}
		}
		if _, err := synapse.CallForward(b, in, m); !errors.Is(err, synapse.ErrModalityNotSupported) {
			t.Errorf("%v: error %v, want ErrModalityNotSupported", m, err)
		}
	}
}

// countingStepper records the calls StepWith makes.
type countingStepper struct{ calls []string }

func (s *countingStepper) ZeroGrad() error { s.calls = append(s.calls, "zero"); return nil }
func (s *countingStepper) Step() error     { s.calls = append(s.calls, "step"); return nil }

func TestStepWith(t *testing.T) {
	var mu sync.Mutex
	opt := new(countingStepper)
	if err := synapse.StepWith(&mu, opt, func() error {
		if mu.TryLock() {
			t.Error("pass runs without the lock held")
		}
		opt.calls = append(opt.calls, "pass")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(opt.calls, ","); got != "zero,pass,step,zero" {
		t.Fatalf("calls %s, want zero,pass,step,zero", got)
	}
	opt.calls = nil
	boom := errors.New("boom")
	if err := synapse.StepWith(&mu, opt, func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("StepWith of a failing pass = %v, want its error", err)
	}
	if got := strings.Join(opt.calls, ","); got != "zero,zero" {
		t.Fatalf("calls after a failing pass %s, want zero,zero (no step)", got)
	}
	if !mu.TryLock() {
		t.Fatal("StepWith kept the lock")
	}
}
