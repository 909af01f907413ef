package router

import (
	"slices"
	"testing"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
	"github.com/opentensor/bittensor-go/torch"
)

func TestAskFits(t *testing.T) {
	mnist := Ask{Modality: bittensorpb.Modality_IMAGE, DType: bittensorpb.DataType_FLOAT32, Shape: []int64{1, 28, 28}, OutputDim: 1024}
	text := Ask{Modality: bittensorpb.Modality_TEXT, DType: bittensorpb.DataType_UTF8, OutputDim: 256}
	def := func(m bittensorpb.Modality, dt bittensorpb.DataType, in []int64, out ...int64) *bittensorpb.Synapse {
		return &bittensorpb.Synapse{Modality: m, InputDtype: dt, InputShape: in, OutputShape: out}
	}
	const (
		image, tensor, textM = bittensorpb.Modality_IMAGE, bittensorpb.Modality_TENSOR, bittensorpb.Modality_TEXT
		f32, f64, unknown    = bittensorpb.DataType_FLOAT32, bittensorpb.DataType_FLOAT64, bittensorpb.DataType_UNKNOWN
	)
	cases := []struct {
		name string
		ask  Ask
		def  *bittensorpb.Synapse
		want bool
	}{
		{"mnist's own", mnist, def(image, f32, []int64{1, 28, 28}, 1024), true},
		{"inputs undeclared", mnist, def(image, unknown, nil, 1024), true},
		{"any height and width", mnist, def(image, f32, []int64{1, -1, -1}, 1024), true},
		{"a 2020 definition", mnist, &bittensorpb.Synapse{}, false},
		{"text synapse", mnist, def(textM, unknown, nil, 1024), false},
		{"tensor synapse", mnist, def(tensor, f32, []int64{1, 28, 28}, 1024), false},
		{"narrower answer", mnist, def(image, f32, []int64{1, 28, 28}, 512), false},
		{"answer of two dims", mnist, def(image, f32, []int64{1, 28, 28}, 1024, 1), false},
		{"cifar images", mnist, def(image, f32, []int64{3, 32, 32}, 1024), false},
		{"flat images", mnist, def(image, f32, []int64{784}, 1024), false},
		{"float64 images", mnist, def(image, f64, []int64{1, 28, 28}, 1024), false},
		{"bert's own", text, def(textM, unknown, nil, 256), true},
		{"text of another width", text, def(textM, unknown, nil, 1024), false},
		{"image for text", text, def(image, unknown, nil, 256), false},
		{"text declaring a shape", text, def(textM, unknown, []int64{5}, 256), false},
	}
	for _, c := range cases {
		if got := c.ask.Fits(c.def); got != c.want {
			t.Errorf("%s: %v fits %v = %v, want %v", c.name, c.ask, c.def, got, c.want)
		}
	}
}

func TestAskFor(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	ask, err := AskFor(bittensorpb.Modality_IMAGE, s.Track(torch.Zeros([]int64{64, 1, 28, 28})), 1024)
	if err != nil {
		t.Fatal(err)
	}
	want := Ask{Modality: bittensorpb.Modality_IMAGE, DType: bittensorpb.DataType_FLOAT32, Shape: []int64{1, 28, 28}, OutputDim: 1024}
	if ask.Modality != want.Modality || ask.DType != want.DType || !slices.Equal(ask.Shape, want.Shape) || ask.OutputDim != want.OutputDim {
		t.Fatalf("AskFor = %v, want %v", ask, want)
	}
	if _, err := AskFor(bittensorpb.Modality_TENSOR, s.Track(torch.Scalar(1)), 3); err == nil {
		t.Error("AskFor a scalar: no error")
	}
	if _, err := AskFor(bittensorpb.Modality_TENSOR, s.Track(torch.Zeros([]int64{2, 2}).ToDType(torch.Bool)), 3); err == nil {
		t.Error("AskFor bool inputs: no error")
	}
}
