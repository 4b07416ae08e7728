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

# Times commands in turns: $1 rounds (after three untimed ones), each command once a round
# in an order that rotates, so that a busy machine's drift weighs on all alike; for costs
# well under that drift. The commands are the lines "NAME<TAB>COMMAND WORDS..." of stdin
# (split on spaces, no shell); writes {"results": [{"command", "times", "failed"}]} to $2.
# A failed run is counted, not timed.
bench_interleaved() {
	python3 -c '
import json, subprocess, sys, time
rounds, out = int(sys.argv[1]), sys.argv[2]
pairs = [(n, c.split()) for n, c in (l.rstrip("\n").split("\t", 1) for l in sys.stdin if l.strip())]
times = {n: [] for n, _ in pairs}
failed = {n: 0 for n, _ in pairs}
for r in range(rounds + 3):
    k = r % len(pairs)
    for name, cmd in pairs[k:] + pairs[:k]:
        t = time.perf_counter()
        rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
        if r < 3:
            continue
        if rc == 0:
            times[name].append(time.perf_counter() - t)
        else:
            failed[name] += 1
json.dump({"results": [{"command": n, "times": times[n], "failed": failed[n]} for n, _ in pairs]},
          open(out, "w"))
' "$1" "$2"
}
