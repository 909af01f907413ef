//go:build !bt_shared

// bt_torch.cpp: the implementation of bt_torch.h over libtorch's C++ API.
//
// The contract of every extern "C" entry point:
// - one that can fail returns its error message from the same call: its body
//   runs inside BT_TRY, which turns any exception into the returned message;
// - the others (the frees, the metadata queries, grad mode) are noexcept: a
//   C++ exception can never cross into the caller (it would terminate it);
// - a NULL handle, NULL out-parameter or negative count is an error message
//   (or a neutral answer from a query), never a crash. Handles must otherwise
//   be live: a freed handle cannot be told from a live one.

#include "bt_torch.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <memory>
#include <type_traits>
#include <unordered_set>
#include <sstream>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

char *dup_error(const char *msg) {
  size_t n = std::strlen(msg);
  char *out = static_cast<char *>(std::malloc(n + 1));
  if (out != nullptr) std::memcpy(out, msg, n + 1);
  return out;
}

// BT_TRY runs body and turns any exception into a returned message.
#define BT_TRY(...)                                    \
  try {                                                \
    __VA_ARGS__;                                        \
    return nullptr;                                    \
  } catch (const c10::Error &e) {                      \
    return dup_error(e.what_without_backtrace());      \
  } catch (const std::exception &e) {                  \
    return dup_error(e.what());                        \
  } catch (...) {                                      \
    return dup_error("unknown C++ exception");         \
  }

// need rejects a NULL pointer argument.
template <typename P>
P *need(P *p, const char *what) {
  if (p == nullptr) throw std::invalid_argument(std::string(what) + " is NULL");
  return p;
}

// count rejects a negative element count.
int count(int n, const char *what) {
  if (n < 0) throw std::invalid_argument(std::string(what) + " is negative (" + std::to_string(n) + ")");
  return n;
}

// array rejects a NULL array that should hold n > 0 elements.
template <typename P>
P *array(P *p, int n, const char *what) {
  count(n, what);
  if (p == nullptr && n > 0) throw std::invalid_argument(std::string(what) + " array is NULL");
  return p;
}

torch::Tensor &T(bt_tensor t) { return *static_cast<torch::Tensor *>(need(t, "tensor handle")); }

bt_tensor wrap(torch::Tensor t) { return new torch::Tensor(std::move(t)); }

// put stores a new handle to t in *out.
void put(bt_tensor *out, torch::Tensor t) { *need(out, "out") = wrap(std::move(t)); }

// opt returns the tensor behind an optional handle, or an undefined tensor.
torch::Tensor opt(bt_tensor t) { return t == nullptr ? torch::Tensor() : T(t); }

torch::ScalarType scalar_type(int dtype) {
  switch (dtype) {
    case BT_FLOAT32: return torch::kFloat32;
    case BT_FLOAT64: return torch::kFloat64;
    case BT_INT32: return torch::kInt32;
    case BT_INT64: return torch::kInt64;
    case BT_UINT8: return torch::kUInt8;
    case BT_BOOL: return torch::kBool;
  }
  throw std::invalid_argument("unknown dtype " + std::to_string(dtype));
}

int bt_dtype_of(torch::ScalarType s) {
  switch (s) {
    case torch::kFloat32: return BT_FLOAT32;
    case torch::kFloat64: return BT_FLOAT64;
    case torch::kInt32: return BT_INT32;
    case torch::kInt64: return BT_INT64;
    case torch::kUInt8: return BT_UINT8;
    case torch::kBool: return BT_BOOL;
    default: break;
  }
  throw std::invalid_argument(std::string("dtype ") + c10::toString(s) +
                              " is not supported by the Go package");
}

torch::Device device(int type, int index) {
  switch (type) {
    case BT_CPU: return torch::Device(torch::kCPU);
    case BT_CUDA: return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::invalid_argument("unknown device type " + std::to_string(type));
}

torch::TensorOptions options(int dtype, int device_type, int device_index) {
  return torch::TensorOptions().dtype(scalar_type(dtype)).device(device(device_type, device_index));
}

torch::IntArrayRef ints(const int64_t *p, int n) {
  return torch::IntArrayRef(array(p, n, "size list"), static_cast<size_t>(n));
}

// defined returns the tensor behind a handle for the noexcept queries, or
// NULL for a NULL handle or an undefined tensor.
const torch::Tensor *defined(bt_tensor t) noexcept {
  auto *p = static_cast<const torch::Tensor *>(t);
  return p != nullptr && p->defined() ? p : nullptr;
}

}  // namespace

extern "C" {

void bt_free(bt_tensor t) noexcept { delete static_cast<torch::Tensor *>(t); }
void bt_free_error(char *err) noexcept { std::free(err); }

char *bt_manual_seed(int64_t seed) { BT_TRY(torch::manual_seed(static_cast<uint64_t>(seed))) }

// A CUDA runtime that cannot be queried counts as no CUDA.
int bt_cuda_is_available(void) noexcept {
  try {
    return torch::cuda::is_available() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}
int bt_cuda_device_count(void) noexcept {
  try {
    return static_cast<int>(torch::cuda::device_count());
  } catch (...) {
    return 0;
  }
}

char *bt_set_num_threads(int n) {
  BT_TRY({
    if (n < 1) throw std::invalid_argument("number of threads must be positive, got " + std::to_string(n));
    torch::set_num_threads(n);
  })
}
char *bt_set_malloc_thresholds(int64_t mmap_threshold, int64_t trim_threshold) {
  BT_TRY({
    if (mmap_threshold <= 0 || trim_threshold <= 0 || mmap_threshold > INT32_MAX || trim_threshold > INT32_MAX) {
      throw std::invalid_argument("malloc thresholds must be in (0, 2^31), got " + std::to_string(mmap_threshold) +
                                  " and " + std::to_string(trim_threshold));
    }
#if defined(__GLIBC__)
    if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_threshold)) != 1 ||
        mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim_threshold)) != 1) {
      throw std::runtime_error("mallopt refused the thresholds");
    }
