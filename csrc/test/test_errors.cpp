// Every failing shim call returns libtorch's message; nothing throws across the C API.
#include "check.h"

using namespace bt_test;

namespace {

// checkEveryEntryPoint calls each entry point of bt_torch.h with bad
// arguments (NULL handles and out-parameters, negative counts, bad dims and
// shapes, bad thread counts, bad paths) and checks that each returns an error
// (or, for the functions that cannot fail, a neutral answer) and that no
// out-parameter is touched. a is a 2×3 float tensor, idx a long vector.
void checkEveryEntryPoint(bt_tensor a, bt_tensor idx) {
  bt_tensor out = nullptr;
  bt_tensor none = nullptr;
  int64_t shape2[] = {2, 3};
  int64_t two[] = {1, 1};
  int64_t dim0[] = {0};

  // Runtime.
  FAILS(bt_set_num_threads(0));
  FAILS(bt_set_num_threads(-4));
  FAILS(bt_set_malloc_thresholds(0, 1 << 20));
  FAILS(bt_set_malloc_thresholds(1 << 20, -1));
  FAILS(bt_set_malloc_thresholds(int64_t(1) << 40, 1 << 20));
  FAILS(bt_set_malloc_arena_max(0));
  int threads = 0;
  OK(bt_get_num_threads(&threads));
  CHECK(threads >= 1);  // the failed calls changed nothing
  FAILS(bt_get_num_threads(nullptr));
  OK(bt_manual_seed(-1));  // any 64-bit seed is fine
  CHECK(bt_cuda_is_available() == 0 || bt_cuda_device_count() > 0);
  bt_set_grad_enabled(0);
  CHECK(bt_grad_enabled() == 0);
  bt_set_grad_enabled(1);
  CHECK(bt_grad_enabled() == 1);
  bt_free(nullptr);
  bt_free_error(nullptr);
  bt_free_array(nullptr);
  bt_free_names(nullptr, 3);
  bt_optimizer_free(nullptr);

  // Creation.
  float vals[6] = {};
  FAILS(bt_from_data(vals, shape2, -1, BT_FLOAT32, &out));
  FAILS(bt_from_data(vals, nullptr, 2, BT_FLOAT32, &out));
  FAILS(bt_from_data(nullptr, shape2, 2, BT_FLOAT32, &out));
  FAILS(bt_from_data(vals, shape2, 2, BT_FLOAT32, nullptr));
  int64_t negative[] = {-2, 3};
  FAILS(bt_from_data(vals, negative, 2, BT_FLOAT32, &out));
  FAILS(bt_fill(BT_FILL_ZEROS, shape2, 2, BT_FLOAT32, 7, 0, 0, &out));
  FAILS(bt_fill(99, shape2, 2, BT_FLOAT32, BT_CPU, 0, 0, &out));
  FAILS(bt_fill(BT_FILL_ONES, negative, 2, BT_FLOAT32, BT_CPU, 0, 0, &out));
  FAILS(bt_fill(BT_FILL_ONES, shape2, 2, BT_FLOAT32, BT_CPU, 0, 0, nullptr));
  FAILS(bt_randint(5, 1, shape2, 2, BT_INT64, BT_CPU, 0, &out));
  FAILS(bt_randint(0, 5, shape2, -3, BT_INT64, BT_CPU, 0, &out));
  FAILS(bt_arange(0, 10, 0, BT_FLOAT32, BT_CPU, 0, &out));
  FAILS(bt_arange(0, 10, 1, 42, BT_CPU, 0, &out));
  CHECK(out == nullptr);

  // Metadata: NULL reads as a 0-dim, empty CPU leaf; only bt_dtype can fail.
  CHECK(bt_dim(nullptr) == 0);
  CHECK(bt_numel(nullptr) == 0);
  int64_t s[2] = {-7, -7};
  bt_shape(nullptr, s);
  bt_shape(a, nullptr);
  CHECK(s[0] == -7);
  int type = -1, index = -1;
  bt_device(nullptr, &type, &index);
  CHECK(type == BT_CPU && index == 0);
  bt_device(a, nullptr, nullptr);
  CHECK(bt_requires_grad(nullptr) == 0);
  CHECK(bt_is_leaf(nullptr) == 1);
  int dt = -1;
  FAILS(bt_dtype(nullptr, &dt));
  FAILS(bt_dtype(a, nullptr));
  CHECK(dt == -1);

  // Copies and conversions.
  float buf[6];
  FAILS(bt_copy_out(nullptr, buf, sizeof(buf)));
  FAILS(bt_copy_out(a, nullptr, sizeof(buf)));
  double item = 0;
  FAILS(bt_item(nullptr, &item));
  FAILS(bt_item(idx, nullptr));
  FAILS(bt_to(a, 42, BT_CPU, 0, &out));
  FAILS(bt_to(a, BT_FLOAT32, 9, 0, &out));
  FAILS(bt_to(nullptr, BT_FLOAT32, BT_CPU, 0, &out));
  FAILS(bt_assign(nullptr, a));
  FAILS(bt_assign(a, nullptr));
  FAILS(bt_copy_(a, idx));  // 2×3 from 2: no broadcast
  FAILS(bt_copy_(nullptr, a));
  FAILS(bt_add_(idx, a, 1.0));  // 2 from 2×3: no broadcast into a smaller tensor
  FAILS(bt_add_(a, a, 1.0));    // the destination is the source
  FAILS(bt_add_(nullptr, a, 1.0));
  FAILS(bt_add_(a, nullptr, 1.0));

  // Element-wise, binary, scalar ops.
  FAILS(bt_unary(BT_RELU, nullptr, &out));
  FAILS(bt_unary(BT_RELU, a, nullptr));
  FAILS(bt_unary(-1, a, &out));
  FAILS(bt_binary(BT_ADD, a, nullptr, &out));
  FAILS(bt_binary(-1, a, a, &out));
  FAILS(bt_binary(BT_BMM, a, a, &out));  // bmm wants 3-d
  FAILS(bt_scalar(BT_S_ADD, nullptr, 1, &out));
  FAILS(bt_scalar(-1, a, 1, &out));

  // Reductions and dim ops.
  FAILS(bt_reduce(BT_SUM, a, nullptr, 2, 0, &out));
  FAILS(bt_reduce(BT_SUM, a, dim0, -1, 0, &out));
  FAILS(bt_reduce(99, a, dim0, 1, 0, &out));
  FAILS(bt_reduce(BT_MEAN, idx, dim0, 1, 0, &out));  // mean of longs
  FAILS(bt_argmax(a, 5, 1, 0, 0, &out));
  FAILS(bt_argmax(nullptr, 0, 1, 0, 0, &out));
  FAILS(bt_dim_op(BT_SOFTMAX, a, 4, &out));
  FAILS(bt_dim_op(99, a, 0, &out));
  FAILS(bt_dim_op(BT_CUMSUM, nullptr, 0, &out));

  // Shapes.
  FAILS(bt_shape_op(BT_RESHAPE, a, shape2, -1, &out));
  FAILS(bt_shape_op(BT_RESHAPE, a, nullptr, 2, &out));
  FAILS(bt_shape_op(BT_PERMUTE, a, dim0, 1, &out));
  FAILS(bt_shape_op(BT_EXPAND, a, dim0, 1, &out));
  FAILS(bt_shape_op(99, a, shape2, 2, &out));
  FAILS(bt_transpose(a, 0, 2, &out));
  FAILS(bt_transpose(nullptr, 0, 1, &out));
  FAILS(bt_flatten(a, 1, 0, &out));
  FAILS(bt_narrow(a, 0, 1, 5, &out));
  FAILS(bt_narrow(a, 3, 0, 1, &out));

  // Joining and splitting.
  bt_tensor pair[] = {a, idx};
  FAILS(bt_cat(pair, 2, 0, 0, &out));
  FAILS(bt_cat(nullptr, 2, 0, 0, &out));
  FAILS(bt_cat(pair, -1, 0, 0, &out));
  FAILS(bt_cat(pair, 0, 0, 0, &out));  // nothing to join
  bt_tensor with_null[] = {a, nullptr};
  FAILS(bt_cat(with_null, 2, 0, 1, &out));
  bt_tensor *parts = nullptr;
  int nparts = -1;
  FAILS(bt_split(a, 0, 0, 1, &parts, &nparts));  // chunk into 0
  FAILS(bt_split(a, 1, 5, 0, &parts, &nparts));
  FAILS(bt_split(a, 1, 0, 7, &parts, &nparts));
  FAILS(bt_split(a, 1, 0, 0, nullptr, &nparts));
  FAILS(bt_split(a, 1, 0, 0, &parts, nullptr));
  CHECK(parts == nullptr && nparts == -1);

  // Indexing.
  bt_tensor fidx = from_floats({0, 1}, {2});
  FAILS(bt_index_select(a, 0, fidx, &out));
  FAILS(bt_index_select(a, 0, nullptr, &out));
  FAILS(bt_gather(a, 0, idx, &out));  // index rank 1, input rank 2
  FAILS(bt_gather(nullptr, 0, idx, &out));
  FAILS(bt_scatter(a, 0, idx, nullptr, &out));
  FAILS(bt_scatter(a, 4, idx, a, &out));
  FAILS(bt_index_add(a, 0, idx, nullptr, &out));
  FAILS(bt_index_add(a, 7, idx, a, &out));
  FAILS(bt_masked_fill(a, fidx, 0, &out));  // mask must be bool
  FAILS(bt_masked_fill(a, nullptr, 0, &out));
  FAILS(bt_where(fidx, a, a, &out));
  FAILS(bt_where(nullptr, a, a, &out));
  bt_tensor values = nullptr, indices = nullptr;
  FAILS(bt_topk(a, 9, 1, 1, 1, &values, &indices));
  FAILS(bt_topk(a, 1, 1, 1, 1, nullptr, &indices));
  FAILS(bt_topk(a, 1, 1, 1, 1, &values, nullptr));
  FAILS(bt_sort(a, 3, 0, &values, &indices));
  FAILS(bt_sort(a, 0, 0, &values, nullptr));
  FAILS(bt_sort(nullptr, 0, 0, &values, &indices));
  CHECK(values == nullptr && indices == nullptr);

  // Neural-network functions.
  bt_tensor w = from_floats({1, 2, 3, 4}, {2, 2});
  FAILS(bt_linear(a, w, nullptr, &out));  // 3 features into 2
  FAILS(bt_linear(nullptr, w, nullptr, &out));
  bt_tensor img = from_floats(std::vector<float>(16, 1), {1, 1, 4, 4});
  bt_tensor kern = from_floats(std::vector<float>(18, 1), {2, 1, 3, 3});
  FAILS(bt_conv2d(a, kern, nullptr, two, two, two, 1, &out));
  FAILS(bt_conv2d(img, kern, nullptr, nullptr, two, two, 1, &out));
  FAILS(bt_conv2d(img, kern, nullptr, two, two, two, 0, &out));
  int64_t big[] = {9, 9};
  FAILS(bt_pool2d(BT_MAX_POOL2D, img, big, two, two, &out));
  FAILS(bt_pool2d(99, img, two, two, two, &out));
  FAILS(bt_pool2d(BT_AVG_POOL2D, img, nullptr, two, two, &out));
  FAILS(bt_adaptive_pool2d(99, img, two, &out));
  FAILS(bt_adaptive_pool2d(BT_AVG_POOL2D, img, nullptr, &out));
  FAILS(bt_adaptive_pool2d(BT_MAX_POOL2D, nullptr, two, &out));
  bt_tensor rm = from_floats({0, 0, 0}, {3});
  FAILS(bt_batch_norm(img, nullptr, nullptr, rm, rm, 0, 0.1, 1e-5, &out));  // 1 channel, stats of 3
  FAILS(bt_batch_norm(nullptr, nullptr, nullptr, nullptr, nullptr, 1, 0.1, 1e-5, &out));
  FAILS(bt_layer_norm(a, dim0, -1, nullptr, nullptr, 1e-5, &out));
  int64_t five[] = {5};
  FAILS(bt_layer_norm(a, five, 1, nullptr, nullptr, 1e-5, &out));
  FAILS(bt_dropout(a, 1.5, 1, &out));
  FAILS(bt_dropout(nullptr, 0.5, 1, &out));
  FAILS(bt_embedding(a, fidx, -1, &out));  // float indices
  FAILS(bt_embedding(nullptr, idx, -1, &out));
  FAILS(bt_loss(BT_MSE, a, idx, BT_REDUCE_MEAN, &out));
  FAILS(bt_loss(BT_NLL, a, idx, 9, &out));
  FAILS(bt_loss(99, a, a, BT_REDUCE_MEAN, &out));
  FAILS(bt_loss(BT_CROSS_ENTROPY, a, nullptr, BT_REDUCE_MEAN, &out));
  CHECK(out == nullptr);

  // Autograd.
  FAILS(bt_set_requires_grad(nullptr, 1));
  FAILS(bt_grad(nullptr, &out));
  FAILS(bt_grad(a, nullptr));
  FAILS(bt_zero_grad(nullptr));
  FAILS(bt_backward(nullptr, nullptr, 0));
  bt_tensor results[1] = {nullptr};
  FAILS(bt_autograd_grad(&a, 1, &a, 1, nullptr, 0, 0, results));  // a requires no grad
  FAILS(bt_autograd_grad(nullptr, 1, &a, 1, nullptr, 0, 0, results));
  FAILS(bt_autograd_grad(&a, 1, &a, -1, nullptr, 0, 0, results));
  FAILS(bt_autograd_grad(&a, 1, &a, 1, nullptr, 0, 0, nullptr));
  CHECK(results[0] == nullptr);
  double total = 0;
  FAILS(bt_clip_grad_norm(nullptr, 1, 1.0, &total));
  FAILS(bt_accumulate_grad(a, idx, 1.0));  // shapes differ
  FAILS(bt_accumulate_grad(nullptr, a, 1.0));
  FAILS(bt_accumulate_grad(a, nullptr, 1.0));
  FAILS(bt_clip_grad_norm(&a, -1, 1.0, &total));
  FAILS(bt_clip_grad_norm(&a, 1, 1.0, nullptr));
  FAILS(bt_clip_grad_norm(&none, 1, 1.0, &total));

  // A custom function releases its handle when it fails before the graph
  // owns it, and refuses a NULL callback.
  static int released = 0;
  auto release = [](uintptr_t) { ++released; };
  auto backward = [](uintptr_t, bt_tensor *, int, bt_tensor *, int) -> char * { return nullptr; };
  FAILS(bt_custom_function(&a, 1, &a, 1, 1, nullptr, release, results));
  CHECK(released == 1);
  FAILS(bt_custom_function(&none, 1, &a, 1, 2, backward, release, results));
  CHECK(released == 2);
  FAILS(bt_custom_function(&a, -1, &a, 1, 3, backward, release, results));
  CHECK(released == 3);
  FAILS(bt_custom_function(&a, 1, &a, 1, 4, backward, release, nullptr));
  CHECK(released == 4);
  FAILS(bt_custom_function(&a, 1, &a, 1, 5, backward, nullptr, results));
  CHECK(results[0] == nullptr);

  // Serialization.
  const char *names[] = {"a"};
  const char *null_name[] = {nullptr};
  FAILS(bt_save(nullptr, names, &a, 1, nullptr));
  FAILS(bt_save("/nonexistent/dir/bt_torch_test.pt", names, &a, 1, nullptr));
  FAILS(bt_save("/tmp/bt_torch_test_never.pt", nullptr, &a, 1, nullptr));
  FAILS(bt_save("/tmp/bt_torch_test_never.pt", null_name, &a, 1, nullptr));
  FAILS(bt_save("/tmp/bt_torch_test_never.pt", names, &none, 1, nullptr));
  FAILS(bt_save("/tmp/bt_torch_test_never.pt", names, &a, -1, nullptr));
  char **lnames = nullptr;
  bt_tensor *lts = nullptr;
  int n = -1;
  FAILS(bt_load(nullptr, &lnames, &lts, &n, nullptr));
  FAILS(bt_load("/", &lnames, &lts, &n, nullptr));  // a folder
  FAILS(bt_load("/nonexistent/x.pt", nullptr, &lts, &n, nullptr));
  FAILS(bt_load("/nonexistent/x.pt", &lnames, nullptr, &n, nullptr));
  FAILS(bt_load("/nonexistent/x.pt", &lnames, &lts, nullptr, nullptr));
  CHECK(lnames == nullptr && lts == nullptr && n == -1);

  // Optimizers.
  bt_optimizer opt = nullptr;
  bt_optimizer_options o{};
  o.lr = 0.1;
  bt_tensor p = from_floats({1, 2}, {2});
  OK(bt_set_requires_grad(p, 1));
  FAILS(bt_optimizer_new(BT_SGD, &p, 1, nullptr, &opt));
  FAILS(bt_optimizer_new(BT_SGD, &p, 1, &o, nullptr));
  FAILS(bt_optimizer_new(BT_SGD, nullptr, 1, &o, &opt));
  FAILS(bt_optimizer_new(BT_SGD, &p, -1, &o, &opt));
  FAILS(bt_optimizer_new(BT_SGD, &none, 1, &o, &opt));
  o.lr = -1;
  FAILS(bt_optimizer_new(BT_ADAM, &p, 1, &o, &opt));
  o.lr = 0.1;
  CHECK(opt == nullptr);
  FAILS(bt_optimizer_step(nullptr));
  FAILS(bt_optimizer_zero_grad(nullptr));
  FAILS(bt_optimizer_set_lr(nullptr, 0.1));
  bt_optimizer like = nullptr;
  FAILS(bt_optimizer_new_like(nullptr, &like));
  OK(bt_optimizer_new(BT_SGD, &p, 1, &o, &opt));
  FAILS(bt_optimizer_set_lr(opt, -0.5));
  FAILS(bt_optimizer_set_lr(opt, 0));
  FAILS(bt_optimizer_new_like(opt, nullptr));
  FAILS(bt_optimizer_swap(opt, nullptr));
  FAILS(bt_optimizer_swap(nullptr, opt));
  bt_optimizer adam = nullptr, other = nullptr;
  OK(bt_optimizer_new(BT_ADAM, &p, 1, &o, &adam));
  FAILS(bt_optimizer_swap(opt, adam));  // different kinds
  OK(bt_optimizer_new(BT_SGD, &w, 1, &o, &other));
  FAILS(bt_optimizer_swap(opt, other));  // different parameters
  OK(bt_optimizer_new_like(opt, &like));
  OK(bt_optimizer_swap(opt, like));
  OK(bt_optimizer_step(opt));  // no gradients yet: a no-op
  FAILS(bt_load("/nonexistent/x.pt", &lnames, &lts, &n, opt));
  for (bt_optimizer x : {opt, adam, other, like}) bt_optimizer_free(x);

  for (bt_tensor t : {fidx, w, img, kern, rm, p}) bt_free(t);
}

}  // namespace

