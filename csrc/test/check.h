// check.h: the few helpers the shim's C++ tests share. CHECK stays active in
// release builds (unlike assert) and reports the failing expression.
#ifndef BT_TORCH_TEST_CHECK_H
#define BT_TORCH_TEST_CHECK_H

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bt_torch.h"

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                   #cond);                                                   \
      std::exit(1);                                                          \
    }                                                                        \
  } while (0)

// OK checks that a shim call succeeded, printing its message otherwise.
#define OK(call)                                                             \
  do {                                                                       \
    char *bt_err_ = (call);                                                  \
    if (bt_err_ != nullptr) {                                                \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__,     \
                   #call, bt_err_);                                          \
      bt_free_error(bt_err_);                                                \
      std::exit(1);                                                          \
    }                                                                        \
  } while (0)

// fails returns the error message of a call that must fail (and frees it),
// exiting when it succeeded.
#define FAILS(call) bt_test::expect_error((call), #call, __FILE__, __LINE__)

namespace bt_test {

inline std::string expect_error(char *err, const char *what, const char *file, int line) {
  if (err == nullptr) {
    std::fprintf(stderr, "%s:%d: %s succeeded, want an error\n", file, line, what);
    std::exit(1);
  }
  std::string msg(err);
  bt_free_error(err);
  return msg;
}

inline bool contains(const std::string &s, const char *part) {
  return s.find(part) != std::string::npos;
}

inline bt_tensor from_floats(const std::vector<float> &v, std::vector<int64_t> shape) {
  bt_tensor t = nullptr;
  OK(bt_from_data(v.data(), shape.data(), static_cast<int>(shape.size()), BT_FLOAT32, &t));
  return t;
}

inline bt_tensor from_longs(const std::vector<int64_t> &v, std::vector<int64_t> shape) {
  bt_tensor t = nullptr;
  OK(bt_from_data(v.data(), shape.data(), static_cast<int>(shape.size()), BT_INT64, &t));
  return t;
}

inline std::vector<float> floats(bt_tensor t) {
  std::vector<float> out(static_cast<size_t>(bt_numel(t)));
  OK(bt_copy_out(t, out.data(), static_cast<int64_t>(out.size() * sizeof(float))));
  return out;
}

inline std::vector<int64_t> longs(bt_tensor t) {
  std::vector<int64_t> out(static_cast<size_t>(bt_numel(t)));
  OK(bt_copy_out(t, out.data(), static_cast<int64_t>(out.size() * sizeof(int64_t))));
  return out;
}

inline bool near(const std::vector<float> &got, const std::vector<float> &want, float tol = 1e-5f) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::fabs(got[i] - want[i]) > tol * (1 + std::fabs(want[i]))) {
      std::fprintf(stderr, "element %zu: %g, want %g\n", i, got[i], want[i]);
      return false;
    }
  }
  return true;
}

}  // namespace bt_test

#endif  // BT_TORCH_TEST_CHECK_H
