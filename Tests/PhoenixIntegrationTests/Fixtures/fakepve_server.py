"""Starts fakepve (PyPI, a third-party fake Proxmox VE 9 API) for phoenix's tests.

Usage: fakepve_server.py SPEC.json, where the spec names the port, a directory for the TLS
certificate, the API tokens and the guests. Prints "CA <path>" and "ready" once it listens.
"""
import asyncio
import json
import sys

from fakepve import FakePve
from fakepve.certs import make_cert


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
