# Bittensor in Go. `make test` sets up a fresh Debian 12 / Ubuntu machine and runs
# every test; `make run` sets up and trains an MNIST neuron.
SHELL := /bin/bash
GO ?= go
APT_PACKAGES := libtorch-dev libopenblas0-pthread protobuf-compiler cmake g++ etcd-server fortunes chromium dataset-fashion-mnist debootstrap
# LIBTORCH=/path/to/libtorch builds against another libtorch (e.g. a CUDA build).
ifdef LIBTORCH
export CGO_CPPFLAGS := -I$(LIBTORCH)/include -I$(LIBTORCH)/include/torch/csrc/api/include $(CGO_CPPFLAGS)
export CGO_LDFLAGS := -L$(LIBTORCH)/lib -Wl,-rpath,$(LIBTORCH)/lib $(CGO_LDFLAGS)
CMAKE_PREFIX := -DCMAKE_PREFIX_PATH=$(LIBTORCH)
endif
FUZZTIME ?= 4000x
BUILD := build

.PHONY: setup deps build test unit race ctest fuzz proto proto-check bench run vet clean bench-learning
.PHONY: test-shared install-shim test-libtorch2 gpu-bundle docker-cuda
.PHONY: docker-images docker-test docker-test-if-engine

## setup: install the system packages and Go modules the project needs (idempotent).
setup: .setup-stamp
.setup-stamp: Makefile
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(GO) mod download
	@touch $@

build: setup
	$(GO) build ./...

vet: setup
	$(GO) vet ./...

## test: every test: Go unit and multi-process tests, the race detector over neuron and torch,
## C++ ctest, proto freshness, short fuzz runs.
test: setup proto-check vet unit race ctest test-shared fuzz docker-test-if-engine

unit: setup
	$(GO) test -count=1 -timeout 20m ./...

## race: the neuron and torch packages under the race detector.
race: setup
	$(GO) test -race -count=1 -timeout 20m ./neuron/... ./torch/...

ctest: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_PREFIX) >/dev/null
	cmake --build $(BUILD) -j2
	cd $(BUILD) && ctest --output-on-failure

fuzz: setup
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME)

## test-shared: the shim as a shared library (CMake, ctest) and the torch tests linked
## against it with -tags bt_shared (the cgo build's torch tests run in `unit`).
test-shared: setup
	SKIP_CGO=1 GO=$(GO) scripts/torch-tests.sh $(BUILD)/shared $(CMAKE_PREFIX)

## install-shim: install libbt_torch.so and bt_torch.h under PREFIX (default /usr/local).
PREFIX ?= /usr/local
install-shim: test-shared
	cmake --install $(BUILD)/shared --prefix $(PREFIX)

## test-libtorch2: the torch tests and ctest (cgo and shared-library builds) against
## libtorch 2.6 in a Debian trixie container (docker/Dockerfile.libtorch2).
LIBTORCH2_IMAGE := bittensor-libtorch2
test-libtorch2:
	docker/base-image.sh trixie golang:1.26-trixie --go
	docker build -q --network host -t $(LIBTORCH2_IMAGE) -f docker/Dockerfile.libtorch2 docker
	mkdir -p $(BUILD)/libtorch2/gocache
	docker run --rm --network none --user $$(id -u):$$(id -g) -e HOME=/tmp \
		-e GOCACHE=/src/$(BUILD)/libtorch2/gocache -e GOFLAGS=-mod=mod -e GOPROXY=off \
		-v $(CURDIR):/src -v $$($(GO) env GOMODCACHE):/go/pkg/mod:ro -w /src \
		$(LIBTORCH2_IMAGE) scripts/torch-tests.sh $(BUILD)/libtorch2/cmake

## gpu-bundle: what scripts/gpu-check.sh needs on a GPU machine without Go, in
## $(BUILD)/gpu-bundle: the shim's sources, bt_shared Go binaries and test binaries, MNIST.
gpu-bundle: setup
	cmake -S . -B $(BUILD)/shared -DCMAKE_BUILD_TYPE=Release -DBT_BUILD_BENCH=OFF $(CMAKE_PREFIX) >/dev/null
	cmake --build $(BUILD)/shared -j2 --target bt_torch
	GO=$(GO) scripts/gpu-bundle.sh $(BUILD)/shared $(BUILD)/gpu-bundle

## docker-cuda: the GPU image, bittensor:cuda (docker/Dockerfile.cuda).
docker-cuda:
	GO=$(GO) docker/build-cuda-image.sh bittensor:cuda

## proto: regenerate proto/*.pb.go from proto/bittensor.proto.
proto: setup
	PATH="$$(pwd)/.bin:$$PATH"; mkdir -p .bin; \
	$(GO) build -o .bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go; \
	$(GO) build -o .bin/protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc; \
	protoc --plugin=protoc-gen-go=.bin/protoc-gen-go --plugin=protoc-gen-go-grpc=.bin/protoc-gen-go-grpc \
		-I proto --go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative proto/bittensor.proto

## proto-check: fail when the committed generated code is stale.
proto-check: proto
	@git diff --exit-code -- proto/ || { echo "proto/: generated code is stale; run make proto and commit"; exit 1; }

## bench: the side-by-side benchmarks (see bench/README.md).
## Run it on an otherwise idle machine: the references spin OpenMP threads.
bench: setup
	@dpkg -s python3-torch >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -qq --no-install-recommends python3-torch; }
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_PREFIX) >/dev/null
	cmake --build $(BUILD) -j2 --target bench_mnist_step
	$(GO) run ./bench/cmd/bench -cxx $(BUILD)/bench_mnist_step
	$(GO) run ./bench/gossip
	$(GO) run ./bench/chain
	$(GO) run ./bench/wire
	$(GO) run ./bench/neuron
	$(GO) run ./bench/chaos
	$(GO) run ./bench/flood

## bench-learning: test accuracy against steps of real neurons: alone, a pair, a newcomer joining
## a pre-trained pair (see bench/learning; hours on 2 cores). LEARNING_FLAGS="-steps 300 -interval 50
## -seeds 1 -train_examples 19200" is a short run.
bench-learning: setup
	$(GO) run ./bench/learning -out bench/learning $(LEARNING_FLAGS)

## docker-images: the base images (debootstrap: no registry needed) and the CPU image.
DOCKER_IMAGE ?= bittensor:cpu
docker-images: setup
	docker/build-image.sh $(DOCKER_IMAGE)

## docker-test: build the image, then the multi-host tests: neurons in containers on a
## private network (join, kill, partition); see internal/testing/dockertest.
docker-test: docker-images
	$(GO) vet -tags dockertest ./internal/testing/dockertest
	BITTENSOR_IMAGE=$(DOCKER_IMAGE) $(GO) test -tags dockertest -count=1 -v -timeout 15m ./internal/testing/dockertest

## docker-test-if-engine: docker-test where a Docker engine answers (make test runs it).
docker-test-if-engine:
	@if docker info >/dev/null 2>&1; then $(MAKE) docker-test; \
	else echo "docker-test: skipped: no Docker engine here (docker info failed)"; fi

## run: set up and train an MNIST neuron with the default flags.
run: setup
	$(GO) run ./cmd/bittensor run mnist

clean:
	rm -rf $(BUILD) .bin .setup-stamp
