package torch_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
)

func TestEmptyWrittenThroughUnsafeBytes(t *testing.T) {
	x := torch.Empty([]int64{2, 3}, torch.WithDType(torch.Float64))
	b, err := x.UnsafeBytes()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 6*8 {
		t.Fatalf("UnsafeBytes of a float64 [2,3] tensor holds %d bytes, want 48", len(b))
	}
	want := []float64{1, -2.5, math.Pi, 0, 1e300, -7}
	for i, v := range want {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	runtime.KeepAlive(x)
	got, err := x.Float64s()
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("values written through UnsafeBytes read back as %v, %v; want %v", got, err, want)
	}
}

func TestUnsafeBytesAliasesTheValues(t *testing.T) {
	x := torch.Rand([]int64{4, 5})
	copied, err := x.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	aliased, err := x.UnsafeBytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(aliased, copied) {
		t.Fatal("UnsafeBytes differs from Bytes")
	}
	if err := x.AddInPlace(x.Detach(), 1); err != nil { // x += x
		t.Fatal(err)
	}
	doubled, err := x.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(aliased, doubled) {
		t.Error("the slice from UnsafeBytes does not see an in-place change of the tensor")
	}
	runtime.KeepAlive(x)
}

func TestUnsafeBytesRefusesWhatItCannotAlias(t *testing.T) {
	if b, err := torch.Zeros([]int64{0, 3}).UnsafeBytes(); err != nil || b != nil {
		t.Errorf("an empty tensor gives %v, %v; want nil, nil", b, err)
	}
	if _, err := torch.Rand([]int64{3, 4}).T().UnsafeBytes(); err == nil {
		t.Error("a transposed (non-contiguous) tensor gives no error")
	}
	freed := torch.Rand([]int64{2})
	freed.Free()
	if _, err := freed.UnsafeBytes(); err == nil {
		t.Error("a freed tensor gives no error")
	}
	if _, err := torch.Errorf("broken").UnsafeBytes(); err == nil {
		t.Error("a tensor carrying an error gives no error")
	}
}
