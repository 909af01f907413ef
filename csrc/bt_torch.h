/*
 * bt_torch.h: the C API of the Bittensor shim over libtorch.
 *
 * Conventions:
 * - A bt_tensor is an owned handle to a torch::Tensor; free it with bt_free.
 *   Handles returned through out-parameters belong to the caller.
 * - Every function that can fail returns a char* error message (NULL on
 *   success) from the same call; the caller frees it with bt_free_error.
 *   C++ exceptions never cross this boundary: the functions that return no
 *   message (BT_NOEXCEPT below) cannot fail.
 * - Optional tensor arguments (a bias, a weight) may be NULL. Any other NULL
 *   handle, NULL out-parameter, NULL array of n > 0 elements or negative
 *   count is an error message, not a crash; the metadata queries read a NULL
 *   handle as a 0-dim, empty CPU leaf. A freed handle cannot be detected.
 * - On failure, out-parameters are left as they were.
 */
#ifndef BT_TORCH_H
#define BT_TORCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
#define BT_NOEXCEPT noexcept
#else
#define BT_NOEXCEPT
#endif

typedef void *bt_tensor;
typedef void *bt_optimizer;

/* Data types, numbered as in the Go package (not as libtorch numbers them). */
enum bt_dtype {
  BT_FLOAT32 = 0,
  BT_FLOAT64 = 1,
  BT_INT32 = 2,
  BT_INT64 = 3,
  BT_UINT8 = 4,
  BT_BOOL = 5,
};

/* Device types. */
enum bt_device_type { BT_CPU = 0, BT_CUDA = 1 };

void bt_free(bt_tensor t) BT_NOEXCEPT;
void bt_free_error(char *err) BT_NOEXCEPT;

/* Runtime. */
char *bt_manual_seed(int64_t seed);
/* A CUDA runtime that cannot be queried counts as none. */
int bt_cuda_is_available(void) BT_NOEXCEPT;
int bt_cuda_device_count(void) BT_NOEXCEPT;
/* n must be at least 1. */
char *bt_set_num_threads(int n);
/* Sets glibc malloc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD (bytes, > 0):
 * blocks below the first come from the heap, which is handed back to the
 * kernel only past the second. */
char *bt_set_malloc_thresholds(int64_t mmap_threshold, int64_t trim_threshold);
/* Sets glibc malloc's M_ARENA_MAX (> 0): the most heaps threads allocate from. */
char *bt_set_malloc_arena_max(int n);
char *bt_get_num_threads(int *out);
/* Grad mode is per OS thread in libtorch; the Go side pins the goroutine. */
int bt_grad_enabled(void) BT_NOEXCEPT;
void bt_set_grad_enabled(int enabled) BT_NOEXCEPT;

/* Creation. */
char *bt_from_data(const void *data, const int64_t *shape, int ndim, int dtype,
                   bt_tensor *out);
enum bt_fill_kind {
  BT_FILL_ZEROS,
  BT_FILL_ONES,
  BT_FILL_FULL,
  BT_FILL_RAND,
  BT_FILL_RANDN,
  BT_FILL_EMPTY,
};
char *bt_fill(int kind, const int64_t *shape, int ndim, int dtype, int device_type,
              int device_index, double value, bt_tensor *out);
char *bt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int dtype,
                 int device_type, int device_index, bt_tensor *out);
char *bt_arange(double start, double end, double step, int dtype, int device_type,
                int device_index, bt_tensor *out);

/* Metadata. */
int bt_dim(bt_tensor t) BT_NOEXCEPT;
/* out holds bt_dim(t) values. */
void bt_shape(bt_tensor t, int64_t *out) BT_NOEXCEPT;
int64_t bt_numel(bt_tensor t) BT_NOEXCEPT;
char *bt_dtype(bt_tensor t, int *out);
void bt_device(bt_tensor t, int *type, int *index) BT_NOEXCEPT;
int bt_requires_grad(bt_tensor t) BT_NOEXCEPT;
int bt_is_leaf(bt_tensor t) BT_NOEXCEPT;

