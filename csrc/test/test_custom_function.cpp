// A custom autograd function whose backward is a plain C function pointer.
#include "check.h"

using namespace bt_test;

namespace {

int backward_calls = 0;
int releases = 0;

// The state a caller hangs on the handle: here, the input of f(x) = x³.
struct Cube {
  bt_tensor x;
};

// backward of x³: grad · 3x².
char *cube_backward(uintptr_t handle, bt_tensor *grads, int ngrads, bt_tensor *input_grads, int nin) {
  ++backward_calls;
  if (ngrads != 1 || nin != 1) return strdup("unexpected arity");
  auto *c = reinterpret_cast<Cube *>(handle);
  bt_tensor sq = nullptr, three = nullptr, out = nullptr;
  char *err = bt_unary(BT_SQUARE, c->x, &sq);
  if (err == nullptr) err = bt_scalar(BT_S_MUL, sq, 3, &three);
  if (err == nullptr) err = bt_binary(BT_MUL, three, grads[0], &out);
  bt_free(sq);
  bt_free(three);
  if (err != nullptr) return err;
  input_grads[0] = out;  // the shim takes ownership
  return nullptr;
}

char *failing_backward(uintptr_t, bt_tensor *, int, bt_tensor *, int) {
  ++backward_calls;
  return strdup("remote peer refused the gradient");
}

void release(uintptr_t handle) {
  ++releases;
  delete reinterpret_cast<Cube *>(handle);
}

// attach returns x³ computed outside autograd, attached to x's graph.
bt_tensor attach(bt_tensor x, bt_backward_fn fn) {
  bt_tensor detached = nullptr, cube = nullptr, result = nullptr;
  OK(bt_unary(BT_DETACH, x, &detached));
  OK(bt_scalar(BT_S_POW, detached, 3, &cube));
  auto *state = new Cube{detached};
  OK(bt_custom_function(&x, 1, &cube, 1, reinterpret_cast<uintptr_t>(state), fn, release, &result));
  bt_free(cube);
  return result;
}

}  // namespace

int main() {
  bt_tensor x = from_floats({1, -2, 0.5f}, {3});
  OK(bt_set_requires_grad(x, 1));

  bt_tensor y = attach(x, cube_backward);
  CHECK(bt_requires_grad(y) == 1);
  CHECK(near(floats(y), {1, -8, 0.125f}));

  // loss = Σ y·w with w = [1, 2, 3]: dloss/dx = 3x²·w.
  bt_tensor w = from_floats({1, 2, 3}, {3});
  bt_tensor yw = nullptr, loss = nullptr, g = nullptr;
  OK(bt_binary(BT_MUL, y, w, &yw));
  OK(bt_reduce(BT_SUM, yw, nullptr, 0, 0, &loss));
  OK(bt_backward(loss, nullptr, 0));
  CHECK(backward_calls == 1);
  OK(bt_grad(x, &g));
  CHECK(near(floats(g), {3, 24, 2.25f}));

  // Freeing the graph's last handles releases the callback state once.
  bt_free(loss);
  bt_free(yw);
  bt_free(y);
  CHECK(releases == 1);

  // An error from the callback comes back from backward, as a message.
  OK(bt_zero_grad(x));
  bt_tensor z = attach(x, failing_backward), zs = nullptr;
  OK(bt_reduce(BT_SUM, z, nullptr, 0, 0, &zs));
  std::string msg = FAILS(bt_backward(zs, nullptr, 0));
  CHECK(contains(msg, "remote peer refused the gradient"));
  CHECK(backward_calls == 2);
  bt_free(zs);
  bt_free(z);
  CHECK(releases == 2);

  // With no input requiring grad, the callback is never called and the state is released.
  bt_tensor plain = from_floats({1, 2}, {2});
  bt_tensor p = attach(plain, cube_backward);
  CHECK(bt_requires_grad(p) == 0);
  CHECK(releases == 3);
  bt_free(p);
  bt_free(plain);

  bt_free(g);
  bt_free(w);
  bt_free(x);
  CHECK(backward_calls == 2);
  std::puts("custom_function: ok");
  return 0;
}
