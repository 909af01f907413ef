package torch_test

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
	"github.com/opentensor/bittensor-go/torch/internal/testutil"
)

func TestFromSlices(t *testing.T) {
	check := func(name string, x *torch.Tensor, dtype torch.DType, shape []int64) {
		t.Helper()
		if err := x.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if x.DType() != dtype || !slices.Equal(x.Shape(), shape) || x.Device() != torch.CPU {
			t.Errorf("%s: %v, want %v %v on cpu", name, x, dtype, shape)
		}
	}

	f32 := torch.FromFloat32([]float32{1.5, -2, 3, 4, 5, 6}, 2, 3)
	check("float32", f32, torch.Float32, []int64{2, 3})
	if v, err := f32.Float32s(); err != nil || !slices.Equal(v, []float32{1.5, -2, 3, 4, 5, 6}) {
		t.Errorf("float32 values %v, %v", v, err)
	}
	f64 := torch.FromFloat64([]float64{math.Pi, -1e300, 0.1})
	check("float64", f64, torch.Float64, []int64{3})
	if v, err := f64.Float64s(); err != nil || !slices.Equal(v, []float64{math.Pi, -1e300, 0.1}) {
		t.Errorf("float64 values %v, %v", v, err)
	}
	i32 := torch.FromInt32([]int32{math.MaxInt32, math.MinInt32, 0, 7}, 2, 2)
	check("int32", i32, torch.Int32, []int64{2, 2})
	if v, err := i32.Int32s(); err != nil || !slices.Equal(v, []int32{math.MaxInt32, math.MinInt32, 0, 7}) {
		t.Errorf("int32 values %v, %v", v, err)
	}
	i64s := torch.FromInt64([]int64{math.MaxInt64, math.MinInt64, 42}, 3, 1)
	check("int64", i64s, torch.Int64, []int64{3, 1})
	if v, err := i64s.Int64s(); err != nil || !slices.Equal(v, []int64{math.MaxInt64, math.MinInt64, 42}) {
		t.Errorf("int64 values %v, %v", v, err)
	}
	u8 := torch.FromUint8([]uint8{0, 255, 128, 1}, 1, 4)
	check("uint8", u8, torch.Uint8, []int64{1, 4})
	if v, err := u8.Uint8s(); err != nil || !slices.Equal(v, []uint8{0, 255, 128, 1}) {
		t.Errorf("uint8 values %v, %v", v, err)
	}
	bs := torch.FromBool([]bool{true, false, true})
	check("bool", bs, torch.Bool, []int64{3})
	if v, err := bs.Bools(); err != nil || !slices.Equal(v, []bool{true, false, true}) {
		t.Errorf("bool values %v, %v", v, err)
	}
	sc := torch.Scalar(2.5)
	check("scalar", sc, torch.Float32, []int64{})
	if v, err := sc.Item(); err != nil || v != 2.5 || sc.Dim() != 0 || sc.Numel() != 1 {
		t.Errorf("scalar item %v, %v (dim %d, numel %d)", v, err, sc.Dim(), sc.Numel())
	}
	empty := torch.FromFloat32(nil, 0, 3)
	check("empty", empty, torch.Float32, []int64{0, 3})
	if v, err := empty.Float32s(); err != nil || len(v) != 0 {
		t.Errorf("empty values %v, %v", v, err)
	}

	// The data is copied: changing the slice later leaves the tensor alone.
	data := []float32{1, 2}
	x := torch.FromFloat32(data)
	data[0] = 99
	if v, _ := x.Float32s(); v[0] != 1 {
		t.Errorf("tensor follows its source slice: %v", v)
	}
}