#endif
  })
}
char *bt_set_malloc_arena_max(int n) {
  BT_TRY({
    if (n <= 0) throw std::invalid_argument("malloc arena max must be positive, got " + std::to_string(n));
#if defined(__GLIBC__)
    if (mallopt(M_ARENA_MAX, n) != 1) throw std::runtime_error("mallopt refused the arena max");
#endif
  })
}
char *bt_get_num_threads(int *out) { BT_TRY(*need(out, "out") = torch::get_num_threads()) }
// Grad mode is a thread-local flag: reading and setting it cannot throw.
int bt_grad_enabled(void) noexcept { return torch::GradMode::is_enabled() ? 1 : 0; }
void bt_set_grad_enabled(int enabled) noexcept { torch::GradMode::set_enabled(enabled != 0); }

char *bt_from_data(const void *data, const int64_t *shape, int ndim, int dtype, bt_tensor *out) {
  BT_TRY({
    need(out, "out");
    auto opts = torch::TensorOptions().dtype(scalar_type(dtype));
    auto t = torch::empty(ints(shape, ndim), opts);
    if (t.numel() > 0) std::memcpy(t.data_ptr(), need(data, "data"), t.numel() * t.element_size());
    put(out, std::move(t));
  })
}

char *bt_fill(int kind, const int64_t *shape, int ndim, int dtype, int device_type,
              int device_index, double value, bt_tensor *out) {
  BT_TRY({
    auto opts = options(dtype, device_type, device_index);
    auto size = ints(shape, ndim);
    torch::Tensor t;
    switch (kind) {
      case BT_FILL_ZEROS: t = torch::zeros(size, opts); break;
      case BT_FILL_ONES: t = torch::ones(size, opts); break;
      case BT_FILL_FULL: t = torch::full(size, value, opts); break;
      case BT_FILL_RAND: t = torch::rand(size, opts); break;
      case BT_FILL_RANDN: t = torch::randn(size, opts); break;
      case BT_FILL_EMPTY: t = torch::empty(size, opts); break;
      default: throw std::invalid_argument("unknown fill kind");
    }
    put(out, std::move(t));
  })
}

char *bt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int dtype,
                 int device_type, int device_index, bt_tensor *out) {
  BT_TRY(put(out, torch::randint(low, high, ints(shape, ndim),
                                    options(dtype, device_type, device_index))))
}

char *bt_arange(double start, double end, double step, int dtype, int device_type,
                int device_index, bt_tensor *out) {
  BT_TRY(put(out, torch::arange(start, end, step, options(dtype, device_type, device_index))))
}

