package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/neuron/keys"
)

// runCLI runs the command line and returns its exit status, standard output
// and standard error.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	errFile, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	var stdout bytes.Buffer
	code := run(append([]string{"bittensor"}, args...), &stdout, errFile)
	stderr, err := os.ReadFile(errFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), string(stderr)
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown neuron", nil, []string{"run", "cifar100"}, `unknown neuron "cifar100"`},
		{"no neuron", nil, []string{"run"}, "which neuron?"},
		{"chain endpoint", nil, []string{"run", "mnist", "--chain_endpoint", "1.2.3.4:12345"}, "--chain_endpoint: \"1.2.3.4:12345\" is not an etcd endpoint"},
		{"chain endpoint from env", map[string]string{"BT_CHAIN_ENDPOINT": "x:1"}, []string{"run", "mnist"}, "--chain_endpoint"},
		{"bad bootstrap", nil, []string{"run", "mnist", "--bootstrap", "localhost"}, `--bootstrap: "localhost" is not HOST:PORT`},
		{"unresolvable bootstrap", nil, []string{"run", "mnist", "--bootstrap", "bootstrap.invalid:8120", "--logdir", "TMP"}, `--bootstrap: cannot resolve "bootstrap.invalid"`},
		{"bootstrap port", nil, []string{"run", "mnist", "--bootstrap", "127.0.0.1:99999"}, "want 1 to 65535"},
		{"port range", nil, []string{"run", "mnist", "--axon_port", "70000"}, "--axon_port: port 70000 is out of range"},
		{"metrics port", map[string]string{"BT_METRICS_PORT": "-2"}, []string{"run", "mnist"}, "--metrics_port: port -2 is out of range"},
		{"bad env value", map[string]string{"BT_EPOCHS": "many"}, []string{"run", "mnist"}, `"BT_EPOCHS"`},
		{"env validated", map[string]string{"BT_BATCH_SIZE": "0"}, []string{"run", "mnist"}, "--batch_size: 0"},
		{"unknown flag", nil, []string{"run", "mnist", "--lr", "3"}, "flag provided but not defined: -lr"},
		{"optimizer", nil, []string{"run", "bert", "--optimizer", "lamb"}, `--optimizer: "lamb", want one of sgd, adam, adamw`},
		{"learning rate", nil, []string{"run", "mnist", "--learning_rate", "-1"}, "--learning_rate: -1, want a finite value > 0"},
		{"warm-up from env", map[string]string{"BT_WARMUP_STEPS": "-2"}, []string{"run", "cifar"}, "--warmup_steps: -2"},
		{"stray argument", nil, []string{"run", "mnist", "extra"}, `unexpected argument "extra"`},
		{"device", nil, []string{"run", "mnist", "--device", "tpu"}, `--device: "tpu", want cpu, cuda or cuda:N`},
		{"remote ip", nil, []string{"run", "mnist", "--remote_ip", "my-host"}, `--remote_ip: "my-host" is not an IP address`},
		{"log level", nil, []string{"--log_level", "loud", "run", "mnist"}, "--log_level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			args := slices.Clone(c.args)
			if i := slices.Index(args, "TMP"); i >= 0 {
				args[i] = t.TempDir()
			}
			code, _, stderr := runCLI(t, args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "bittensor: ") || !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q, want one line mentioning %q", stderr, c.want)
			}
		})
	}
}

func TestHelpEverywhere(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"run", "mnist", "--help"}, {"keygen", "--help"}, {"neurons", "--help"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || !strings.Contains(stdout, "USAGE:") || stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and a usage text", args, code, stdout, stderr)
		}
	}
	_, stdout, _ := runCLI(t, "run", "mnist", "--help")
	for _, flag := range []string{"chain_endpoint", "axon_port", "metagraph_port", "metagraph_size", "bootstrap", "neuron_key",
		"remote_ip", "model_path", "logdir", "data_dir", "epochs", "batch_size", "device", "log_interval"} {
		if !strings.Contains(stdout, "--"+flag+" ") || !strings.Contains(stdout, "$BT_"+strings.ToUpper(flag)) {
			t.Errorf("run mnist --help does not document --%s and $BT_%s", flag, strings.ToUpper(flag))
		}
	}
}

func TestNeuronsListsMNIST(t *testing.T) {
	code, stdout, _ := runCLI(t, "neurons")
	if code != 0 || !strings.HasPrefix(stdout, "mnist ") {
		t.Fatalf("exit %d, stdout %q; want mnist listed", code, stdout)
	}
}

func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "neuron.key")
	code, stdout, stderr := runCLI(t, "keygen", "--neuron_key", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	key, err := keys.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "public key: "+key.PublicHex()) {
		t.Fatalf("stdout %q does not show the public key %s", stdout, key.PublicHex())
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", st.Mode(), err)
	}
	if code, _, stderr := runCLI(t, "keygen", "--neuron_key", path); code != 2 || !strings.Contains(stderr, "--force") {
		t.Fatalf("second keygen: exit %d, %q; want 2 and a hint to --force", code, stderr)
	}
	t.Setenv("BT_NEURON_KEY", path)
	if code, _, _ := runCLI(t, "keygen", "--force"); code != 0 {
		t.Fatalf("keygen --force with BT_NEURON_KEY: exit %d", code)
	}
	if again, err := keys.LoadKey(path); err != nil || again.PublicHex() == key.PublicHex() {
		t.Fatalf("--force did not replace the key (%v)", err)
	}
}

func TestBERTNeuronListedAndUsageErrors(t *testing.T) {
	code, stdout, _ := runCLI(t, "neurons")
	if code != 0 || !strings.Contains(stdout, "\nbert ") {
		t.Fatalf("exit %d, stdout %q; want bert listed", code, stdout)
	}
	missing := filepath.Join(t.TempDir(), "no-corpus")
	code, _, stderr := runCLI(t, "run", "bert", "--data_dir", missing, "--logdir", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "--data_dir: no corpus folder") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("run bert with a missing --data_dir: exit %d, stderr %q; want 2 and one line", code, stderr)
	}
}