func TestFromSliceErrors(t *testing.T) {
	for name, x := range map[string]*torch.Tensor{
		"too few values":  torch.FromFloat32([]float32{1, 2, 3}, 2, 2),
		"too many values": torch.FromInt64([]int64{1, 2, 3}, 2),
		"negative dim":    torch.FromFloat32(nil, -1, 0),
		"huge shape":      torch.FromFloat32(nil, 1<<40, 1<<40, 0),
		"bytes too short": torch.FromBytes(make([]byte, 7), torch.Float64, []int64{1}),
		"bytes dtype":     torch.FromBytes(nil, torch.DType(42), []int64{0}),
		"bytes overflow":  torch.FromBytes(make([]byte, 8), torch.Float64, []int64{1<<61 + 1}),
	} {
		if x.Err() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// The length check itself must not overflow: 2^61+1 float64s are not 8 bytes.
	err := torch.FromBytes(make([]byte, 8), torch.Float64, []int64{1<<61 + 1}).Err()
	if err == nil || !strings.Contains(err.Error(), "8 bytes for float64") {
		t.Errorf("overflowing shape: %v", err)
	}
	// Copying out as the wrong type is refused.
	if _, err := torch.FromInt32([]int32{1}).Float32s(); err == nil {
		t.Error("int32 tensor copied out as float32: no error")
	}
}

func TestBytesRoundTrip(t *testing.T) {
	vals := []float32{1, -0.5, 3.25, 1e-3, 7, -8}
	buf := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	x := torch.FromBytes(buf, torch.Float32, []int64{3, 2})
	got, err := x.Float32s()
	if err != nil || !slices.Equal(got, vals) {
		t.Fatalf("from bytes: %v, %v; want %v", got, err, vals)
	}
	// Bytes of a non-contiguous view are the C-order bytes of its values.
	tr, err := x.T().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 3.25, 7, -0.5, 1e-3, -8}
	for i, w := range want {
		if g := math.Float32frombits(binary.LittleEndian.Uint32(tr[4*i:])); g != w {
			t.Fatalf("bytes of transpose: element %d = %v, want %v", i, g, w)
		}
	}
	for _, d := range []torch.DType{torch.Float64, torch.Int32, torch.Int64, torch.Uint8, torch.Bool} {
		y := x.ToDType(d)
		b, err := y.Bytes()
		if err != nil {
			t.Fatalf("%v: %v", d, err)
		}
		if len(b) != 6*d.Size() {
			t.Fatalf("%v: %d bytes, want %d", d, len(b), 6*d.Size())
		}
		z := torch.FromBytes(b, d, y.Shape())
		if eq, err := z.Eq(y).LogicalNot().ToDType(torch.Int64).Sum().Item(); err != nil || eq != 0 {
			t.Errorf("%v: bytes round trip differs (%v, %v)", d, eq, err)
		}
	}
}

func TestFillCreation(t *testing.T) {
	z := torch.Zeros([]int64{2, 3})
	o := torch.Ones([]int64{4}, torch.WithDType(torch.Int32))
	f := torch.Full([]int64{2, 2}, -1.25, torch.WithDType(torch.Float64))
	if z.DType() != torch.Float32 || !slices.Equal(z.Shape(), []int64{2, 3}) {
		t.Errorf("zeros: %v", z)
	}
	if v, _ := z.Float32s(); !slices.Equal(v, make([]float32, 6)) {
		t.Errorf("zeros values %v", v)
	}
	if v, err := o.Int32s(); err != nil || !slices.Equal(v, []int32{1, 1, 1, 1}) {
		t.Errorf("ones int32: %v, %v", v, err)
	}
	if v, err := f.Float64s(); err != nil || !slices.Equal(v, []float64{-1.25, -1.25, -1.25, -1.25}) {
		t.Errorf("full float64: %v, %v", v, err)
	}
	if v, err := p(7, 0, 2, 3).ZerosLike().Sum().Item(); err != nil || v != 0 {
		t.Errorf("zeros like: %v, %v", v, err)
	}
	if v, err := p(7, 0, 2, 3).OnesLike().Sum().Item(); err != nil || v != 6 {
		t.Errorf("ones like: %v, %v", v, err)
	}

	ar, err := torch.Arange(0, 5, 1).Int64s()
	if err != nil || !slices.Equal(ar, []int64{0, 1, 2, 3, 4}) {
		t.Errorf("arange int64: %v, %v", ar, err)
	}
	af, err := torch.Arange(0, 1, 0.25, torch.WithDType(torch.Float32)).Float32s()
	if err != nil || !slices.Equal(af, []float32{0, 0.25, 0.5, 0.75}) {
		t.Errorf("arange float32: %v, %v", af, err)
	}
	ad, err := torch.Arange(3, -3, -2, torch.WithDType(torch.Float64)).Float64s()
	if err != nil || !slices.Equal(ad, []float64{3, 1, -1}) {
		t.Errorf("arange descending: %v, %v", ad, err)
	}
	if err := torch.Arange(0, 5, 0).Err(); err == nil {
		t.Error("arange with step 0: no error")
	}
	if err := torch.Zeros([]int64{2}, torch.WithDType(torch.DType(9))).Err(); err == nil {
		t.Error("zeros of an unknown dtype: no error")
	}
}