// The metadata queries cannot fail on a handle this API returned (a defined,
// dense tensor); a NULL handle, or anything libtorch refuses to describe,
// reads as a 0-dim, empty CPU leaf that requires no grad.
int bt_dim(bt_tensor t) noexcept {
  try {
    auto *p = defined(t);
    return p == nullptr ? 0 : static_cast<int>(p->dim());
  } catch (...) {
    return 0;
  }
}
void bt_shape(bt_tensor t, int64_t *out) noexcept {
  try {
    auto *p = defined(t);
    if (p == nullptr || out == nullptr) return;
    auto s = p->sizes();
    for (size_t i = 0; i < s.size(); ++i) out[i] = s[i];
  } catch (...) {
  }
}
int64_t bt_numel(bt_tensor t) noexcept {
  try {
    auto *p = defined(t);
    return p == nullptr ? 0 : p->numel();
  } catch (...) {
    return 0;
  }
}
char *bt_dtype(bt_tensor t, int *out) { BT_TRY(*need(out, "out") = bt_dtype_of(T(t).scalar_type())) }
void bt_device(bt_tensor t, int *type, int *index) noexcept {
  int ty = BT_CPU, ix = 0;
  try {
    if (auto *p = defined(t)) {
      auto d = p->device();
      ty = d.is_cuda() ? BT_CUDA : BT_CPU;
      ix = d.has_index() ? d.index() : 0;
    }
  } catch (...) {
    ty = BT_CPU, ix = 0;
  }
  if (type != nullptr) *type = ty;
  if (index != nullptr) *index = ix;
}
int bt_requires_grad(bt_tensor t) noexcept {
  try {
    auto *p = defined(t);
    return p != nullptr && p->requires_grad() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}
int bt_is_leaf(bt_tensor t) noexcept {
  try {
    auto *p = defined(t);
    return p == nullptr || p->is_leaf() ? 1 : 0;
  } catch (...) {
    return 1;
  }
}

char *bt_copy_out(bt_tensor t, void *dst, int64_t nbytes) {
  BT_TRY({
    if (dst == nullptr && nbytes > 0) throw std::invalid_argument("copy out: destination is NULL");
    auto c = T(t).detach().to(torch::kCPU).contiguous();
    int64_t want = c.numel() * static_cast<int64_t>(c.element_size());
    if (want != nbytes) {
      throw std::invalid_argument("copy out: tensor holds " + std::to_string(want) +
                                  " bytes, destination " + std::to_string(nbytes));
    }
    if (want > 0) std::memcpy(dst, c.data_ptr(), static_cast<size_t>(want));
  })
}

char *bt_data_ptr(bt_tensor t, void **data, int64_t *nbytes) {
  BT_TRY({
    need(data, "data");
    need(nbytes, "nbytes");
    const auto &x = T(t);
    if (!x.defined()) throw std::invalid_argument("data pointer: undefined tensor");
    if (!x.device().is_cpu()) throw std::invalid_argument("data pointer: tensor is on " + x.device().str() + ", not the CPU");
    if (!x.is_contiguous()) throw std::invalid_argument("data pointer: tensor is not contiguous");
    *nbytes = x.numel() * static_cast<int64_t>(x.element_size());
    *data = x.numel() > 0 ? x.data_ptr() : nullptr;
  })
}

char *bt_item(bt_tensor t, double *out) { BT_TRY(*need(out, "out") = T(t).item<double>()) }

char *bt_to(bt_tensor t, int dtype, int device_type, int device_index, bt_tensor *out) {
  BT_TRY(put(out, T(t).to(device(device_type, device_index), scalar_type(dtype))))
}

char *bt_assign(bt_tensor dst, bt_tensor src) { BT_TRY(T(dst) = T(src)) }

char *bt_copy_(bt_tensor dst, bt_tensor src) {
  BT_TRY({
    torch::NoGradGuard guard;
    T(dst).copy_(T(src));
  })
}

char *bt_add_(bt_tensor dst, bt_tensor src, double alpha) {
  BT_TRY({
    torch::NoGradGuard guard;
    auto &d = T(dst);
    const auto &s = T(src);
    if (d.is_same(s)) throw std::invalid_argument("add_: the destination is the source");
    d.add_(s, alpha);
  })
}

char *bt_unary(int op, bt_tensor a, bt_tensor *out) {
  BT_TRY({
    const auto &x = T(a);
    torch::Tensor r;
    switch (op) {
      case BT_RELU: r = torch::relu(x); break;
      case BT_GELU: r = torch::gelu(x); break;
      case BT_TANH: r = torch::tanh(x); break;
      case BT_SIGMOID: r = torch::sigmoid(x); break;
      case BT_NEG: r = torch::neg(x); break;
      case BT_EXP: r = torch::exp(x); break;
      case BT_LOG: r = torch::log(x); break;
      case BT_SQRT: r = torch::sqrt(x); break;
      case BT_ABS: r = torch::abs(x); break;
      case BT_DETACH: r = x.detach(); break;
      case BT_CONTIGUOUS: r = x.contiguous(); break;
      case BT_CLONE: r = x.clone(); break;
      case BT_T: r = x.t(); break;
      case BT_ZEROS_LIKE: r = torch::zeros_like(x); break;
      case BT_ONES_LIKE: r = torch::ones_like(x); break;
      case BT_NONZERO: r = torch::nonzero(x); break;
      case BT_SIGN: r = torch::sign(x); break;
      case BT_FLOOR: r = torch::floor(x); break;
      case BT_SQUARE: r = torch::square(x); break;
      case BT_RSQRT: r = torch::rsqrt(x); break;
      case BT_LOGICAL_NOT: r = torch::logical_not(x); break;
      case BT_SIN: r = torch::sin(x); break;
      case BT_COS: r = torch::cos(x); break;
      case BT_ISNAN: r = torch::isnan(x); break;
      case BT_ALIAS: r = x; break;
      default: throw std::invalid_argument("unknown unary op " + std::to_string(op));
    }
    put(out, std::move(r));
  })
}

char *bt_binary(int op, bt_tensor a, bt_tensor b, bt_tensor *out) {
  BT_TRY({
    const auto &x = T(a);
    const auto &y = T(b);
    torch::Tensor r;
    switch (op) {
      case BT_ADD: r = torch::add(x, y); break;
      case BT_SUB: r = torch::sub(x, y); break;
      case BT_MUL: r = torch::mul(x, y); break;
      case BT_DIV: r = torch::div(x, y); break;
      case BT_MATMUL: r = torch::matmul(x, y); break;
      case BT_POW: r = torch::pow(x, y); break;
      case BT_MAXIMUM: r = torch::maximum(x, y); break;
      case BT_MINIMUM: r = torch::minimum(x, y); break;
      case BT_EQ: r = torch::eq(x, y); break;
      case BT_NE: r = torch::ne(x, y); break;
      case BT_LT: r = torch::lt(x, y); break;
      case BT_LE: r = torch::le(x, y); break;
      case BT_GT: r = torch::gt(x, y); break;
      case BT_GE: r = torch::ge(x, y); break;
      case BT_LOGICAL_AND: r = torch::logical_and(x, y); break;
      case BT_LOGICAL_OR: r = torch::logical_or(x, y); break;
      case BT_BMM: r = torch::bmm(x, y); break;
      case BT_REMAINDER: r = torch::remainder(x, y); break;
      default: throw std::invalid_argument("unknown binary op " + std::to_string(op));
    }
    put(out, std::move(r));
  })
}

char *bt_scalar(int op, bt_tensor a, double s, bt_tensor *out) {
  BT_TRY({
    const auto &x = T(a);
    torch::Tensor r;
    switch (op) {
      case BT_S_ADD: r = torch::add(x, s); break;
      case BT_S_SUB: r = torch::sub(x, s); break;
      case BT_S_MUL: r = torch::mul(x, s); break;
      case BT_S_DIV: r = torch::div(x, s); break;
      case BT_S_POW: r = torch::pow(x, s); break;
      case BT_S_EQ: r = torch::eq(x, s); break;
      case BT_S_NE: r = torch::ne(x, s); break;
      case BT_S_LT: r = torch::lt(x, s); break;
      case BT_S_LE: r = torch::le(x, s); break;
      case BT_S_GT: r = torch::gt(x, s); break;
      case BT_S_GE: r = torch::ge(x, s); break;
      case BT_S_CLAMP_MIN: r = torch::clamp_min(x, s); break;
      case BT_S_CLAMP_MAX: r = torch::clamp_max(x, s); break;
      case BT_S_RSUB: r = torch::rsub(x, s); break;
      case BT_S_LEAKY_RELU: r = torch::leaky_relu(x, s); break;
      default: throw std::invalid_argument("unknown scalar op " + std::to_string(op));
    }
    put(out, std::move(r));
  })
}

char *bt_reduce(int op, bt_tensor a, const int64_t *dims, int ndims, int keepdim, bt_tensor *out) {
  BT_TRY({
    const auto &x = T(a);
    bool keep = keepdim != 0;
    array(dims, ndims, "dim");
    std::vector<int64_t> d(dims, dims + ndims);
    if (ndims == 0) {
      for (int64_t i = 0; i < x.dim(); ++i) d.push_back(i);
    }
    torch::Tensor r;
    switch (op) {
      case BT_SUM: r = ndims == 0 && !keep ? x.sum() : x.sum(d, keep); break;
      case BT_MEAN: r = ndims == 0 && !keep ? x.mean() : x.mean(d, keep); break;
      case BT_AMAX: r = x.amax(d, keep); break;
      case BT_AMIN: r = x.amin(d, keep); break;
      case BT_PROD: {
        r = x;
        if (ndims == 0 && !keep) {
          r = x.prod();
        } else {
          std::sort(d.begin(), d.end());
          for (auto it = d.rbegin(); it != d.rend(); ++it) r = r.prod(*it, keep);
        }
        break;
      }
      case BT_NORM: r = ndims == 0 && !keep ? x.norm() : x.norm(2, d, keep); break;
      case BT_VAR: r = x.var(d, /*unbiased=*/true, keep); break;
      case BT_STD: r = x.std(d, /*unbiased=*/true, keep); break;
      default: throw std::invalid_argument("unknown reduction " + std::to_string(op));
    }
    put(out, std::move(r));
  })
}

char *bt_argmax(bt_tensor a, int64_t dim, int has_dim, int keepdim, int argmin, bt_tensor *out) {
  BT_TRY({
    c10::optional<int64_t> d;
    if (has_dim) d = dim;
    put(out, argmin ? torch::argmin(T(a), d, keepdim != 0) : torch::argmax(T(a), d, keepdim != 0));
  })
}

char *bt_dim_op(int op, bt_tensor a, int64_t dim, bt_tensor *out) {
  BT_TRY({
    const auto &x = T(a);
    torch::Tensor r;
    switch (op) {
      case BT_SOFTMAX: r = torch::softmax(x, dim); break;
      case BT_LOG_SOFTMAX: r = torch::log_softmax(x, dim); break;
      case BT_SQUEEZE: r = x.squeeze(dim); break;
      case BT_UNSQUEEZE: r = x.unsqueeze(dim); break;
      case BT_CUMSUM: r = x.cumsum(dim); break;
      default: throw std::invalid_argument("unknown dim op " + std::to_string(op));
    }
    put(out, std::move(r));
  })
}

char *bt_shape_op(int op, bt_tensor a, const int64_t *shape, int n, bt_tensor *out) {
  BT_TRY({
    const auto &x = T(a);
    auto s = ints(shape, n);
    torch::Tensor r;
    switch (op) {
      case BT_RESHAPE: r = x.reshape(s); break;
      case BT_VIEW: r = x.view(s); break;
      case BT_PERMUTE: r = x.permute(s); break;
      case BT_EXPAND: r = x.expand(s); break;
      case BT_REPEAT: r = x.repeat(s); break;
      default: throw std::invalid_argument("unknown shape op " + std::to_string(op));
    }
    put(out, std::move(r));
  })
}

char *bt_transpose(bt_tensor a, int64_t d0, int64_t d1, bt_tensor *out) {
  BT_TRY(put(out, T(a).transpose(d0, d1)))
}

char *bt_flatten(bt_tensor a, int64_t start, int64_t end, bt_tensor *out) {
  BT_TRY(put(out, T(a).flatten(start, end)))
}

char *bt_narrow(bt_tensor a, int64_t dim, int64_t start, int64_t length, bt_tensor *out) {
  BT_TRY(put(out, T(a).narrow(dim, start, length)))
}

char *bt_cat(const bt_tensor *ts, int n, int64_t dim, int stack, bt_tensor *out) {
  BT_TRY({
    array(ts, n, "tensor");
    std::vector<torch::Tensor> v;
    v.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) v.push_back(T(ts[i]));
    put(out, stack ? torch::stack(v, dim) : torch::cat(v, dim));
  })
}

