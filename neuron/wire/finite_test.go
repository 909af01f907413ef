package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

func float32Wire(vs ...float32) *bittensorpb.Tensor {
	buf := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return &bittensorpb.Tensor{Buffer: buf, Shape: []int64{int64(len(vs))}, Dtype: bittensorpb.DataType_FLOAT32}
}

func float64Wire(vs ...float64) *bittensorpb.Tensor {
	buf := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
	}
	return &bittensorpb.Tensor{Buffer: buf, Shape: []int64{int64(len(vs))}, Dtype: bittensorpb.DataType_FLOAT64}
}

func TestCheckValues(t *testing.T) {
	nan32, inf := float32(math.NaN()), math.Inf(1)
	for _, tc := range []struct {
		name   string
		w      *bittensorpb.Tensor
		maxAbs float64
		bad    bool
	}{
		{"finite float32", float32Wire(0, -1, 3.5, math.MaxFloat32), inf, false},
		{"NaN float32", float32Wire(1, nan32), inf, true},
		{"+Inf float32", float32Wire(float32(inf)), inf, true},
		{"-Inf float32", float32Wire(float32(-inf)), inf, true},
		{"within bound", float32Wire(-1e6, 1e6), 1e6, false},
		{"beyond bound", float32Wire(0, -1.5e6), 1e6, true},
		{"empty", float32Wire(), 1, false},
		{"finite float64", float64Wire(1e300, -1e-300), inf, false},
		{"NaN float64", float64Wire(math.NaN()), inf, true},
		{"-Inf float64", float64Wire(0, math.Inf(-1)), inf, true},
		{"float64 beyond bound", float64Wire(2), 1, true},
		{"ints pass", &bittensorpb.Tensor{Buffer: []byte{0xff, 0xff, 0xff, 0x7f}, Shape: []int64{1}, Dtype: bittensorpb.DataType_INT32}, 1, false},
	} {
		err := checkValues(tc.w, tc.maxAbs)
		if got := err != nil; got != tc.bad {
			t.Errorf("%s: checkValues = %v, want bad=%v", tc.name, err, tc.bad)
		}
		if err != nil && !errors.Is(err, ErrBadNumbers) {
			t.Errorf("%s: %v does not wrap ErrBadNumbers", tc.name, err)
		}
	}
}

// FuzzCheckValues compares checkValues on arbitrary float32 buffers with a
// plain reading of the values.
func FuzzCheckValues(f *testing.F) {
	f.Add([]byte{0, 0, 0xc0, 0x7f}, 10.0)
	f.Add([]byte{0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xff}, 1e30)
	f.Fuzz(func(t *testing.T, buf []byte, maxAbs float64) {
		buf = buf[:len(buf)/4*4]
		w := &bittensorpb.Tensor{Buffer: buf, Shape: []int64{int64(len(buf) / 4)}, Dtype: bittensorpb.DataType_FLOAT32}
		want := false
		for i := 0; i < len(buf); i += 4 {
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(buf[i:])))
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxAbs || math.IsNaN(maxAbs) {
				want = true
			}
		}
		if got := checkValues(w, maxAbs) != nil; got != want && len(buf) > 0 {
			t.Fatalf("checkValues(%x, %v) bad=%v, want %v", buf, maxAbs, got, want)
		}
	})
}

// BenchmarkCheckValues checks 16 MiB of finite float32 values, the
// largest payload bench/wire sends.
func BenchmarkCheckValues(b *testing.B) {
	buf := make([]byte, 16<<20)
	for i := 0; i+4 <= len(buf); i += 4 {
		binary.LittleEndian.PutUint32(buf[i:], math.Float32bits(float32(i%1000)-500))
	}
	w := &bittensorpb.Tensor{Buffer: buf, Shape: []int64{int64(len(buf) / 4)}, Dtype: bittensorpb.DataType_FLOAT32}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := checkValues(w, 1e6); err != nil {
			b.Fatal(err)
		}
	}
}
