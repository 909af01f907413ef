#!/usr/bin/env bash
# gpu-check.sh verifies the GPU path on a machine with a GPU, a C++ compiler,
# CMake and PyTorch (whose pip wheel holds libtorch's headers and libraries),
# but no Go and no network. It runs from the bundle `make gpu-bundle` makes
# (build/gpu-bundle/, this script at its top):
#
#   1. builds the shim, libbt_torch.so, against the Python torch's libtorch:
#      with CMake (torch.utils.cmake_prefix_path); should CMake's Torch
#      package not configure (a CUDA wheel's TorchConfig wants the CUDA
#      toolkit, which a wheel does not hold), with g++ directly, using the
#      wheel's include and library folders and its C++ ABI flag
#      (torch.compiled_with_cxx11_abi());
#   2. runs the C test program, `bittensor gpucheck`, and the Go test
#      binaries of ./torch/... (built here with -tags bt_shared), all against
#      that library through LD_LIBRARY_PATH;
#   3. trains a lone MNIST neuron (bench/device) for STEPS steps on DEVICE and
#      for CPU_STEPS on the CPU, and prints both `neuron-solo` lines.
#
#   ./gpu-check.sh [--device cuda|cpu] [--steps N] [--cpu_steps N] [--threads N]
#
# PYTHON names the Python with torch (default python3); TORCH_CMAKE_PREFIX
# overrides where CMake looks for libtorch; SHIM_BUILD=gxx skips CMake. With
# --device cpu it checks the same path on a machine without a GPU. Exits
# non-zero on the first failure; the last lines are the summary.
set -euo pipefail

device=cuda steps=300 cpu_steps=100 threads=${THREADS:-1}
while [ $# -gt 0 ]; do
	case $1 in
	--device) device=$2; shift 2 ;;
	--steps) steps=$2; shift 2 ;;
	--cpu_steps) cpu_steps=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	*) echo "usage: $0 [--device cuda|cpu] [--steps N] [--cpu_steps N] [--threads N]" >&2; exit 2 ;;
	esac
done
here=$(cd "$(dirname "$0")" && pwd)
build=$here/shim-build
python=${PYTHON:-python3}
summary=()
step() { printf '\n== %s\n' "$*"; }
note() { summary+=("$*"); echo "$*"; }

# Python is asked from / so that no folder named torch in the working
# directory shadows the installed package.
py() { (cd / && "$python" -c "$1"); }

step "libtorch of $python"
if py 'import torch' 2>/dev/null; then
	torch_version=$(py 'import torch; print(torch.__version__)')
	abi=$(py 'import torch; print(int(torch.compiled_with_cxx11_abi()))')
	prefix=${TORCH_CMAKE_PREFIX:-$(py 'import torch; print(torch.utils.cmake_prefix_path)')}
	includes=$(py 'from torch.utils import cpp_extension as c; print(" ".join(c.include_paths()))')
	libdirs=$(py 'from torch.utils import cpp_extension as c; print(" ".join(c.library_paths()))')
	py_cuda=$(py 'import torch; print(torch.version.cuda, torch.cuda.is_available(), torch.cuda.device_count())')
	note "python torch: $torch_version (cuda runtime, available, devices: $py_cuda), _GLIBCXX_USE_CXX11_ABI=$abi"
else
	echo "$python has no torch; CMake searches its default paths (TORCH_CMAKE_PREFIX to choose)" >&2
	torch_version="" abi="" prefix=${TORCH_CMAKE_PREFIX:-} includes="" libdirs=""
fi

step "build libbt_torch.so"
rm -rf "$build"
mkdir -p "$build"
t0=$(date +%s)
cmake_ok=0
if [ "${SHIM_BUILD:-cmake}" = cmake ]; then
	args=(-DCMAKE_BUILD_TYPE=Release -DBT_BUILD_BENCH=OFF)
	[ -d "$prefix" ] && args+=(-DCMAKE_PREFIX_PATH="$prefix")
	[ "$device" = cpu ] || args+=(-DBT_REQUIRE_CUDA=ON)
	if cmake -S "$here/src" -B "$build" "${args[@]}" >"$build/configure.log" 2>&1; then
		grep '^-- bt_torch:' "$build/configure.log" || true
		cmake --build "$build" -j"$(nproc)"
		cmake_ok=1
		(cd "$build" && ctest --output-on-failure)
	else
		tail -n 15 "$build/configure.log"
		echo "CMake could not configure against this libtorch; building with g++ directly" >&2
	fi