char *bt_split(bt_tensor a, int64_t n, int64_t dim, int mode, bt_tensor **outs, int *nout) {
  BT_TRY({
    need(outs, "outs");
    need(nout, "nout");
    if (mode != 0 && mode != 1) throw std::invalid_argument("unknown split mode " + std::to_string(mode));
    auto parts = mode == 0 ? T(a).split(n, dim) : T(a).chunk(n, dim);
    auto *arr = static_cast<bt_tensor *>(std::malloc(sizeof(bt_tensor) * (parts.size() + 1)));
    if (arr == nullptr) throw std::bad_alloc();
    for (size_t i = 0; i < parts.size(); ++i) arr[i] = wrap(parts[i]);
    *outs = arr;
    *nout = static_cast<int>(parts.size());
  })
}

void bt_free_array(bt_tensor *arr) noexcept { std::free(arr); }

char *bt_index_select(bt_tensor a, int64_t dim, bt_tensor index, bt_tensor *out) {
  BT_TRY(put(out, torch::index_select(T(a), dim, T(index))))
}
char *bt_gather(bt_tensor a, int64_t dim, bt_tensor index, bt_tensor *out) {
  BT_TRY(put(out, torch::gather(T(a), dim, T(index))))
}
char *bt_scatter(bt_tensor a, int64_t dim, bt_tensor index, bt_tensor src, bt_tensor *out) {
  BT_TRY(put(out, torch::scatter(T(a), dim, T(index), T(src))))
}
char *bt_index_add(bt_tensor a, int64_t dim, bt_tensor index, bt_tensor src, bt_tensor *out) {
  BT_TRY(put(out, torch::index_add(T(a), dim, T(index), T(src))))
}
char *bt_masked_fill(bt_tensor a, bt_tensor mask, double value, bt_tensor *out) {
  BT_TRY(put(out, torch::masked_fill(T(a), T(mask), value)))
}
char *bt_where(bt_tensor cond, bt_tensor a, bt_tensor b, bt_tensor *out) {
  BT_TRY(put(out, torch::where(T(cond), T(a), T(b))))
}
char *bt_topk(bt_tensor a, int64_t k, int64_t dim, int largest, int sorted, bt_tensor *values,
              bt_tensor *indices) {
  BT_TRY({
    need(values, "values"), need(indices, "indices");
    auto r = torch::topk(T(a), k, dim, largest != 0, sorted != 0);
    put(values, std::get<0>(r));
    put(indices, std::get<1>(r));
  })
}
char *bt_sort(bt_tensor a, int64_t dim, int descending, bt_tensor *values, bt_tensor *indices) {
  BT_TRY({
    need(values, "values"), need(indices, "indices");
    auto r = torch::sort(T(a), dim, descending != 0);
    put(values, std::get<0>(r));
    put(indices, std::get<1>(r));
  })
}

