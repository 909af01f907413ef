package torch

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// crashDirEnv, when set, makes TestSaveKilledMidWrite the child process that
// saves checkpoints into that folder until it is killed.
const crashDirEnv = "BT_TORCH_CRASH_DIR"

// crashSaves is the number of complete saves the child makes before the one
// it is killed in.
const crashSaves = 3

// TestSaveKilledMidWrite kills a process in the middle of a save (SIGKILL,
// no chance to clean up) and checks that the checkpoint it was replacing
// still loads, whole, with the last state saved completely.
//
// The child saves crashSaves checkpoints, then starts one more; once the
// shim has written that one's temporary file, the child cuts the file in half
// (as a write that died midway leaves it), reports through a pipe that it is
// inside the save, and blocks. The parent kills it on that report, so the
// kill lands at the same point every run.
func TestSaveKilledMidWrite(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSaveKilledMidWrite$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.ExtraFiles = []*os.File{w} // fd 3 in the child
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer r.Close()

	var saved []int
	inside := false
	lines := bufio.NewScanner(r)
	for !inside && lines.Scan() {
		switch f := strings.Fields(lines.Text()); {
		case len(f) == 2 && f[0] == "saved":
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("child: %q", lines.Text())
			}
			saved = append(saved, n)
		case len(f) == 1 && f[0] == "inside":
			inside = true
		default:
			t.Fatalf("child: %q", lines.Text())
		}
	}
	if !inside {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the child ended before its last save (saved %v)", saved)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the child exited cleanly, want killed")
	}
	if want := []int{1, 2, 3}; !slices.Equal(saved, want) {
		t.Fatalf("child saved %v, want %v", saved, want)
	}

	state, err := Load(filepath.Join(dir, "ckpt"))
	if err != nil {
		t.Fatalf("the checkpoint after a kill mid-save: %v", err)
	}
	got, err := state["w"].Float64s()
	if err != nil {
		t.Fatal(err)
	}
	if want := crashState(crashSaves); !slices.Equal(got, want) {
		t.Fatalf("checkpoint holds %v, want the last complete save %v", got, want)
	}
	// The killed save left its temporary file beside the checkpoint; the
	// next save still replaces the checkpoint.
	if err := Save(filepath.Join(dir, "ckpt"), map[string]*Tensor{"w": FromFloat64(crashState(9))}); err != nil {
		t.Fatalf("save after the crash: %v", err)
	}
	if state, err = Load(filepath.Join(dir, "ckpt")); err != nil {
		t.Fatal(err)
	}
	if got, _ := state["w"].Float64s(); !slices.Equal(got, crashState(9)) {
		t.Fatalf("after a new save: %v", got)
	}
}

// crashState is the tensor the child saves the n-th time.
func crashState(n int) []float64 {
	v := make([]float64, 1000)
	for i := range v {
		v[i] = float64(n*10000 + i)
	}
	return v
}

// crashChild is the child process of TestSaveKilledMidWrite; it never returns.
func crashChild(dir string) {
	report := os.NewFile(3, "report")
	path := filepath.Join(dir, "ckpt")
	for n := 1; n <= crashSaves; n++ {
		if err := Save(path, map[string]*Tensor{"w": FromFloat64(crashState(n))}); err != nil {
			fmt.Fprintln(report, "error", err)
			os.Exit(2)
		}
		fmt.Fprintln(report, "saved", n)
	}
	block := func(tmp string) {
		info, err := os.Stat(tmp)
		if err == nil {
			err = os.Truncate(tmp, info.Size()/2)
		}
		if err != nil {
			fmt.Fprintln(report, "error", err)
			os.Exit(2)
		}
		// Block in a read that nothing ever answers (w stays open).
		r, w, err := os.Pipe()
		if err != nil {
			os.Exit(2)
		}
		fmt.Fprintln(report, "inside")
		r.Read(make([]byte, 1))
		w.Close()
	}
	saveWith(path, map[string]*Tensor{"w": FromFloat64(crashState(crashSaves + 1))}, nil, block)
	os.Exit(3) // not reached
}
