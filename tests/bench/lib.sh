# Shared by the benchmark scripts: source it, don't run it.

# Makes and prints a new directory for corral's runtime files (CORRAL_RUN_DIR) named after
# $1, on a tmpfs as /run is on a normal system: /run when it is one, else /dev/shm (this
# development machine's /run is on its disk, which costs every start a few file creations
# on ext4). The caller removes it.
bench_run_dir() {
	local fs=/run
	[ "$(stat -f -c %T /run)" = tmpfs ] || fs=/dev/shm
	mktemp -d "$fs/$1.XXXXXX"
}
