"""Starts fakepve (PyPI, a third-party fake Proxmox VE 9 API) for phoenix's tests.

Usage: fakepve_server.py SPEC.json, where the spec names the port, a directory for the TLS
certificate, the API tokens and the guests. Prints "CA <path>" and "ready" once it listens.

A VM with "agent_lxc": {"path": P, "name": N} gets a guest agent that really runs: fakepve only
answers agent calls with canned results, so here exec and file-write happen inside the LXC
container N under the LXC path P (through lxc-attach), which stands in for the VM's operating system.

"not_taking": {"<ctid>": ["cores", ...]} makes a container's configuration writes silently leave
those keys as they were, while the others are written: it stands in for a running guest's change
that Proxmox applies only in part (a hotplug that failed for one setting).
"""
import asyncio
import base64
import json
import subprocess
import sys
import threading

from fakepve import FakePve
from fakepve import agent as guest_agent
from fakepve.certs import make_cert
from fakepve.lxc import LxcApi

CANNED_RESULT = guest_agent.result
AGENT_CONTAINERS = {}  # vmid -> (lxc path, container name)
COMMANDS = {}  # (vmid, pid) -> {"done": bool, "code", "out", "err"}
LOG_DIRECTORY = [""]


def run_in_container(vm, command, values):
    """The agent's answer for a VM whose agent runs in an LXC container; canned otherwise."""
    if vm.vmid not in AGENT_CONTAINERS:
        return CANNED_RESULT(vm, command, values)
    path, name = AGENT_CONTAINERS[vm.vmid]
    attach = ["lxc-attach", "-P", path, "-n", name, "--"]
    if command == "exec":
        vm.agent_pid += 1
        entry = {"done": False}
        COMMANDS[(vm.vmid, vm.agent_pid)] = entry
        data = values.get("input-data")

        def run():
            done = subprocess.run(attach + list(values["command"]), input=(data or "").encode(), capture_output=True)
            entry.update(code=done.returncode, out=done.stdout.decode(errors="replace"), err=done.stderr.decode(errors="replace"), done=True)

        threading.Thread(target=run, daemon=True).start()
        return {"pid": vm.agent_pid}
    if command == "exec-status":
        entry = COMMANDS.get((vm.vmid, int(values["pid"])), {"done": True, "code": 127, "out": "", "err": "no such pid"})
        if not entry["done"]:
            return {"exited": False}
        return {"exited": True, "exitcode": entry["code"], "out-data": entry["out"], "err-data": entry["err"]}
    if command == "file-write":
        # encode=1 (the default): Proxmox base64-encodes the content itself; encode=0: it already is.
        raw = str(values.get("encode", 1)).lower() in ("0", "false")
        data = base64.b64decode(values["content"]) if raw else values["content"].encode()
        # What the file was like before the write (its mode, or absent), for the tests to check.
        before = subprocess.run(attach + ["sh", "-c", 'stat -c %a "$1" 2>/dev/null || echo absent', "fake-agent", values["file"]],
                                capture_output=True).stdout.decode().strip()
        with open(LOG_DIRECTORY[0] + "/agent-file-modes.log", "a") as log:
            log.write("%s %s\n" % (before, values["file"]))
        subprocess.run(attach + ["sh", "-c", 'cat > "$1"', "fake-agent", values["file"]], input=data, check=True)
        return None
    return CANNED_RESULT(vm, command, values)


guest_agent.result = run_in_container

NOT_TAKING = {}  # ctid -> keys a configuration write leaves as they were
WRITE_CONFIG = LxcApi._lxc_config_put


async def write_config_in_part(self, user, values):
    ignored = NOT_TAKING.get(int(values["vmid"]), ())
    return await WRITE_CONFIG(self, user, dict((key, value) for key, value in values.items() if key not in ignored))


LxcApi._lxc_config_put = write_config_in_part


async def dump_agent_requests(pve, directory):
    """Writes what the guest agents were asked to agent-requests.log, for the tests to read."""
    while True:
        lines = []
        for vm in pve.vms:
            for command, asked in getattr(vm, "agent_requests", []):
                target = asked.get("file") or " ".join(asked.get("command", []))
                lines.append("%s %s" % (command, target))
        with open(directory + "/agent-requests.log", "w") as handle:
            handle.write("\n".join(lines) + "\n")
        await asyncio.sleep(0.1)


async def main(spec_path):
    with open(spec_path) as handle:
        spec = json.load(handle)
    pve = FakePve(user="root@pam", password=spec.get("password", "secret"), host="127.0.0.1", port=spec["port"])
    pve.time_scale = 0
    LOG_DIRECTORY[0] = spec["directory"]
    for ctid, keys in spec.get("not_taking", {}).items():
        NOT_TAKING[int(ctid)] = tuple(keys)
    for token, secret in spec.get("tokens", {}).items():
        pve.apitokens[token] = secret
    for ct in spec.get("containers", []):
        pve.add_ct(ct["vmid"], ct.get("name"), node=ct.get("node", "pve1"), status=ct.get("status", "stopped"), config=ct.get("config", {}))
    for vm in spec.get("vms", []):
        added = pve.add_vm(vm["vmid"], vm["name"], node=vm.get("node", "pve1"), status=vm.get("status", "stopped"), template=vm.get("template", False),
                           config=vm.get("config", {}))
        if "agent" in vm:
            # What the guest agent answers; "exec" maps a command line to its exec-status.
            added.agent = vm["agent"]
        if "agent_lxc" in vm:
            added.agent = added.agent or {}
            AGENT_CONTAINERS[vm["vmid"]] = (vm["agent_lxc"]["path"], vm["agent_lxc"]["name"])
    if "cert" in spec:
        # A certificate signed by the test's own CA, as pve-root-ca.pem signs a node's certificate.
        cert, key = spec["cert"], spec["key"]
    else:
        cert, key, _ = make_cert(spec["directory"], hosts=("127.0.0.1",))
    await pve.start(cert, key)
    if spec.get("vms"):
        asyncio.get_running_loop().create_task(dump_agent_requests(pve, spec["directory"]))
    print("CA", cert, flush=True)
    print("ready", flush=True)
    await asyncio.Event().wait()


asyncio.run(main(sys.argv[1]))