char *bt_linear(bt_tensor x, bt_tensor w, bt_tensor b, bt_tensor *out) {
  BT_TRY(put(out, torch::linear(T(x), T(w), opt(b))))
}

char *bt_conv2d(bt_tensor x, bt_tensor w, bt_tensor b, const int64_t *stride,
                const int64_t *padding, const int64_t *dilation, int64_t groups, bt_tensor *out) {
  BT_TRY(put(out, torch::conv2d(T(x), T(w), opt(b), ints(stride, 2), ints(padding, 2),
                                   ints(dilation, 2), groups)))
}

char *bt_pool2d(int op, bt_tensor x, const int64_t *kernel, const int64_t *stride,
                const int64_t *padding, bt_tensor *out) {
  BT_TRY({
    if (op == BT_MAX_POOL2D) {
      put(out, torch::max_pool2d(T(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2)));
    } else if (op == BT_AVG_POOL2D) {
      put(out, torch::avg_pool2d(T(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2)));
    } else {
      throw std::invalid_argument("unknown pool op " + std::to_string(op));
    }
  })
}

char *bt_adaptive_pool2d(int op, bt_tensor x, const int64_t *size, bt_tensor *out) {
  BT_TRY({
    if (op == BT_MAX_POOL2D) {
      put(out, std::get<0>(torch::adaptive_max_pool2d(T(x), ints(size, 2))));
    } else if (op == BT_AVG_POOL2D) {
      put(out, torch::adaptive_avg_pool2d(T(x), ints(size, 2)));
    } else {
      throw std::invalid_argument("unknown pool op " + std::to_string(op));
    }
  })
}

char *bt_batch_norm(bt_tensor x, bt_tensor w, bt_tensor b, bt_tensor running_mean,
                    bt_tensor running_var, int training, double momentum, double eps,
                    bt_tensor *out) {
  BT_TRY(put(out, torch::batch_norm(T(x), opt(w), opt(b), opt(running_mean), opt(running_var),
                                       training != 0, momentum, eps, /*cudnn_enabled=*/true)))
}

char *bt_layer_norm(bt_tensor x, const int64_t *shape, int n, bt_tensor w, bt_tensor b, double eps,
                    bt_tensor *out) {
  BT_TRY(put(out, torch::layer_norm(T(x), ints(shape, n), opt(w), opt(b), eps)))
}

char *bt_dropout(bt_tensor x, double p, int training, bt_tensor *out) {
  BT_TRY(put(out, torch::dropout(T(x), p, training != 0)))
}

char *bt_embedding(bt_tensor weight, bt_tensor indices, int64_t padding_idx, bt_tensor *out) {
  BT_TRY(put(out, torch::embedding(T(weight), T(indices), padding_idx)))
}

char *bt_loss(int op, bt_tensor input, bt_tensor target, int reduction, bt_tensor *out) {
  BT_TRY({
    int64_t red;
    switch (reduction) {
      case BT_REDUCE_NONE: red = at::Reduction::None; break;
      case BT_REDUCE_MEAN: red = at::Reduction::Mean; break;
      case BT_REDUCE_SUM: red = at::Reduction::Sum; break;
      default: throw std::invalid_argument("unknown reduction " + std::to_string(reduction));
    }
    torch::Tensor r;
    switch (op) {
      case BT_NLL: r = torch::nll_loss(T(input), T(target), {}, red); break;
      case BT_CROSS_ENTROPY: r = torch::cross_entropy_loss(T(input), T(target), {}, red); break;
      case BT_MSE: r = torch::mse_loss(T(input), T(target), red); break;
      default: throw std::invalid_argument("unknown loss " + std::to_string(op));
    }
    put(out, std::move(r));
  })
}

char *bt_set_requires_grad(bt_tensor t, int requires_grad) {
  BT_TRY(T(t).set_requires_grad(requires_grad != 0))
}

char *bt_grad(bt_tensor t, bt_tensor *out) {
  BT_TRY({
    need(out, "out");
    const auto &g = T(t).grad();
    *out = g.defined() ? wrap(g) : nullptr;
  })
}

char *bt_zero_grad(bt_tensor t) {
  BT_TRY({
    auto &g = T(t).mutable_grad();
    if (g.defined()) {
      g = torch::Tensor();
    }
  })
}

char *bt_backward(bt_tensor t, bt_tensor grad, int retain_graph) {
  BT_TRY(T(t).backward(opt(grad), retain_graph != 0 ? c10::optional<bool>(true) : c10::nullopt))
}

char *bt_autograd_grad(const bt_tensor *outputs, int nout, const bt_tensor *inputs, int nin,
                       const bt_tensor *grad_outputs, int retain_graph, int create_graph,
                       bt_tensor *results) {
  BT_TRY({
    array(outputs, nout, "output");
    array(inputs, nin, "input");
    array(results, nin, "result");
    torch::autograd::variable_list outs, ins, gouts;
    for (int i = 0; i < nout; ++i) outs.push_back(T(outputs[i]));
    for (int i = 0; i < nin; ++i) ins.push_back(T(inputs[i]));
    if (grad_outputs != nullptr) {
      for (int i = 0; i < nout; ++i) gouts.push_back(opt(grad_outputs[i]));
    }
    c10::optional<bool> retain;
    if (retain_graph) retain = true;
    auto grads = torch::autograd::grad(outs, ins, gouts, retain, create_graph != 0,
                                       /*allow_unused=*/true);
    for (int i = 0; i < nin; ++i) results[i] = grads[i].defined() ? wrap(grads[i]) : nullptr;
  })
}

char *bt_accumulate_grad(bt_tensor t, bt_tensor g, double alpha) {
  BT_TRY({
    torch::NoGradGuard guard;
    auto &p = T(t);
    const auto &v = T(g);
    if (!v.sizes().equals(p.sizes())) {
      std::ostringstream msg;
      msg << "gradient of shape " << v.sizes() << " for a tensor of shape " << p.sizes();
      throw std::invalid_argument(msg.str());
    }
    auto &grad = p.mutable_grad();
    if (grad.defined()) {
      grad.add_(v.to(grad.options()), alpha);
    } else {
      grad = v.to(p.options()).mul(alpha);
    }
  })
}

