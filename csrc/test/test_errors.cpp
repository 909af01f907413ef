// Every failing shim call returns libtorch's message; nothing throws across the C API.
#include "check.h"

using namespace bt_test;

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
