package main

import (
	"strings"
	"testing"
)

// `bittensor run cifar` has the common flags and --dataset; bad settings and
// missing data exit 2 with one line saying what to do.
func TestRunCIFARFlags(t *testing.T) {
	code, stdout, _ := runCLI(t, "neurons")
	if code != 0 || !strings.Contains(stdout, "\ncifar ") {
		t.Fatalf("neurons: exit %d, stdout %q; want cifar listed", code, stdout)
	}
	code, stdout, _ = runCLI(t, "run", "cifar", "--help")
	for _, flag := range []string{"dataset", "data_dir", "batch_size", "model_path", "bootstrap"} {
		if code != 0 || !strings.Contains(stdout, "--"+flag+" ") || !strings.Contains(stdout, "$BT_"+strings.ToUpper(flag)) {
			t.Errorf("run cifar --help does not document --%s and $BT_%s", flag, strings.ToUpper(flag))
		}
	}
	if _, stdout, _ := runCLI(t, "run", "mnist", "--help"); strings.Contains(stdout, "--dataset") {
		t.Error("run mnist --help offers cifar's --dataset")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "cifar", "--dataset", "imagenet", "--logdir", t.TempDir()}, `--dataset: "imagenet", want cifar10 or fashion-mnist`},
		{[]string{"run", "cifar", "--logdir", t.TempDir()}, "--data_dir: CIFAR-10 needs its files: download"},
		{[]string{"run", "cifar", "--data_dir", t.TempDir(), "--logdir", t.TempDir()}, "has no data_batch_1.bin"},
		{[]string{"run", "cifar", "--dataset", "fashion-mnist", "--data_dir", "/nonexistent", "--logdir", t.TempDir()},
			"apt-get install dataset-fashion-mnist"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line saying %q", c.args, code, stderr, c.want)
		}
	}
}
