package torch

// #include "bt_torch.h"
import "C"

import "runtime"

// IndexSelect picks the entries of t at index (int64, 1-D) along dim.
func (t *Tensor) IndexSelect(dim int64, index *Tensor) *Tensor {
	if err := check(t, index); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_index_select(t.h, C.int64_t(dim), index.h, &h)
	runtime.KeepAlive(t)
	runtime.KeepAlive(index)
	return result("index_select", h, msg, t, index)
}

// Gather collects values along dim at index: out[i][j] = t[i][index[i][j]] for dim 1.
func (t *Tensor) Gather(dim int64, index *Tensor) *Tensor {
	if err := check(t, index); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_gather(t.h, C.int64_t(dim), index.h, &h)
	runtime.KeepAlive(t)
	runtime.KeepAlive(index)
	return result("gather", h, msg, t, index)
}

// Scatter returns a copy of t with src written at index along dim.
func (t *Tensor) Scatter(dim int64, index, src *Tensor) *Tensor {
	if err := check(t, index, src); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_scatter(t.h, C.int64_t(dim), index.h, src.h, &h)
	runtime.KeepAlive(t)
	runtime.KeepAlive(index)
	runtime.KeepAlive(src)
	return result("scatter", h, msg, t, index, src)
}

// IndexAdd returns a copy of t with the rows of src added at index along dim.
func (t *Tensor) IndexAdd(dim int64, index, src *Tensor) *Tensor {
	if err := check(t, index, src); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_index_add(t.h, C.int64_t(dim), index.h, src.h, &h)
	runtime.KeepAlive(t)
	runtime.KeepAlive(index)
	runtime.KeepAlive(src)
	return result("index_add", h, msg, t, index, src)
}

// MaskedFill returns a copy of t with value wherever mask (bool, broadcast) is true.
func (t *Tensor) MaskedFill(mask *Tensor, value float64) *Tensor {
	if err := check(t, mask); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_masked_fill(t.h, mask.h, C.double(value), &h)
	runtime.KeepAlive(t)
	runtime.KeepAlive(mask)
	return result("masked_fill", h, msg, t, mask)
}

// Where returns a where cond is true and b elsewhere, broadcasting.
func Where(cond, a, b *Tensor) *Tensor {
	if err := check(cond, a, b); err != nil {
		return errTensor(err)
	}
	var h C.bt_tensor
	msg := C.bt_where(cond.h, a.h, b.h, &h)
	runtime.KeepAlive(cond)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return result("where", h, msg, a, b, cond)
}

func pair(name string, v, i C.bt_tensor, msg *C.char, t *Tensor) (values, indices *Tensor) {
	if err := takeError(name, msg); err != nil {
		return errTensor(err), errTensor(err)
	}
	s := scopeOf(t)
	return newTensor(v, s), newTensor(i, s)
}

// TopK returns the k largest (or smallest) values along dim and their indices, sorted.
func (t *Tensor) TopK(k, dim int64, largest bool) (values, indices *Tensor) {
	if err := t.Err(); err != nil {
		return errTensor(err), errTensor(err)
	}
	var v, i C.bt_tensor
	msg := C.bt_topk(t.h, C.int64_t(k), C.int64_t(dim), cbool(largest), 1, &v, &i)
	runtime.KeepAlive(t)
	return pair("topk", v, i, msg, t)
}

// Sort sorts along dim and returns the values and their original indices.
func (t *Tensor) Sort(dim int64, descending bool) (values, indices *Tensor) {
	if err := t.Err(); err != nil {
		return errTensor(err), errTensor(err)
	}
	var v, i C.bt_tensor
	msg := C.bt_sort(t.h, C.int64_t(dim), cbool(descending), &v, &i)
	runtime.KeepAlive(t)
	return pair("sort", v, i, msg, t)
}
