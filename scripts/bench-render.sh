#!/usr/bin/env bash
# `render all` of the 10,000-guest estate against `cp -r` of its own output tree, side by side on
# a fresh journalled ext4 file system (a loop device this script makes; root needed), release build.
# Prints phoenix's load, render and write phases and cp's time, then the last line
# `ratio <phoenix write / cp -r>`. First, validate + render in memory (phoenix-bench) of the
# 1,000-guest and 10,000-guest estates against DESIGN.md §5's budgets (0.25 s and 100 MB; 2 s):
# a median over its budget stops the script with exit 1.
#
# Why a fresh file system: on an ext4 without a journal (this machine's root disk is one), the
# kernel skips every inode deleted in the last 5-10 minutes when it allocates a new one
# (fs/ext4/ialloc.c, recently_deleted), so any run right after an `rm -rf` of a large tree pays
# for the deletes; timings there depend on what was deleted before, not on the writer.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
scratch=${SCRATCH:-.build-release}
swift build -c release --scratch-path "$scratch" --product phoenix >/dev/null
swift build -c release --scratch-path "$scratch" --product phoenix-bench >/dev/null
phoenix=$PWD/$scratch/release/phoenix
"$scratch"/release/phoenix-bench 1000 10000 200 500 "$runs"
"$scratch"/release/phoenix-bench 10000 100000 2000 5000 3
work=$(mktemp -d /tmp/phoenix-bench-render.XXXXXX)
mounted=""
cleanup() {
    if [ -n "$mounted" ]; then umount "$work/fs" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then
    truncate -s 3G "$work/ext4.img"
    mkfs.ext4 -q -F "$work/ext4.img"
    mkdir "$work/fs"
    mount -o loop "$work/ext4.img" "$work/fs"
    mounted=yes
    root="$work/fs"
    echo "on a fresh journalled ext4 (loop device)"
else
    mkdir "$work/fs"
    root="$work/fs"
    echo "not root: on $(df --output=fstype "$work" | tail -1) under $work (see the note above about ext4 without a journal)"
fi
"$scratch"/release/phoenix-bench --write "$root/estate" 10000 100000 2000 5000 >/dev/null
for _ in $(seq "$runs"); do
    rm -rf "$root/out" "$root/copy"
    sync
    "$phoenix" render all --config-dir "$root/estate/etc" --stacks-dir "$root/estate/stacks" --out "$root/out" --node pve --stats 2>&1 >/dev/null | grep '^stats'
    sync
    start=$(date +%s.%N)
    cp -r "$root/out" "$root/copy"
    end=$(date +%s.%N)
    echo "cp -r: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') s"
done | tee "$work/log"
write=$(grep -o 'write [0-9.]*' "$work/log" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
copy=$(grep -o 'cp -r: [0-9.]*' "$work/log" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median: phoenix write $write s, cp -r $copy s"
echo "ratio $(awk -v w="$write" -v c="$copy" 'BEGIN { printf "%.2f", w / c }')"