/* The address and byte size of the values of a contiguous CPU tensor, valid
 * until the tensor's storage is freed or resized (*data is NULL for no
 * values). A tensor on another device or not contiguous is an error. The
 * caller may read and write the bytes but must keep a handle to the tensor
 * while it does. */
char *bt_data_ptr(bt_tensor t, void **data, int64_t *nbytes);
/* Copies the tensor's values (converted to CPU, contiguous) into dst, which holds nbytes. */
char *bt_copy_out(bt_tensor t, void *dst, int64_t nbytes);
char *bt_item(bt_tensor t, double *out);
char *bt_to(bt_tensor t, int dtype, int device_type, int device_index, bt_tensor *out);
/* Makes dst's handle refer to src's tensor (dst's old tensor is released). */
char *bt_assign(bt_tensor dst, bt_tensor src);
/* Copies src's values into dst in place (no autograd history). */
char *bt_copy_(bt_tensor dst, bt_tensor src);
/* Adds alpha·src into dst in place (no autograd history); src broadcasts. */
char *bt_add_(bt_tensor dst, bt_tensor src, double alpha);

/* Element-wise and shape-preserving ops on one tensor. */
enum bt_unary_op {
  BT_RELU, BT_GELU, BT_TANH, BT_SIGMOID, BT_NEG, BT_EXP, BT_LOG, BT_SQRT, BT_ABS,
  BT_DETACH, BT_CONTIGUOUS, BT_CLONE, BT_T, BT_ZEROS_LIKE, BT_ONES_LIKE, BT_NONZERO,
  BT_SIGN, BT_FLOOR, BT_SQUARE, BT_RSQRT, BT_LOGICAL_NOT, BT_SIN, BT_COS, BT_ISNAN,
  BT_ALIAS, /* a new handle to the same tensor */
};
char *bt_unary(int op, bt_tensor a, bt_tensor *out);

/* Broadcasting binary ops. */
enum bt_binary_op {
  BT_ADD, BT_SUB, BT_MUL, BT_DIV, BT_MATMUL, BT_POW, BT_MAXIMUM, BT_MINIMUM,
  BT_EQ, BT_NE, BT_LT, BT_LE, BT_GT, BT_GE, BT_LOGICAL_AND, BT_LOGICAL_OR,
  BT_BMM, BT_REMAINDER,
};
char *bt_binary(int op, bt_tensor a, bt_tensor b, bt_tensor *out);

/* Binary ops with a scalar right operand. */
enum bt_scalar_op {
  BT_S_ADD, BT_S_SUB, BT_S_MUL, BT_S_DIV, BT_S_POW, BT_S_EQ, BT_S_NE, BT_S_LT,
  BT_S_LE, BT_S_GT, BT_S_GE, BT_S_CLAMP_MIN, BT_S_CLAMP_MAX, BT_S_RSUB,
  BT_S_LEAKY_RELU,
};
char *bt_scalar(int op, bt_tensor a, double s, bt_tensor *out);

/* Reductions over dims (ndims = 0: over all elements). */
enum bt_reduce_op { BT_SUM, BT_MEAN, BT_AMAX, BT_AMIN, BT_PROD, BT_NORM, BT_VAR, BT_STD };
char *bt_reduce(int op, bt_tensor a, const int64_t *dims, int ndims, int keepdim,
                bt_tensor *out);
/* argmax/argmin over dim; has_dim = 0 flattens. */
char *bt_argmax(bt_tensor a, int64_t dim, int has_dim, int keepdim, int argmin,
                bt_tensor *out);

/* Ops taking one dimension. */
enum bt_dim_op {
  BT_SOFTMAX, BT_LOG_SOFTMAX, BT_SQUEEZE, BT_UNSQUEEZE, BT_CUMSUM,
};
char *bt_dim_op(int op, bt_tensor a, int64_t dim, bt_tensor *out);

