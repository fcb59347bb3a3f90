# A real dockerd (Debian's docker.io) in a network namespace of its own, for the lab and the
# benchmarks: its bridges, nft tables and ip_forward stay in there and go with it. Source this file.
#   dockerd_up DIR NAMESPACE HOSTNAME ADDRESS   start it (socket DIR/docker.sock), import lab/busybox:1
#   dockerd_down DIR NAMESPACE                  stop it by its pid, remove the namespace
# The recipe of ../shared/reference/real-components.md §3: nsenter, not `ip netns exec` (which
# remounts /sys), and no registry traffic: the image is busybox-static, imported.

dockerd_up() {
    local dir=$1 ns=$2 name=$3 address=$4
    mkdir -p "$dir/rootfs/bin"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # A veth pair kept inside: an address for the Swarm to advertise (this kernel has no dummy links).
    ip -n "$ns" link add px0 type veth peer name px1
    ip -n "$ns" addr add "$address/24" dev px0
    ip -n "$ns" link set px0 up
    ip -n "$ns" link set px1 up
    nsenter --net="/run/netns/$ns" unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"' "$name" \
        dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
        -H "unix://$dir/docker.sock" --cgroup-parent "/$ns" > "$dir/dockerd.log" 2>&1 &
    echo $! > "$dir/dockerd.launcher.pid"
    for _ in $(seq 1 100); do docker -H "unix://$dir/docker.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
    docker -H "unix://$dir/docker.sock" version >/dev/null
    cp "$(command -v busybox)" "$dir/rootfs/bin/busybox"
    for applet in sh sleep true false cat echo nc ls env test hostname; do ln -sf busybox "$dir/rootfs/bin/$applet"; done
    tar -C "$dir/rootfs" -c . | docker -H "unix://$dir/docker.sock" import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - lab/busybox:1 >/dev/null
}

dockerd_down() {
    local dir=$1 ns=$2
    if [ -f "$dir/dockerd.pid" ]; then
        local pid
        pid=$(cat "$dir/dockerd.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    # What still holds the folder (a shim after a hard stop) goes by its own pid.
    for proc in /proc/[0-9]*; do
        if { tr '\0' ' ' < "$proc/cmdline"; } 2>/dev/null | grep -q -- "$dir/"; then kill -9 "${proc#/proc/}" 2>/dev/null || true; fi
    done
    { grep -o " $dir/[^ ]*" /proc/self/mounts 2>/dev/null || true; } | sort -r | while read -r point; do umount -l "$point" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
}