func TestRandomCreation(t *testing.T) {
	g := testutil.LoadGolden(t, golden)

	// libtorch's generator is the one PyTorch uses: same seed, same numbers.
	torch.ManualSeed(42)
	g.Check(t, "rand_seed42", torch.Rand([]int64{2, 3}), 0, 0)
	g.Check(t, "randn_after_rand_seed42", torch.Randn([]int64{20}), 1e-6, 1e-6)
	torch.ManualSeed(7)
	g.Check(t, "randint_seed7", torch.Randint(0, 10, []int64{6}), 0, 0)
	g.Check(t, "rand_f64_after_randint_seed7", torch.Rand([]int64{4}, torch.WithDType(torch.Float64)), 0, 0)

	// Reseeding reproduces a sequence; the next draw differs.
	torch.ManualSeed(3)
	a := testutil.MustValues(t, torch.Randn([]int64{50}))
	b := testutil.MustValues(t, torch.Randn([]int64{50}))
	torch.ManualSeed(3)
	a2 := testutil.MustValues(t, torch.Randn([]int64{50}))
	if !slices.Equal(a, a2) {
		t.Error("randn after the same seed differs")
	}
	if slices.Equal(a, b) {
		t.Error("two randn draws are equal")
	}

	// Ranges: rand in [0, 1), randint in [low, high).
	u := testutil.MustValues(t, torch.Rand([]int64{1000}))
	for _, v := range u {
		if v < 0 || v >= 1 {
			t.Fatalf("rand value %v outside [0, 1)", v)
		}
	}
	ri := torch.Randint(-3, 4, []int64{1000}, torch.WithDType(torch.Int32))
	if ri.DType() != torch.Int32 {
		t.Errorf("randint dtype %v, want int32", ri.DType())
	}
	seen := map[float64]bool{}
	for _, v := range testutil.MustValues(t, ri) {
		if v < -3 || v >= 4 || v != math.Trunc(v) {
			t.Fatalf("randint value %v outside [-3, 4)", v)
		}
		seen[v] = true
	}
	if len(seen) != 7 {
		t.Errorf("1000 randint draws hit %d of 7 values", len(seen))
	}
	// Moments of 10,000 standard normals: standard errors 0.01 and 0.014.
	n := torch.Randn([]int64{10000}, torch.WithDType(torch.Float64))
	if m, _ := n.Mean().Item(); math.Abs(m) > 0.05 {
		t.Errorf("randn mean %v", m)
	}
	if s, _ := n.Std().Item(); math.Abs(s-1) > 0.05 {
		t.Errorf("randn std %v", s)
	}
	if err := torch.Randint(5, 5, []int64{3}).Err(); err == nil {
		t.Error("randint with an empty range: no error")
	}
}

