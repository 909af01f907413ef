package mnist

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeIDXRoundTrip(t *testing.T) {
	want := IDX{Dims: []int{2, 3}, Data: []byte{1, 2, 3, 4, 5, 6}}
	got, err := DecodeIDX(want.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Dims) != 2 || got.Dims[0] != 2 || got.Dims[1] != 3 || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("round trip: got %+v, want %+v", got, want)
	}
}

func TestDecodeIDXRejects(t *testing.T) {
	valid := IDX{Dims: []int{2, 2}, Data: []byte{1, 2, 3, 4}}.Encode()
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	cases := []struct {
		name, want string
		buf        []byte
	}{
		{"empty", "shorter than the 4-byte header", nil},
		{"bad magic", "bad magic", mutate(func(b []byte) []byte { b[0] = 1; return b })},
		{"float type", "value type 0x0d", mutate(func(b []byte) []byte { b[2] = 0x0d; return b })},
		{"rank zero", "rank 0", mutate(func(b []byte) []byte { b[3] = 0; return b })},
		{"rank too high", "rank 9", mutate(func(b []byte) []byte { b[3] = 9; return b })},
		{"short header", "shorter than the 12-byte header", valid[:9]},
		{"zero dimension", "dimension 1 is 0", mutate(func(b []byte) []byte { b[11] = 0; return b })},
		{"huge dimension", "dimension 0 is 4294967295", mutate(func(b []byte) []byte { copy(b[4:], []byte{255, 255, 255, 255}); return b })},
		{"huge product", "more than", IDX{Dims: []int{1 << 14, 1 << 14}}.Encode()},
		{"truncated", "truncated: header promises 4 values, file holds 3", valid[:len(valid)-1]},
		{"trailing", "1 trailing bytes", append(bytes.Clone(valid), 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeIDX(c.buf)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("DecodeIDX: got %v, want ErrCorrupt with %q", err, c.want)
			}
		})
	}
}

func TestDecodeImagesAndLabels(t *testing.T) {
	img := IDX{Dims: []int{2, Rows, Cols}, Data: make([]byte, 2*Pixels)}
	if _, n, err := DecodeImages(img.Encode()); err != nil || n != 2 {
		t.Fatalf("DecodeImages: n=%d err=%v, want 2 images", n, err)
	}
	if _, _, err := DecodeImages(IDX{Dims: []int{1, 27, 29}, Data: make([]byte, 27*29)}.Encode()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("27×29 images: got %v, want ErrCorrupt", err)
	}
	if _, _, err := DecodeImages(IDX{Dims: []int{4}, Data: make([]byte, 4)}.Encode()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("labels as images: got %v, want ErrCorrupt", err)
	}
	if l, err := DecodeLabels(IDX{Dims: []int{3}, Data: []byte{0, 9, 4}}.Encode()); err != nil || len(l) != 3 {
		t.Fatalf("DecodeLabels: %v %v", l, err)
	}
	if _, err := DecodeLabels(IDX{Dims: []int{2}, Data: []byte{3, 10}}.Encode()); err == nil || !strings.Contains(err.Error(), "label 1 is 10") {
		t.Fatalf("label 10: got %v", err)
	}
	if _, err := DecodeLabels(img.Encode()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("images as labels: got %v, want ErrCorrupt", err)
	}
}

func FuzzDecodeIDX(f *testing.F) {
	f.Add(IDX{Dims: []int{2, 3}, Data: []byte{1, 2, 3, 4, 5, 6}}.Encode())
	f.Add(IDX{Dims: []int{1, Rows, Cols}, Data: make([]byte, Pixels)}.Encode())
	f.Add(IDX{Dims: []int{3}, Data: []byte{0, 9, 4}}.Encode())
	f.Add([]byte{0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, buf []byte) {
		x, err := DecodeIDX(buf)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		n := 1
		for _, d := range x.Dims {
			n *= d
		}
		if n != len(x.Data) {
			t.Fatalf("dims %v promise %d values, data holds %d", x.Dims, n, len(x.Data))
		}
		if !bytes.Equal(x.Encode(), buf) {
			t.Fatalf("re-encoding differs from the input")
		}
		if _, _, err := DecodeImages(buf); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeImages error does not wrap ErrCorrupt: %v", err)
		}
		if _, err := DecodeLabels(buf); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeLabels error does not wrap ErrCorrupt: %v", err)
		}
	})
}