fi
if [ "$cmake_ok" = 0 ]; then
	[ -n "$abi" ] || { echo "no Python torch to take the include and library folders from" >&2; exit 1; }
	incflags=() libflags=()
	for d in $includes; do incflags+=(-I"$d"); done
	for d in $libdirs; do libflags+=(-L"$d" -Wl,-rpath,"$d"); done
	cuda_libs=()
	for d in $libdirs; do
		if [ -e "$d/libtorch_cuda.so" ]; then
			# Nothing in the shim refers to libtorch_cuda by symbol: without
			# --no-as-needed the linker could drop it and CUDA would not load.
			cuda_libs=(-Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed)
		fi
	done
	if [ "$device" != cpu ] && [ ${#cuda_libs[@]} = 0 ]; then
		echo "this libtorch has no libtorch_cuda.so (in: $libdirs)" >&2
		exit 1
	fi
	g++ -std=c++17 -O2 -fPIC -shared -D_GLIBCXX_USE_CXX11_ABI="$abi" -Wno-deprecated-declarations \
		-I"$here/src/csrc" "${incflags[@]}" -o "$build/libbt_torch.so.1" "$here/src/csrc/bt_torch.cpp" \
		-Wl,-soname,libbt_torch.so.1 "${libflags[@]}" "${cuda_libs[@]}" -ltorch -ltorch_cpu -lc10
	ln -sf libbt_torch.so.1 "$build/libbt_torch.so"
	mkdir -p "$build/csrc/test"
	gcc -std=c99 -O2 -I"$here/src/csrc" -o "$build/csrc/test/bt_torch_test_c_api" \
		"$here/src/csrc/test/test_c_api.c" -L"$build" -Wl,-rpath,"$build" -lbt_torch -lm
	"$build/csrc/test/bt_torch_test_c_api"
fi
note "shim build: $([ "$cmake_ok" = 1 ] && echo cmake || echo g++), $(($(date +%s) - t0)) s"
if readelf -d "$build/libbt_torch.so.1" | grep -q 'NEEDED.*libtorch_cuda'; then
	note "libbt_torch.so.1 links libtorch_cuda"
else
	note "libbt_torch.so.1 links no libtorch_cuda (CPU libtorch)"
fi
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

step "bittensor gpucheck"
require=()
[ "$device" = cpu ] || require=(--require_cuda)
"$here/bin/bittensor" gpucheck "${require[@]}" | tee "$build/gpucheck.txt"
note "gpucheck: $(grep -E '^(libtorch|cuda runtime|cuda devices):' "$build/gpucheck.txt" | tr '\n' ' ')"

step "Go tests of ./torch/... against the library"
for t in $(cd "$here/tests" && find . -name '*.test' | sort); do
	dir=$here/tests/$(dirname "$t")
	echo "-- ${t#./}"
	# Test binaries run in their package's folder, where their testdata is.
	(cd "$dir" && "./$(basename "$t")" -test.count=1 -test.timeout=10m)
done
note "go tests: ok ($(cd "$here/tests" && find . -name '*.test' | wc -l) packages)"

if [ "$device" = cpu ]; then
	step "neuron-solo: $cpu_steps steps on cpu"
else
	step "neuron-solo: $steps steps on $device, $cpu_steps on cpu"
fi
bench=("$here/bin/bench-device" -data_dir "$here/mnist" -threads "$threads")
# (Assigned first: set -e does not see a failure inside an argument.)
if [ "$device" != cpu ]; then
	line=$("${bench[@]}" -device "$device" -steps "$steps")
	note "$line"
fi
line=$("${bench[@]}" -device cpu -steps "$cpu_steps")
note "$line"

step summary
printf '%s\n' "${summary[@]}"
