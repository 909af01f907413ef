#!/usr/bin/env bash
# start_bittensor.sh runs a neuron in a container, with the 2020 seed's flags.
# See usage below and the README's "Containers" section.
set -euo pipefail

usage() {
	cat <<'USAGE'
usage: ./start_bittensor.sh [flags] [-- extra bittensor run flags]

Runs `bittensor run NEURON` in a container of the bittensor:cpu image (built
first when missing), with its axon and metagraph ports published on this host.

  -n, --neuron NAME          neuron to run (default mnist; see `bittensor neurons`)
  -l, --logdir DIR           host folder for checkpoints, mounted at /logs (default ./logs)
  -p, --port PORT            bind port for accepting requests: the axon's (same as -a)
  -c, --chain_endpoint URL   Bittensor chain endpoint
  -a, --axon_port PORT       axon terminal port, published as is (default: a free port)
  -m, --metagraph_port PORT  metagraph port, published as is (default: a free port)
  -s, --metagraph_size N     metagraph cache size
  -b, --bootstrap PEER       metagraph boot peer: PORT (a neuron on this host) or HOST:PORT
  -k, --neuron_key FILE      host key file, created if missing (default: a fresh key per run)
  -r, --remote_ip IP         address peers reach this neuron at (default: this host's
                             address on Docker's bridge, which reaches the other
                             containers on this host; give a public IP for other hosts)
  -mp, --model_path FILE     host checkpoint to resume training from (mounted read-only)
  -h, --help                 this text

Environment: BITTENSOR_IMAGE (default bittensor:cpu), BITTENSOR_NAME (container name,
default bittensor-NEURON-METAGRAPH_PORT).

Two neurons on one host, each in its own terminal (the seed's walkthrough):
  ./start_bittensor.sh -m 8120
  ./start_bittensor.sh -b 8120
USAGE
}

die() {
	echo "start_bittensor.sh: $*" >&2
	exit 2
}

# free_port prints a TCP port nothing on this host listens on.
free_port() {
	local p i
	for i in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

is_port() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

neuron=mnist logdir=logs chain="" axon="" mport="" msize="" bootstrap="" key="" remote_ip="" model=""
while [ $# -gt 0 ]; do
	arg=$1
	if [[ $arg == --*=* ]]; then # --flag=value
		set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
		arg=$1
	fi
	case $arg in
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-n | --neuron | -l | --logdir | -p | --port | -c | --chain_endpoint | -a | --axon_port | \
		-m | --metagraph_port | -s | --metagraph_size | -b | --bootstrap | -k | --neuron_key | \
		-r | --remote_ip | -mp | --model_path)
		[ $# -ge 2 ] || die "$arg needs a value (see --help)"
		val=$2
		shift 2
		;;
	*) die "unknown flag $arg (see --help)" ;;
	esac
	case $arg in
	-n | --neuron) neuron=$val ;;
	-l | --logdir) logdir=$val ;;
	-p | --port | -a | --axon_port)
		[ -z "$axon" ] || [ "$axon" = "$val" ] || die "-p and -a both set the axon port: $axon or $val?"
		axon=$val
		;;
	-c | --chain_endpoint) chain=$val ;;
	-m | --metagraph_port) mport=$val ;;
	-s | --metagraph_size) msize=$val ;;
	-b | --bootstrap) bootstrap=$val ;;
	-k | --neuron_key) key=$val ;;
	-r | --remote_ip) remote_ip=$val ;;
	-mp | --model_path) model=$val ;;
	esac
done

command -v docker >/dev/null || die "docker is not installed"
[ -n "$axon" ] || axon=$(free_port)
[ -n "$mport" ] || mport=$(free_port)
is_port "$axon" || die "axon port $axon: want 1-65535"
is_port "$mport" || die "metagraph port $mport: want 1-65535"
[ "$axon" != "$mport" ] || die "the axon and metagraph ports are both $axon"

image=${BITTENSOR_IMAGE:-bittensor:cpu}
if ! docker image inspect "$image" >/dev/null 2>&1; then
	echo "start_bittensor.sh: building $image (a few minutes, once)" >&2
	"$(cd "$(dirname "$0")" && pwd)/docker/build-image.sh" "$image" >&2
fi

# This host's address on Docker's default bridge: containers reach the ports
# published here through it.
gateway=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
if [ -z "$gateway" ]; then # not recorded: ask what host-gateway is
	gateway=$(docker run --rm --add-host host.docker.internal:host-gateway --entrypoint getent \
		"$image" ahostsv4 host.docker.internal | awk '{print $1; exit}')
fi
# The neuron binds its ports inside the container and announces
# remote_ip:port, so each port is published under the same number.
if [ -z "$remote_ip" ]; then
	remote_ip=$gateway
	[ -n "$remote_ip" ] || die "cannot find this host's address on Docker's bridge network; give -r"
fi
args=(run "$neuron" --axon_port "$axon" --metagraph_port "$mport" --remote_ip "$remote_ip" --logdir /logs)
run=(--rm --name "${BITTENSOR_NAME:-bittensor-$neuron-$mport}" -p "$axon:$axon" -p "$mport:$mport"
	--add-host host.docker.internal:host-gateway)
[ -t 0 ] && run+=(-i)
[ -t 1 ] && run+=(-t)

# The container runs as the caller, so that what it writes is the caller's;
# for root it runs as the image's unprivileged user, who is given the folders
# it writes to.
mkdir -p "$logdir"
writable=("$logdir")
if [ -n "$bootstrap" ]; then
	# A neuron on this host, seen from the container: at the address the
	# neurons of this host announce, so that peers know it under one name.
	if is_port "$bootstrap"; then
		bootstrap=${gateway:-host.docker.internal}:$bootstrap
	elif [[ $bootstrap == 127.0.0.1:* || $bootstrap == localhost:* ]]; then
		bootstrap=${gateway:-host.docker.internal}:${bootstrap#*:}
	fi
	args+=(--bootstrap "$bootstrap")
fi
[ -z "$chain" ] || args+=(--chain_endpoint "$chain")
[ -z "$msize" ] || args+=(--metagraph_size "$msize")
if [ -n "$key" ]; then
	keydir=$(dirname "$key")
	mkdir -p "$keydir"
	writable+=("$keydir")
	run+=(-v "$(cd "$keydir" && pwd):/keys")
	args+=(--neuron_key "/keys/$(basename "$key")")
fi
if [ -n "$model" ]; then
	[ -f "$model" ] || die "model path $model is not a file"
	run+=(-v "$(cd "$(dirname "$model")" && pwd)/$(basename "$model"):/model/$(basename "$model"):ro")
	args+=(--model_path "/model/$(basename "$model")")
fi
run+=(-v "$(cd "$logdir" && pwd):/logs")
if [ "$(id -u)" != 0 ]; then
	run+=(--user "$(id -u):$(id -g)")
else
	uid=$(docker image inspect "$image" --format '{{.Config.User}}')
	uid=${uid%%:*}
	[[ $uid =~ ^[1-9][0-9]*$ ]] || die "$image runs as user \"$uid\", want a numeric non-root uid"
	[ -z "$key" ] || [ ! -e "$key" ] || writable+=("$key")
	for f in "${writable[@]}"; do
		[ "$(stat -c %u "$f")" = "$uid" ] || chown "$uid" "$f"
	done
fi

echo "start_bittensor.sh: $neuron: axon $remote_ip:$axon, metagraph $remote_ip:$mport, logs in $logdir" >&2
exec docker run "${run[@]}" "$image" "${args[@]}" "$@"