func TestMetadataAndConversion(t *testing.T) {
	x := p(7, 0, 2, 3, 4)
	if x.Dim() != 3 || x.Numel() != 24 || x.Size(1) != 3 || x.Size(-1) != 4 || x.Size(3) != 0 {
		t.Errorf("dim %d numel %d size(1) %d size(-1) %d size(3) %d", x.Dim(), x.Numel(), x.Size(1), x.Size(-1), x.Size(3))
	}
	if s := x.String(); s != "Tensor(float32, shape=[2 3 4], cpu)" {
		t.Errorf("String() = %q", s)
	}
	if x.To(torch.CPU).Device() != torch.CPU {
		t.Error("To(CPU) left the CPU")
	}
	// ToDType converts values (truncating towards zero for ints).
	iv, err := p(7, 0, 6).MulScalar(2).ToDType(torch.Int64).Int64s()
	if err != nil || !slices.Equal(iv, []int64{-2, 0, 1, -1, 0, -1}) {
		t.Errorf("to int64: %v, %v", iv, err)
	}
	if _, err := x.Item(); err == nil {
		t.Error("item of a 24-element tensor: no error")
	}
	if v, err := x.Sum().Item(); err != nil || v != testutil.MustValues(t, x.Sum())[0] {
		t.Errorf("item of a sum: %v, %v", v, err)
	}
	// CopyFrom writes values in place, converting dtype.
	dst := torch.Zeros([]int64{3}, torch.WithDType(torch.Float64))
	if err := dst.CopyFrom(torch.FromInt32([]int32{1, 2, 3})); err != nil {
		t.Fatal(err)
	}
	if v, _ := dst.Float64s(); !slices.Equal(v, []float64{1, 2, 3}) {
		t.Errorf("copy from: %v", v)
	}
	if err := dst.CopyFrom(torch.Ones([]int64{4})); err == nil {
		t.Error("copy from a tensor of another size: no error")
	}
}

func TestDevices(t *testing.T) {
	for s, want := range map[string]torch.Device{"cpu": torch.CPU, "": torch.CPU, "cuda": torch.CUDA(0), "cuda:3": torch.CUDA(3)} {
		d, err := torch.ParseDevice(s)
		if err != nil || d != want {
			t.Errorf("ParseDevice(%q) = %v, %v; want %v", s, d, err, want)
		}
		if s != "" && s != "cuda" && d.String() != s {
			t.Errorf("%v.String() = %q, want %q", d, d.String(), s)
		}
	}
	for _, s := range []string{"gpu", "cuda:", "cuda:-1", "cuda:1x", "CPU"} {
		if _, err := torch.ParseDevice(s); err == nil {
			t.Errorf("ParseDevice(%q): no error", s)
		}
	}
	x := p(7, 0, 2, 3)
	if !torch.CUDAIsAvailable() {
		if torch.CUDADeviceCount() != 0 {
			t.Errorf("no CUDA, yet %d devices", torch.CUDADeviceCount())
		}
		// Without CUDA, moving there is an error, never a crash.
		if err := x.To(torch.CUDA(0)).Err(); err == nil {
			t.Error("To(cuda:0) without CUDA: no error")
		}
		if err := torch.Zeros([]int64{2}, torch.WithDevice(torch.CUDA(0))).Err(); err == nil {
			t.Error("zeros on cuda:0 without CUDA: no error")
		}
		return
	}
	dev := torch.CUDA(0)
	y := x.To(dev)
	if y.Device() != dev {
		t.Fatalf("To(cuda:0) gives a tensor on %v", y.Device())
	}
	// Values come back to Go from the GPU, and ops run there.
	want := testutil.MustValues(t, x.Matmul(x.T()).Relu())
	got := y.Matmul(y.T()).Relu()
	if got.Device() != dev {
		t.Errorf("op result on %v", got.Device())
	}
	if err := testutil.Close(testutil.MustValues(t, got), want, 1e-5, 1e-6); err != nil {
		t.Error(err)
	}
	if back := y.To(torch.CPU); back.Device() != torch.CPU {
		t.Errorf("back to cpu: %v", back.Device())
	}
	z := torch.Ones([]int64{3}, torch.WithDevice(dev))
	if z.Device() != dev {
		t.Errorf("ones on cuda: %v", z.Device())
	}
	if err := y.Add(x).Err(); err == nil {
		t.Error("adding a cpu and a cuda tensor: no error")
	}
}

func TestDTypeNames(t *testing.T) {
	for d, want := range map[torch.DType]struct {
		name  string
		size  int
		float bool
	}{
		torch.Float32: {"float32", 4, true}, torch.Float64: {"float64", 8, true},
		torch.Int32: {"int32", 4, false}, torch.Int64: {"int64", 8, false},
		torch.Uint8: {"uint8", 1, false}, torch.Bool: {"bool", 1, false},
		torch.DType(17): {"DType(17)", 0, false},
	} {
		if d.String() != want.name || d.Size() != want.size || d.IsFloat() != want.float {
			t.Errorf("%d: %q size %d float %v; want %+v", int(d), d.String(), d.Size(), d.IsFloat(), want)
		}
	}
}