char *bt_clip_grad_norm(const bt_tensor *params, int n, double max_norm, double *total) {
  BT_TRY({
    array(params, n, "parameter");
    need(total, "total");
    std::vector<torch::Tensor> v;
    for (int i = 0; i < n; ++i) v.push_back(T(params[i]));
    *total = torch::nn::utils::clip_grad_norm_(v, max_norm);
  })
}

}  // extern "C"

namespace {

// GoFunction is an autograd function whose outputs were computed by the
// caller and whose backward is a C callback (into Go).
struct GoFunction : public torch::autograd::Function<GoFunction> {
  struct Callbacks {
    bt_backward_fn backward;
    bt_release_fn release;
    bool *owned;  // set once the node owns the handle (and so releases it)
  };

  static torch::autograd::variable_list forward(torch::autograd::AutogradContext *ctx,
                                                at::TensorList inputs,
                                                const std::vector<torch::Tensor> *outputs,
                                                uintptr_t handle, Callbacks cb) {
    // The handle is released when this node (and so its context) is destroyed:
    // an empty tensor whose storage deleter calls release.
    auto release = cb.release;
    // An output that got no gradient reaches the callback as NULL (as
    // bt_torch.h promises), not as a tensor of zeros.
    ctx->set_materialize_grads(false);
    ctx->saved_data["handle"] = static_cast<int64_t>(handle);
    ctx->saved_data["backward"] = static_cast<int64_t>(reinterpret_cast<uintptr_t>(cb.backward));
    ctx->saved_data["guard"] = torch::from_blob(
        reinterpret_cast<void *>(handle), {0},
        [release](void *p) { release(reinterpret_cast<uintptr_t>(p)); },
        torch::TensorOptions().dtype(torch::kUInt8));
    *cb.owned = true;
    ctx->saved_data["nin"] = static_cast<int64_t>(inputs.size());
    return *outputs;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    auto handle = static_cast<uintptr_t>(ctx->saved_data["handle"].toInt());
    auto fn = reinterpret_cast<bt_backward_fn>(
        static_cast<uintptr_t>(ctx->saved_data["backward"].toInt()));
    auto nin = static_cast<int>(ctx->saved_data["nin"].toInt());
    std::vector<bt_tensor> g(grads.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      g[i] = grads[i].defined() ? wrap(grads[i]) : nullptr;
    }
    std::vector<bt_tensor> in(static_cast<size_t>(nin), nullptr);
    char *err = fn(handle, g.data(), static_cast<int>(g.size()), in.data(), nin);
    torch::autograd::variable_list result;
    for (auto h : in) {
      result.push_back(h == nullptr ? torch::Tensor() : T(h));
      bt_free(h);
    }
    if (err != nullptr) {
      std::string msg(err);
      std::free(err);
      throw std::runtime_error(msg);
    }
    // No gradients for the non-tensor arguments of forward.
    result.resize(result.size() + 3);
    return result;
  }
};

}  // namespace

extern "C" {

char *bt_custom_function(const bt_tensor *inputs, int nin, const bt_tensor *outputs, int nout,
                         uintptr_t handle, bt_backward_fn backward, bt_release_fn release,
                         bt_tensor *results) {
  // Until the graph node owns the handle, a failure releases it here.
  bool owned = false;
  if (release == nullptr) return dup_error("release callback is NULL");
  try {
    need(backward, "backward callback");
    array(inputs, nin, "input");
    array(outputs, nout, "output");
    array(results, nout, "result");
    torch::autograd::variable_list ins;
    for (int i = 0; i < nin; ++i) ins.push_back(T(inputs[i]));
    // Fresh handles to the outputs' values: autograd sets the grad_fn of what
    // forward returns, and that must not rewire the caller's tensors (an output
    // passed to two custom functions would otherwise route the first one's
    // gradient to the second's backward).
    std::vector<torch::Tensor> outs;
    for (int i = 0; i < nout; ++i) outs.push_back(T(outputs[i]).detach());
    // A TensorList (not a vector) so that autograd sees each input as a variable.
    auto r = GoFunction::apply(at::TensorList(ins), &outs, handle,
                               GoFunction::Callbacks{backward, release, &owned});
    for (int i = 0; i < nout; ++i) results[i] = wrap(r[static_cast<size_t>(i)]);
    return nullptr;
  } catch (const c10::Error &e) {
    if (!owned) release(handle);
    return dup_error(e.what_without_backtrace());
  } catch (const std::exception &e) {
    if (!owned) release(handle);
    return dup_error(e.what());
  } catch (...) {
    if (!owned) release(handle);
    return dup_error("unknown C++ exception");
  }
}

}  // extern "C"

