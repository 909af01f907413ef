/* test_c_api.c: a plain C99 program that links libbt_torch through its
 * header alone, as a C or Go user of the installed library would. It checks
 * that the header is valid C, that the library's symbols resolve with C
 * linkage, and that a small computation gives the right numbers, on the CPU
 * and, when libtorch sees one, on the first CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_torch.h"

static void ok(char *err, const char *what) {
  if (err != NULL) {
    fprintf(stderr, "%s failed: %s\n", what, err);
    bt_free_error(err);
    exit(1);
  }
}

static void check(int cond, const char *what) {
  if (!cond) {
    fprintf(stderr, "check failed: %s\n", what);
    exit(1);
  }
}

/* matmul_on multiplies [[1,2],[3,4]] by itself on a device and checks the
 * product read back on the host. */
static void matmul_on(int device_type) {
  const float a[4] = {1, 2, 3, 4};
  const float want[4] = {7, 10, 15, 22};
  const int64_t shape[2] = {2, 2};
  bt_tensor host = NULL, dev = NULL, prod = NULL;
  float got[4];
  int type = -1, index = -1, i;

  ok(bt_from_data(a, shape, 2, BT_FLOAT32, &host), "bt_from_data");
  ok(bt_to(host, BT_FLOAT32, device_type, 0, &dev), "bt_to");
  ok(bt_binary(BT_MATMUL, dev, dev, &prod), "bt_binary(BT_MATMUL)");
  bt_device(prod, &type, &index);
  check(type == device_type, "product lives on the device asked for");
  check(bt_dim(prod) == 2 && bt_numel(prod) == 4, "product is 2x2");
  ok(bt_copy_out(prod, got, sizeof got), "bt_copy_out");
  for (i = 0; i < 4; i++) check(fabsf(got[i] - want[i]) < 1e-5f, "product values");
  bt_free(prod);
  bt_free(dev);
  bt_free(host);
}

int main(void) {
  const char *version = bt_torch_version();
  char *config = NULL;
  char *err;

  check(version != NULL && strlen(version) > 0, "bt_torch_version is set");
  ok(bt_build_config(&config), "bt_build_config");
  check(config != NULL && strlen(config) > 0, "bt_build_config is set");
  bt_free_string(config);

  /* Errors come back as messages, never as crashes, in C too. */
  err = bt_from_data(NULL, NULL, -1, BT_FLOAT32, NULL);
  check(err != NULL, "a bad call returns an error message");
  bt_free_error(err);

  matmul_on(BT_CPU);
  if (bt_cuda_is_available()) {
    check(bt_cuda_device_count() > 0, "a CUDA runtime has devices");
    check(bt_cuda_runtime_version() > 0, "a CUDA runtime has a version");
    matmul_on(BT_CUDA);
  }
  printf("libtorch %s, CUDA runtime %lld, CUDA devices %d\n", version,
         (long long)bt_cuda_runtime_version(), bt_cuda_device_count());
  return 0;
}
