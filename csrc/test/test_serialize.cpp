// Save and load of named tensors and an optimizer's state.
#include <unistd.h>

#include <fstream>

#include "check.h"

using namespace bt_test;

namespace {

std::string temp_path(const char *name) {
  const char *dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/bt_torch_test_" + std::to_string(getpid()) + "_" + name;
}

// step runs one SGD step on loss = Σ (p·c)².
void step(bt_optimizer opt, bt_tensor p) {
  bt_tensor c = from_floats({1, -1, 2}, {3});
  bt_tensor pc = nullptr, sq = nullptr, loss = nullptr;
  OK(bt_optimizer_zero_grad(opt));
  OK(bt_binary(BT_MUL, p, c, &pc));
  OK(bt_unary(BT_SQUARE, pc, &sq));
  OK(bt_reduce(BT_SUM, sq, nullptr, 0, 0, &loss));
  OK(bt_backward(loss, nullptr, 0));
  OK(bt_optimizer_step(opt));
  for (bt_tensor t : {c, pc, sq, loss}) bt_free(t);
}

}  // namespace

int main() {
  std::string path = temp_path("tensors.pt");
  bt_tensor a = from_floats({1, 2, 3, 4}, {2, 2});
  bt_tensor b = from_longs({7, -8}, {2});
  const char *names[] = {"layer.weight", "ids"};
  bt_tensor ts[] = {a, b};
  OK(bt_save(path.c_str(), names, ts, 2, nullptr));

  char **lnames = nullptr;
  bt_tensor *lts = nullptr;
  int n = 0;
  OK(bt_load(path.c_str(), &lnames, &lts, &n, nullptr));
  CHECK(n == 2);
  for (int i = 0; i < n; ++i) {
    std::string name(lnames[i]);
    if (name == "layer.weight") {
      CHECK(near(floats(lts[i]), {1, 2, 3, 4}));
    } else {
      CHECK(name == "ids");
      CHECK((longs(lts[i]) == std::vector<int64_t>{7, -8}));
    }
    bt_free(lts[i]);
  }
  bt_free_names(lnames, n);
  bt_free_array(lts);

  // A truncated copy fails with a message.
  std::string cut = temp_path("cut.pt");
  {
    std::ifstream in(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(cut, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size() / 2));
  }
  std::string msg = FAILS(bt_load(cut.c_str(), &lnames, &lts, &n, nullptr));
  CHECK(!msg.empty());

  // Optimizer state: two optimizers, one restored from the other's checkpoint,
  // take identical steps.
  bt_tensor p1 = from_floats({0.5f, -1, 2}, {3});
  OK(bt_set_requires_grad(p1, 1));
  bt_optimizer_options o{};
  o.lr = 0.05;
  o.momentum = 0.9;
  bt_optimizer opt1 = nullptr;
  OK(bt_optimizer_new(BT_SGD, &p1, 1, &o, &opt1));
  step(opt1, p1);
  step(opt1, p1);
  std::string ckpt = temp_path("ckpt.pt");
  const char *pname[] = {"p"};
  OK(bt_save(ckpt.c_str(), pname, &p1, 1, opt1));

  bt_tensor p2 = from_floats({0, 0, 0}, {3});
  OK(bt_set_requires_grad(p2, 1));
  bt_optimizer opt2 = nullptr;
  OK(bt_optimizer_new(BT_SGD, &p2, 1, &o, &opt2));
  OK(bt_load(ckpt.c_str(), &lnames, &lts, &n, opt2));
  CHECK(n == 1);
  OK(bt_copy_(p2, lts[0]));
  bt_free(lts[0]);
  bt_free_names(lnames, n);
  bt_free_array(lts);

  step(opt1, p1);
  step(opt2, p2);
  CHECK(floats(p1) == floats(p2));  // momentum buffers were restored

  // A file without optimizer state cannot restore one.
  msg = FAILS(bt_load(path.c_str(), &lnames, &lts, &n, opt2));
  CHECK(contains(msg, "no optimizer state"));

  bt_optimizer_free(opt1);
  bt_optimizer_free(opt2);
  for (bt_tensor t : {a, b, p1, p2}) bt_free(t);
  std::remove(path.c_str());
  std::remove(cut.c_str());
  std::remove(ckpt.c_str());
  std::puts("serialize: ok");
  return 0;
}