int main() {
  bt_tensor a = from_floats({1, 2, 3, 4, 5, 6}, {2, 3});
  bt_tensor b = from_floats({1, 2, 3, 4}, {4});

  bt_tensor out = nullptr;
  std::string msg = FAILS(bt_binary(BT_ADD, a, b, &out));
  CHECK(contains(msg, "must match the size of tensor b (4)"));
  CHECK(out == nullptr);  // no handle on failure

  msg = FAILS(bt_binary(BT_MATMUL, a, a, &out));
  CHECK(contains(msg, "cannot be multiplied (2x3 and 2x3)"));

  bt_tensor d = nullptr;
  double one = 1;
  int64_t shape1[] = {1};
  OK(bt_from_data(&one, shape1, 1, BT_FLOAT64, &d));
  msg = FAILS(bt_binary(BT_MATMUL, a, d, &out));
  CHECK(!msg.empty());

  int64_t seven[] = {7};
  msg = FAILS(bt_shape_op(BT_VIEW, a, seven, 1, &out));
  CHECK(contains(msg, "shape '[7]' is invalid for input of size 6"));

  msg = FAILS(bt_from_data(&one, shape1, 1, 99, &out));
  CHECK(contains(msg, "unknown dtype 99"));
  msg = FAILS(bt_unary(1000, a, &out));
  CHECK(contains(msg, "unknown unary op"));

  double item = 0;
  msg = FAILS(bt_item(a, &item));
  CHECK(contains(msg, "cannot be converted to Scalar"));

  float small[2];
  msg = FAILS(bt_copy_out(a, small, sizeof(small)));
  CHECK(contains(msg, "holds 24 bytes, destination 8"));

  int64_t dims[] = {5};
  msg = FAILS(bt_reduce(BT_SUM, a, dims, 1, 0, &out));
  CHECK(contains(msg, "Dimension out of range"));

  bt_tensor idx = from_longs({0, 9}, {2});
  msg = FAILS(bt_index_select(a, 1, idx, &out));
  CHECK(contains(msg, "out of DATA bounds"));

  msg = FAILS(bt_set_requires_grad(idx, 1));
  CHECK(contains(msg, "floating point"));
  msg = FAILS(bt_backward(a, nullptr, 0));
  CHECK(contains(msg, "does not require grad"));

  msg = FAILS(bt_fill(BT_FILL_ZEROS, dims, 1, BT_FLOAT32, BT_CUDA, 0, 0, &out));
  CHECK(!msg.empty() || bt_cuda_is_available());

  bt_optimizer opt = nullptr;
  bt_optimizer_options o{};
  o.lr = 0.1;
  msg = FAILS(bt_optimizer_new(42, &a, 1, &o, &opt));
  CHECK(contains(msg, "unknown optimizer kind"));

  char **names = nullptr;
  bt_tensor *ts = nullptr;
  int n = 0;
  msg = FAILS(bt_load("/nonexistent/bt_torch_test.pt", &names, &ts, &n, nullptr));
  CHECK(!msg.empty());

  checkEveryEntryPoint(a, idx);

  // After all the failures the library still works.
  OK(bt_binary(BT_ADD, a, a, &out));
  CHECK(near(floats(out), {2, 4, 6, 8, 10, 12}));

  bt_free(out);
  bt_free(idx);
  bt_free(d);
  bt_free(b);
  bt_free(a);
  std::puts("errors: ok");
  return 0;
}