namespace {

constexpr const char *kOptimizerKey = "__optimizer__";

// check_loaded rejects a tensor read from a file whose storage cannot hold
// the elements its shape and strides address: a corrupt record that libtorch
// accepts would otherwise be read out of bounds (or through NULL) later.
void check_loaded(const std::string &name, const torch::Tensor &t) {
  auto bad = [&name](const std::string &why) {
    throw std::runtime_error("tensor \"" + name + "\" is corrupt: " + why);
  };
  if (!t.defined()) bad("undefined");
  if (t.layout() != torch::kStrided) bad("not a dense tensor");
  if (t.numel() == 0) return;
  int64_t last = t.storage_offset();  // index of the last element addressed
  if (last < 0) bad("negative storage offset");
  for (int64_t d = 0; d < t.dim(); ++d) {
    int64_t step = 0;
    if (t.stride(d) < 0 || __builtin_mul_overflow(t.size(d) - 1, t.stride(d), &step) ||
        __builtin_add_overflow(last, step, &last)) {
      bad("invalid strides");
    }
  }
  int64_t need = 0;
  if (__builtin_mul_overflow(last + 1, static_cast<int64_t>(t.element_size()), &need)) {
    bad("shape too large");
  }
  if (!t.has_storage() || t.storage().data() == nullptr ||
      static_cast<int64_t>(t.storage().nbytes()) < need) {
    bad("its data is shorter than its shape");
  }
}

// check_archive applies check_loaded to every tensor of an archive and its
// nested archives, and collects the sizes of their distinct storages.
void check_archive(torch::serialize::InputArchive &archive, const std::string &prefix,
                   std::unordered_set<const void *> &seen, std::vector<size_t> &sizes) {
  for (const auto &k : archive.keys()) {
    const std::string name = prefix.empty() ? k : prefix + "." + k;
    torch::Tensor t;
    torch::serialize::InputArchive nested;
    if (archive.try_read(k, t)) {
      check_loaded(name, t);
      if (t.has_storage() && seen.insert(t.storage().unsafeGetStorageImpl()).second &&
          t.storage().nbytes() > 0) {
        sizes.push_back(t.storage().nbytes());
      }
    } else if (archive.try_read(k, nested)) {
      check_archive(nested, name, seen, sizes);
    }
  }
}

// check_records compares the storages libtorch built for the archive at path
// with the file's data records. libtorch 1.13 sizes a storage from the
// pickled metadata, not from its record, so a record shorter than its
// metadata claims would be read past its end.
void check_records(const char *path, torch::serialize::InputArchive &archive) {
  std::unordered_set<const void *> seen;
  std::vector<size_t> storages;
  check_archive(archive, "", seen, storages);
  caffe2::serialize::PyTorchStreamReader reader(path);
  std::vector<size_t> records;
  for (const auto &name : reader.getAllRecords()) {
    if (name.rfind("data/", 0) != 0) continue;
    size_t n = std::get<1>(reader.getRecord(name));
    if (n > 0) records.push_back(n);
  }
  std::sort(storages.begin(), storages.end());
  std::sort(records.begin(), records.end());
  if (storages != records) {
    throw std::runtime_error("the tensors' data records do not match their shapes");
  }
}

struct Optimizer {
  int kind;
  bt_optimizer_options options;
  std::unique_ptr<torch::optim::Optimizer> impl;
};

Optimizer &O(bt_optimizer o) { return *static_cast<Optimizer *>(need(o, "optimizer handle")); }

// make_optimizer builds an optimizer of the given kind over params.
std::unique_ptr<Optimizer> make_optimizer(int kind, std::vector<torch::Tensor> ps,
                                          const bt_optimizer_options &o) {
  auto opt = std::make_unique<Optimizer>();
  opt->kind = kind;
  opt->options = o;
  switch (kind) {
    case BT_SGD:
      opt->impl = std::make_unique<torch::optim::SGD>(
          ps, torch::optim::SGDOptions(o.lr)
                  .momentum(o.momentum)
                  .dampening(o.dampening)
                  .weight_decay(o.weight_decay)
                  .nesterov(o.nesterov != 0));
      break;
    case BT_ADAM:
      opt->impl = std::make_unique<torch::optim::Adam>(
          ps, torch::optim::AdamOptions(o.lr)
                  .betas(std::make_tuple(o.beta1, o.beta2))
                  .eps(o.eps)
                  .weight_decay(o.weight_decay)
                  .amsgrad(o.amsgrad != 0));
      break;
    case BT_ADAMW:
      opt->impl = std::make_unique<torch::optim::AdamW>(
          ps, torch::optim::AdamWOptions(o.lr)
                  .betas(std::make_tuple(o.beta1, o.beta2))
                  .eps(o.eps)
                  .weight_decay(o.weight_decay)
                  .amsgrad(o.amsgrad != 0));
      break;
    default:
      throw std::invalid_argument("unknown optimizer kind " + std::to_string(kind));
  }
  return opt;
}

// params returns the parameters an optimizer updates, in order.
std::vector<torch::Tensor> params(const Optimizer &o) {
  std::vector<torch::Tensor> ps;
  for (const auto &g : o.impl->param_groups()) {
    for (const auto &p : g.params()) ps.push_back(p);
  }
  return ps;
}

// find_state looks up p's entry in an optimizer's state map, keyed by the
// parameter's TensorImpl: as a pointer (libtorch 2.x) or as that pointer
// printed (libtorch 1.13).
template <typename Map>
auto find_state(Map &state, const torch::Tensor &p) {
  using Key = typename std::decay_t<Map>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return state.find(key.str());
  } else {
    return state.find(p.unsafeGetTensorImpl());
  }
}

// check_buffer rejects a state buffer that does not fit its parameter.
void check_buffer(const char *name, size_t i, const torch::Tensor &buf, const torch::Tensor &p) {
  if (!buf.defined()) return;
  if (buf.sizes() != p.sizes() || buf.scalar_type() != p.scalar_type()) {
    std::ostringstream msg;
    msg << "optimizer state: parameter " << i << " is " << p.scalar_type() << p.sizes() << ", its " << name
        << " is " << buf.scalar_type() << buf.sizes();
    throw std::runtime_error(msg.str());
  }
}

// check_state rejects loaded optimizer state whose buffers do not fit the
// parameters (libtorch checks only their number; a misfit would fail at the
// next step, or worse, broadcast).
void check_state(Optimizer &o) {
  auto ps = params(o);
  auto &state = o.impl->state();
  for (size_t i = 0; i < ps.size(); ++i) {
    auto it = find_state(state, ps[i]);
    if (it == state.end()) continue;
    auto *base = it->second.get();
    if (auto *s = dynamic_cast<torch::optim::SGDParamState *>(base)) {
      check_buffer("momentum buffer", i, s->momentum_buffer(), ps[i]);
    } else if (auto *s = dynamic_cast<torch::optim::AdamParamState *>(base)) {
      check_buffer("exp_avg", i, s->exp_avg(), ps[i]);
      check_buffer("exp_avg_sq", i, s->exp_avg_sq(), ps[i]);
      check_buffer("max_exp_avg_sq", i, s->max_exp_avg_sq(), ps[i]);
    } else if (auto *s = dynamic_cast<torch::optim::AdamWParamState *>(base)) {
      check_buffer("exp_avg", i, s->exp_avg(), ps[i]);
      check_buffer("exp_avg_sq", i, s->exp_avg_sq(), ps[i]);
      check_buffer("max_exp_avg_sq", i, s->max_exp_avg_sq(), ps[i]);
    }
  }
}

}  // namespace

