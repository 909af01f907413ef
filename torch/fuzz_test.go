package torch_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
)

// FuzzFromBytes feeds outside bytes, dtype and shape (as from the wire) to
// FromBytes: it must fail cleanly or hold exactly those bytes.
func FuzzFromBytes(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 64}, 0, []byte{2, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 1}, 5, []byte{3, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{}, 3, []byte{0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{7}, 4, []byte{255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, buf []byte, dtype int, shapeBytes []byte) {
		if len(shapeBytes) > 8*8 {
			shapeBytes = shapeBytes[:8*8]
		}
		shape := make([]int64, len(shapeBytes)/8)
		for i := range shape {
			shape[i] = int64(binary.LittleEndian.Uint64(shapeBytes[8*i:]))
		}
		x := torch.FromBytes(buf, torch.DType(dtype), shape)
		if x.Err() != nil {
			return
		}
		defer x.Free()
		got, err := x.Bytes()
		if err != nil {
			t.Fatalf("bytes of a tensor made from bytes: %v", err)
		}
		if torch.DType(dtype) == torch.Bool {
			return // libtorch may normalise bool bytes other than 0 and 1
		}
		if !bytes.Equal(got, buf) {
			t.Fatalf("round trip changed the bytes")
		}
	})
}

// FuzzLoad feeds arbitrary files to Load: it must return an error or tensors, never crash.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good.pt")
	if err := torch.Save(good, map[string]*torch.Tensor{"w": torch.FromFloat32([]float32{1, 2, 3, 4}, 2, 2), "i": torch.FromInt64([]int64{5})}); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(data[:len(data)-22])
	f.Add([]byte("PK\x05\x06"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "f.pt")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ts, err := torch.Load(path)
		if err != nil {
			return
		}
		for _, x := range ts {
			if _, err := x.Bytes(); err != nil && x.DType() >= 0 {
				t.Fatalf("loaded tensor unreadable: %v", err)
			}
			x.Free()
		}
	})
}