/* Ops taking a shape-like list. */
enum bt_shape_op { BT_RESHAPE, BT_VIEW, BT_PERMUTE, BT_EXPAND, BT_REPEAT };
char *bt_shape_op(int op, bt_tensor a, const int64_t *shape, int n, bt_tensor *out);
char *bt_transpose(bt_tensor a, int64_t d0, int64_t d1, bt_tensor *out);
char *bt_flatten(bt_tensor a, int64_t start, int64_t end, bt_tensor *out);
char *bt_narrow(bt_tensor a, int64_t dim, int64_t start, int64_t length, bt_tensor *out);

/* Joining and splitting. split: mode 0 = split into pieces of size n, 1 = chunk into n. */
char *bt_cat(const bt_tensor *ts, int n, int64_t dim, int stack, bt_tensor *out);
char *bt_split(bt_tensor a, int64_t n, int64_t dim, int mode, bt_tensor **outs, int *nout);
void bt_free_array(bt_tensor *arr) BT_NOEXCEPT;

/* Indexing. */
char *bt_index_select(bt_tensor a, int64_t dim, bt_tensor index, bt_tensor *out);
char *bt_gather(bt_tensor a, int64_t dim, bt_tensor index, bt_tensor *out);
char *bt_scatter(bt_tensor a, int64_t dim, bt_tensor index, bt_tensor src, bt_tensor *out);
char *bt_index_add(bt_tensor a, int64_t dim, bt_tensor index, bt_tensor src, bt_tensor *out);
char *bt_masked_fill(bt_tensor a, bt_tensor mask, double value, bt_tensor *out);
char *bt_where(bt_tensor cond, bt_tensor a, bt_tensor b, bt_tensor *out);
char *bt_topk(bt_tensor a, int64_t k, int64_t dim, int largest, int sorted,
              bt_tensor *values, bt_tensor *indices);
char *bt_sort(bt_tensor a, int64_t dim, int descending, bt_tensor *values,
              bt_tensor *indices);

/* Neural-network functions. */
char *bt_linear(bt_tensor x, bt_tensor w, bt_tensor b, bt_tensor *out);
char *bt_conv2d(bt_tensor x, bt_tensor w, bt_tensor b, const int64_t *stride,
                const int64_t *padding, const int64_t *dilation, int64_t groups,
                bt_tensor *out);
enum bt_pool_op { BT_MAX_POOL2D, BT_AVG_POOL2D };
char *bt_pool2d(int op, bt_tensor x, const int64_t *kernel, const int64_t *stride,
                const int64_t *padding, bt_tensor *out);
char *bt_adaptive_pool2d(int op, bt_tensor x, const int64_t *size, bt_tensor *out);
char *bt_batch_norm(bt_tensor x, bt_tensor w, bt_tensor b, bt_tensor running_mean,
                    bt_tensor running_var, int training, double momentum, double eps,
                    bt_tensor *out);
char *bt_layer_norm(bt_tensor x, const int64_t *shape, int n, bt_tensor w, bt_tensor b,
                    double eps, bt_tensor *out);
char *bt_dropout(bt_tensor x, double p, int training, bt_tensor *out);
char *bt_embedding(bt_tensor weight, bt_tensor indices, int64_t padding_idx,
                   bt_tensor *out);
enum bt_loss_op { BT_NLL, BT_CROSS_ENTROPY, BT_MSE };
enum bt_reduction { BT_REDUCE_NONE = 0, BT_REDUCE_MEAN = 1, BT_REDUCE_SUM = 2 };
char *bt_loss(int op, bt_tensor input, bt_tensor target, int reduction, bt_tensor *out);

/* Autograd. */
char *bt_set_requires_grad(bt_tensor t, int requires_grad);
/* *out is NULL when the tensor has no gradient. */
char *bt_grad(bt_tensor t, bt_tensor *out);
char *bt_zero_grad(bt_tensor t);
char *bt_backward(bt_tensor t, bt_tensor grad, int retain_graph);
/* results[i] is NULL when inputs[i] got no gradient (allow_unused). */
char *bt_autograd_grad(const bt_tensor *outputs, int nout, const bt_tensor *inputs,
                       int nin, const bt_tensor *grad_outputs, int retain_graph,
                       int create_graph, bt_tensor *results);