func TestCloneAliasIsNaN(t *testing.T) {
	x := p(7, 0, 3).SetRequiresGrad(true)
	c := x.Clone()
	if !c.RequiresGrad() || c.IsLeaf() {
		t.Error("clone is not part of the graph")
	}
	if err := c.MulScalar(3).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if v := testutil.MustValues(t, x.Grad()); !slices.Equal(v, []float64{3, 3, 3}) {
		t.Errorf("grad through clone: %v", v)
	}
	// A clone owns its storage; an alias shares it.
	y := p(7, 0, 3)
	cl, al := y.Clone(), y.Alias()
	if err := y.CopyFrom(torch.Zeros([]int64{3})); err != nil {
		t.Fatal(err)
	}
	if v := testutil.MustValues(t, cl); slices.Equal(v, []float64{0, 0, 0}) {
		t.Error("clone follows its source")
	}
	if v := testutil.MustValues(t, al); !slices.Equal(v, []float64{0, 0, 0}) {
		t.Error("alias does not share its source's storage")
	}
	y.Free()
	if err := al.Err(); err != nil {
		t.Errorf("alias freed with its source: %v", err)
	}
	nan, err := torch.FromFloat32([]float32{-1, 1, 0}).Log().IsNaN().Bools()
	if err != nil || !slices.Equal(nan, []bool{true, false, false}) {
		t.Errorf("isnan of log [-1 1 0]: %v, %v", nan, err)
	}
}

func TestNumThreads(t *testing.T) {
	prev, err := torch.NumThreads()
	if err != nil || prev < 1 {
		t.Fatalf("NumThreads = %d, %v", prev, err)
	}
	defer torch.SetNumThreads(prev)
	if err := torch.SetNumThreads(1); err != nil {
		t.Fatal(err)
	}
	if n, err := torch.NumThreads(); n != 1 || err != nil {
		t.Errorf("NumThreads after SetNumThreads(1) = %d, %v", n, err)
	}
	for _, bad := range []int{0, -1} {
		if err := torch.SetNumThreads(bad); err == nil {
			t.Errorf("SetNumThreads(%d) succeeded", bad)
		}
	}
	if n, err := torch.NumThreads(); n != 1 || err != nil {
		t.Errorf("NumThreads after failed SetNumThreads = %d, %v", n, err)
	}
}

func TestMoveTo(t *testing.T) {
	w := p(7, 0, 2, 3).SetRequiresGrad(true)
	if err := w.MoveTo(torch.CPU); err != nil {
		t.Fatalf("MoveTo(cpu) of a cpu tensor: %v", err)
	}
	before := testutil.MustValues(t, w)
	if !torch.CUDAIsAvailable() {
		if err := w.MoveTo(torch.CUDA(0)); err == nil {
			t.Error("MoveTo(cuda:0) without CUDA: no error")
		}
		if err := w.Err(); err != nil || w.Device() != torch.CPU || !w.RequiresGrad() {
			t.Errorf("a failed MoveTo changed the tensor: %v, %v", err, w)
		}
		if err := testutil.Close(testutil.MustValues(t, w), before, 0, 0); err != nil {
			t.Error(err)
		}
		return
	}
	if err := w.MoveTo(torch.CUDA(0)); err != nil {
		t.Fatal(err)
	}
	if w.Device() != torch.CUDA(0) || !w.RequiresGrad() || !w.IsLeaf() {
		t.Errorf("after MoveTo(cuda:0): %v, requires grad %v, leaf %v", w, w.RequiresGrad(), w.IsLeaf())
	}
	if err := w.Square().Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if g := w.Grad(); g == nil || g.Device() != torch.CUDA(0) {
		t.Errorf("gradient of a moved parameter: %v", g)
	}
	if err := testutil.Close(testutil.MustValues(t, w), before, 0, 0); err != nil {
		t.Error(err)
	}
}
