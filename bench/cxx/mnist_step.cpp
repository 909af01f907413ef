// mnist_step: the MNIST synapse training step (bench/README.md) written
// directly against libtorch, the reference the Go loop is measured against.
// Usage: bench_mnist_step <steps> <warmup> <threads>; prints "samples/s=<v>".
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

struct Net : torch::nn::Module {
  torch::nn::Linear s1{784, 1024}, s2{1024, 1024};
  torch::nn::Linear f1{784 + 1024, 1024}, f2{1024, 1024};
  torch::nn::Linear t1{1024, 512}, t2{512, 256}, t3{256, 10};

  Net() {
    register_module("s1", s1);
    register_module("s2", s2);
    register_module("f1", f1);
    register_module("f2", f2);
    register_module("t1", t1);
    register_module("t2", t2);
    register_module("t3", t3);
  }

  torch::Tensor target(const torch::Tensor &x) {
    return torch::log_softmax(t3(torch::relu(t2(torch::relu(t1(x))))), 1);
  }

  torch::Tensor step_loss(const torch::Tensor &images, const torch::Tensor &labels) {
    auto x = images.sub(0.1307).div(0.3081).flatten(1);
    auto student = torch::relu(s2(torch::relu(s1(x))));
    auto network = student.detach();
    auto local = torch::relu(f2(torch::relu(f1(torch::cat({x, student}, 1)))));
    auto remote = torch::relu(f2(torch::relu(f1(torch::cat({x, network}, 1)))));
    return torch::nll_loss(target(local), labels) + torch::nll_loss(target(remote), labels) +
           torch::mse_loss(student, network);
  }
};

}  // namespace

int main(int argc, char **argv) {
  int steps = argc > 1 ? std::atoi(argv[1]) : 200;
  int warmup = argc > 2 ? std::atoi(argv[2]) : 20;
  int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const int batch = 64;
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  Net net;
  torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  auto images = torch::rand({batch, 1, 28, 28});
  auto labels = torch::randint(0, 10, {batch}, torch::kInt64);
  auto run = [&](int n) {
    for (int i = 0; i < n; ++i) {
      for (auto &p : net.parameters()) p.mutable_grad() = torch::Tensor();  // set to none, as Go does
      net.step_loss(images, labels).backward();
      opt.step();
    }
  };
  run(warmup);
  auto start = std::chrono::steady_clock::now();
  run(steps);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("samples/s=%.1f\n", steps * batch / secs);
  return 0;
}