/* Adds alpha·g into t's gradient, which is created (as alpha·g) when t has none. */
char *bt_accumulate_grad(bt_tensor t, bt_tensor g, double alpha);
char *bt_clip_grad_norm(const bt_tensor *params, int n, double max_norm, double *total);

/*
 * Custom autograd function whose backward is a callback. bt_custom_function
 * attaches outputs (computed by the caller) to the graph of inputs. On
 * backward, the engine calls backward(handle, grads, ngrads, input_grads, nin)
 * (grads[i] is NULL where an output got no gradient):
 * grads are owned by the callee; it stores one new handle (or NULL) per input
 * in input_grads and returns NULL or an error message allocated with malloc.
 * release(handle) is called once when the graph node is destroyed.
 */
typedef char *(*bt_backward_fn)(uintptr_t handle, bt_tensor *grads, int ngrads,
                                bt_tensor *input_grads, int nin);
typedef void (*bt_release_fn)(uintptr_t handle);
char *bt_custom_function(const bt_tensor *inputs, int nin, const bt_tensor *outputs,
                         int nout, uintptr_t handle, bt_backward_fn backward,
                         bt_release_fn release, bt_tensor *results);

/* Serialization: named tensors (and optionally an optimizer's state) in one file. */
char *bt_save(const char *path, const char *const *names, const bt_tensor *tensors, int n,
              bt_optimizer opt);
/* Loads every tensor of the file; names and tensors are malloc'ed arrays the caller
 * frees with bt_free_names and bt_free_array (after taking the tensors). When opt is
 * non-NULL its state is loaded from the same file. Everything is checked before
 * anything changes: on failure opt is as it was. */
char *bt_load(const char *path, char ***names, bt_tensor **tensors, int *n, bt_optimizer opt);
void bt_free_names(char **names, int n) BT_NOEXCEPT;

/* Optimizers. */
enum bt_optimizer_kind { BT_SGD, BT_ADAM, BT_ADAMW };
typedef struct {
  double lr;
  double momentum;
  double dampening;
  double weight_decay;
  int nesterov;
  double beta1;
  double beta2;
  double eps;
  int amsgrad;
} bt_optimizer_options;
char *bt_optimizer_new(int kind, const bt_tensor *params, int n,
                       const bt_optimizer_options *opts, bt_optimizer *out);
char *bt_optimizer_step(bt_optimizer opt);
char *bt_optimizer_zero_grad(bt_optimizer opt);
char *bt_optimizer_set_lr(bt_optimizer opt, double lr);
/* A new optimizer of src's kind and creation options over the same parameters,
 * with empty state (a scratch copy to load a checkpoint into). */
char *bt_optimizer_new_like(bt_optimizer src, bt_optimizer *out);
/* Exchanges the state and options of two optimizers of the same kind over the
 * same parameters (commits a scratch copy). */
char *bt_optimizer_swap(bt_optimizer a, bt_optimizer b);
void bt_optimizer_free(bt_optimizer opt) BT_NOEXCEPT;

// --- build info ---
/* The version of the libtorch the shim was compiled against ("1.13.0",
 * "2.6.0"): a static string, never freed. */
const char *bt_torch_version(void) BT_NOEXCEPT;
/* The CUDA runtime version the loaded libtorch was built with (12040 for
 * 12.4), or 0 when its CUDA library is not loaded (a CPU-only libtorch). */
int64_t bt_cuda_runtime_version(void) BT_NOEXCEPT;
/* libtorch's build configuration (compiler, BLAS, CUDA, C++ ABI flags) as a
 * multi-line string in *out; the caller frees it with bt_free_string. */
char *bt_build_config(char **out);
void bt_free_string(char *s) BT_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* BT_TORCH_H */
