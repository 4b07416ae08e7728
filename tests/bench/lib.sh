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

# Prints the cgroups named $1 or $1-* in every mounted hierarchy (v1 controllers, named,
# unified), wherever they were put: the top level or below the caller's cgroup.
bench_cgroups() {
	awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts |
		while read -r m; do
			find "$m" -maxdepth 6 -type d \( -name "$1" -o -name "$1-*" \) -prune -print 2>/dev/null
		done
}

# Removes the cgroups `bench_cgroups $1` prints, innermost first, giving one whose container
# just ended five seconds to settle. rmdir removes only empty cgroups: nothing else is
# touched, and a cgroup still in use is reported and left.
bench_remove_cgroups() {
	local d
	bench_cgroups "$1" | while read -r d; do
		for _ in $(seq 1 25); do
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$d" ] || break
			sleep 0.2
		done
		if [ -d "$d" ]; then echo "warning: cgroup $d not empty, left in place" >&2; fi
	done
}

# Times commands in turns: $1 rounds (after three untimed ones), each command once a round
# in an order that rotates, so that a busy machine's drift weighs on all alike; for costs
# well under that drift. The commands are the lines "NAME<TAB>COMMAND WORDS..." of stdin
# (split on spaces, no shell); writes {"results": [{"command", "times", "cpu", "failed"}]}
# to $2: "cpu" is each run's user + system time (of the command and everything it waited
# for), which a busy machine disturbs less than the wall time. A failed run is counted, not
# timed.
bench_interleaved() {
	python3 -c '
import json, resource, subprocess, sys, time
rounds, out = int(sys.argv[1]), sys.argv[2]
pairs = [(n, c.split()) for n, c in (l.rstrip("\n").split("\t", 1) for l in sys.stdin if l.strip())]
times = {n: [] for n, _ in pairs}
cpu = {n: [] for n, _ in pairs}
failed = {n: 0 for n, _ in pairs}
def used():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime
for r in range(rounds + 3):
    k = r % len(pairs)
    for name, cmd in pairs[k:] + pairs[:k]:
        c, t = used(), time.perf_counter()
        rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
        wall, spent = time.perf_counter() - t, used() - c
        if r < 3:
            continue
        if rc == 0:
            times[name].append(wall)
            cpu[name].append(spent)
        else:
            failed[name] += 1
json.dump({"results": [{"command": n, "times": times[n], "cpu": cpu[n], "failed": failed[n]}
                       for n, _ in pairs]}, open(out, "w"))
' "$1" "$2"
}
