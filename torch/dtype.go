package torch

import "fmt"

// DType is the element type of a tensor.
type DType int

// The element types the Go package supports.
const (
	Float32 DType = iota
	Float64
	Int32
	Int64
	Uint8
	Bool
)

var dtypeNames = [...]string{"float32", "float64", "int32", "int64", "uint8", "bool"}
var dtypeSizes = [...]int{4, 8, 4, 8, 1, 1}

// String returns the dtype's name as PyTorch spells it.
func (d DType) String() string {
	if d.valid() {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Size returns the size of one element in bytes.
func (d DType) Size() int {
	if d.valid() {
		return dtypeSizes[d]
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == Float32 || d == Float64 }

func (d DType) valid() bool { return d >= Float32 && d <= Bool }
