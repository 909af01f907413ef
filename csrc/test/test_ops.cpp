// A few ops' values through the C API, against hand-computed results.
#include "check.h"

using namespace bt_test;

int main() {
  bt_tensor a = from_floats({1, 2, 3, 4, 5, 6}, {2, 3});
  bt_tensor b = from_floats({1, 0, -1}, {3, 1});
  CHECK(bt_dim(a) == 2 && bt_numel(a) == 6);
  int64_t shape[2];
  bt_shape(a, shape);
  CHECK(shape[0] == 2 && shape[1] == 3);
  int dtype = -1;
  OK(bt_dtype(a, &dtype));
  CHECK(dtype == BT_FLOAT32);
  int dev = -1, idx = -1;
  bt_device(a, &dev, &idx);
  CHECK(dev == BT_CPU);

  bt_tensor mm = nullptr;  // [2,3]·[3,1] = [1-3, 4-6]
  OK(bt_binary(BT_MATMUL, a, b, &mm));
  CHECK(near(floats(mm), {-2, -2}));

  bt_tensor bc = nullptr;  // broadcasting [2,3] + [3]
  bt_tensor row = from_floats({10, 20, 30}, {3});
  OK(bt_binary(BT_ADD, a, row, &bc));
  CHECK(near(floats(bc), {11, 22, 33, 14, 25, 36}));

  bt_tensor s = nullptr;
  int64_t dim1[] = {1};
  OK(bt_reduce(BT_SUM, a, dim1, 1, 0, &s));
  CHECK(near(floats(s), {6, 15}));
  bt_tensor mean = nullptr;
  OK(bt_reduce(BT_MEAN, a, nullptr, 0, 0, &mean));
  double m = 0;
  OK(bt_item(mean, &m));
  CHECK(m == 3.5);

  bt_tensor sm = nullptr;  // softmax of equal values is uniform
  bt_tensor same = from_floats({2, 2, 2, 2}, {4});
  OK(bt_dim_op(BT_SOFTMAX, same, 0, &sm));
  CHECK(near(floats(sm), {0.25f, 0.25f, 0.25f, 0.25f}));

  bt_tensor tr = nullptr;  // transpose, copied out in C order
  OK(bt_transpose(a, 0, 1, &tr));
  CHECK(near(floats(tr), {1, 4, 2, 5, 3, 6}));

  bt_tensor relu = nullptr;
  bt_tensor mixed = from_floats({-1, 0.5f, -0.25f, 2}, {4});
  OK(bt_unary(BT_RELU, mixed, &relu));
  CHECK(near(floats(relu), {0, 0.5f, 0, 2}));

  bt_tensor vals = nullptr, inds = nullptr;
  OK(bt_topk(mixed, 2, 0, 1, 1, &vals, &inds));
  CHECK(near(floats(vals), {2, 0.5f}));
  CHECK((longs(inds) == std::vector<int64_t>{3, 1}));

  bt_tensor *parts = nullptr;
  int nparts = 0;
  OK(bt_split(a, 2, 1, 0, &parts, &nparts));
  CHECK(nparts == 2);
  CHECK(near(floats(parts[0]), {1, 2, 4, 5}));
  CHECK(near(floats(parts[1]), {3, 6}));
  for (int i = 0; i < nparts; ++i) bt_free(parts[i]);
  bt_free_array(parts);

  bt_tensor cat = nullptr;
  bt_tensor pair[] = {row, row};
  OK(bt_cat(pair, 2, 0, 1, &cat));  // stack
  bt_shape(cat, shape);
  CHECK(shape[0] == 2 && shape[1] == 3);

  bt_tensor logits = from_floats({0, 0, 0, 0}, {2, 2});
  bt_tensor target = from_longs({0, 1}, {2});
  bt_tensor ce = nullptr;
  OK(bt_loss(BT_CROSS_ENTROPY, logits, target, BT_REDUCE_MEAN, &ce));
  double loss = 0;
  OK(bt_item(ce, &loss));
  CHECK(std::fabs(loss - std::log(2.0)) < 1e-6);

  // Gradients: d/dx Σ x² = 2x.
  bt_tensor x = from_floats({1, -2, 3}, {3});
  OK(bt_set_requires_grad(x, 1));
  bt_tensor sq = nullptr, total = nullptr, g = nullptr;
  OK(bt_unary(BT_SQUARE, x, &sq));
  OK(bt_reduce(BT_SUM, sq, nullptr, 0, 0, &total));
  OK(bt_backward(total, nullptr, 0));
  OK(bt_grad(x, &g));
  CHECK(g != nullptr);
  CHECK(near(floats(g), {2, -4, 6}));

  // Seeded random numbers repeat.
  int64_t n5[] = {5};
  bt_tensor r1 = nullptr, r2 = nullptr;
  OK(bt_manual_seed(7));
  OK(bt_fill(BT_FILL_RANDN, n5, 1, BT_FLOAT32, BT_CPU, 0, 0, &r1));
  OK(bt_manual_seed(7));
  OK(bt_fill(BT_FILL_RANDN, n5, 1, BT_FLOAT32, BT_CPU, 0, 0, &r2));
  CHECK(floats(r1) == floats(r2));

  for (bt_tensor t : {a, b, mm, bc, row, s, mean, sm, same, tr, relu, mixed, vals, inds, cat, logits,
                      target, ce, x, sq, total, g, r1, r2}) {
    bt_free(t);
  }
  std::puts("ops: ok");
  return 0;
}