extern "C" {

char *bt_save(const char *path, const char *const *names, const bt_tensor *tensors, int n,
              bt_optimizer opt) {
  BT_TRY({
    need(path, "path");
    array(names, n, "name");
    array(tensors, n, "tensor");
    torch::serialize::OutputArchive archive;
    for (int i = 0; i < n; ++i) archive.write(need(names[i], "name"), T(tensors[i]).detach());
    if (opt != nullptr) {
      torch::serialize::OutputArchive nested;
      O(opt).impl->save(nested);
      archive.write(kOptimizerKey, nested);
    }
    archive.save_to(path);
  })
}

char *bt_load(const char *path, char ***names, bt_tensor **tensors, int *n, bt_optimizer opt) {
  BT_TRY({
    need(path, "path");
    need(names, "names");
    need(tensors, "tensors");
    need(n, "n");
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    std::vector<std::string> keys;
    for (const auto &k : archive.keys()) {
      if (k != kOptimizerKey) keys.push_back(k);
    }
    // Check every tensor (the optimizer's too) before changing the optimizer
    // or allocating anything for the caller, so that a bad file changes and
    // leaks nothing. The optimizer's state is loaded into a scratch copy,
    // checked against the parameters, and swapped in last.
    check_records(path, archive);
    std::unique_ptr<Optimizer> scratch;
    std::vector<torch::Tensor> loaded;
    loaded.reserve(keys.size());
    for (const auto &k : keys) {
      torch::Tensor t;
      archive.read(k, t);
      loaded.push_back(std::move(t));
    }
    if (opt != nullptr) {
      torch::serialize::InputArchive nested;
      if (!archive.try_read(kOptimizerKey, nested)) {
        throw std::runtime_error("the file holds no optimizer state");
      }
      scratch = make_optimizer(O(opt).kind, params(O(opt)), O(opt).options);
      scratch->impl->load(nested);
      check_state(*scratch);
    }
    auto *ns = static_cast<char **>(std::calloc(keys.size() + 1, sizeof(char *)));
    auto *ts = static_cast<bt_tensor *>(std::calloc(keys.size() + 1, sizeof(bt_tensor)));
    if (ns == nullptr || ts == nullptr) {
      std::free(ns);
      std::free(ts);
      throw std::bad_alloc();
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      ns[i] = dup_error(keys[i].c_str());
      ts[i] = wrap(std::move(loaded[i]));
    }
    if (scratch != nullptr) std::swap(O(opt).impl, scratch->impl);
    *names = ns;
    *tensors = ts;
    *n = static_cast<int>(keys.size());
  })
}

void bt_free_names(char **names, int n) noexcept {
  if (names == nullptr) return;
  for (int i = 0; i < n; ++i) std::free(names[i]);
  std::free(names);
}

char *bt_optimizer_new(int kind, const bt_tensor *params, int n, const bt_optimizer_options *o,
                       bt_optimizer *out) {
  BT_TRY({
    need(o, "options");
    need(out, "out");
    array(params, n, "parameter");
    std::vector<torch::Tensor> ps;
    for (int i = 0; i < n; ++i) ps.push_back(T(params[i]));
    *out = make_optimizer(kind, std::move(ps), *o).release();
  })
}

char *bt_optimizer_new_like(bt_optimizer src, bt_optimizer *out) {
  BT_TRY({
    need(out, "out");
    const auto &o = O(src);
    *out = make_optimizer(o.kind, params(o), o.options).release();
  })
}

char *bt_optimizer_swap(bt_optimizer a, bt_optimizer b) {
  BT_TRY({
    auto &x = O(a);
    auto &y = O(b);
    if (x.kind != y.kind) throw std::invalid_argument("swap: optimizers of different kinds");
    auto px = params(x), py = params(y);
    bool same = px.size() == py.size();
    for (size_t i = 0; same && i < px.size(); ++i) same = px[i].is_same(py[i]);
    if (!same) throw std::invalid_argument("swap: optimizers over different parameters");
    std::swap(x.impl, y.impl);
    std::swap(x.options, y.options);
  })
}

char *bt_optimizer_step(bt_optimizer opt) { BT_TRY(O(opt).impl->step()) }

char *bt_optimizer_zero_grad(bt_optimizer opt) {
  BT_TRY({
    for (auto &group : O(opt).impl->param_groups()) {
      for (auto &p : group.params()) p.mutable_grad() = torch::Tensor();
    }
  })
}

char *bt_optimizer_set_lr(bt_optimizer opt, double lr) {
  BT_TRY({
    if (!(lr > 0) || std::isinf(lr)) throw std::invalid_argument("learning rate must be positive, got " + std::to_string(lr));
    for (auto &group : O(opt).impl->param_groups()) group.options().set_lr(lr);
  })
}

void bt_optimizer_free(bt_optimizer opt) noexcept { delete static_cast<Optimizer *>(opt); }

}  // extern "C"

// --- build info ---

const char *bt_torch_version(void) noexcept { return TORCH_VERSION; }

int64_t bt_cuda_runtime_version(void) noexcept {
  try {
    // Without libtorch_cuda loaded the hooks are libtorch's stub, which throws.
    return static_cast<int64_t>(at::detail::getCUDAHooks().versionCUDART());
  } catch (...) {
    return 0;
  }
}

char *bt_build_config(char **out) {
  BT_TRY({
    need(out, "out");
    std::string c = at::show_config();
    char *s = static_cast<char *>(std::malloc(c.size() + 1));
    if (s == nullptr) throw std::bad_alloc();
    std::memcpy(s, c.c_str(), c.size() + 1);
    *out = s;
  })
}

void bt_free_string(char *s) noexcept { std::free(s); }
