"""Network namespaces joined to this one by veth pairs, with packet loss made between them.

Media tests and the room benchmark run browsers or participants in one namespace and the server
on the host, so media crosses real interfaces (not loopback). In between is a second namespace
that routes between the two and drops a share of the UDP packets it forwards, in each direction
(iptables ``statistic`` match in its FORWARD chain): loss on the way from a sender to the server
and on the way from the server to a receiver, as on a real network. Dropping in the browsers'
own namespace would not do: a packet refused on its way out fails the sender's ``sendmsg`` and
Chromium sends it again, so nothing is lost; and this kernel has no ``sch_netem`` for ``tc``.

    host 10.213.N.1 ── 10.213.N.2 [router] 10.213.N.5 ── 10.213.N.6 [inner]

Needs root, ``ip`` and ``iptables``; ``namespace_problem()`` says why not. Nothing is routed
anywhere but between these addresses: the host gets one route, to the inner /30 through the
router, removed with the links.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=20)


@dataclass(frozen=True)
class Namespace:
    name: str  # where the browsers or participants run
    router: str  # between them and the host: drops packets
    host_address: str  # the end in this (the root) namespace: where the server listens
    inner_address: str  # the address inside ``name``

    def command(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def set_udp_loss(self, percent: float) -> None:
        """Drop ``percent`` % of the UDP packets going each way (TCP, so signaling and pages,
        is never dropped). 0 removes the loss."""
        _run("ip", "netns", "exec", self.router, "iptables", "-F", "FORWARD")
        if percent > 0:
            _run(
                "ip", "netns", "exec", self.router, "iptables", "-A", "FORWARD", "-p", "udp",
                "-m", "statistic", "--mode", "random", "--probability", f"{percent / 100:.4f}",
                "-j", "DROP",
            )  # fmt: skip

    def wrap(self, executable: str, folder: Path) -> str:
        """A script that runs ``executable`` inside the namespace (for Playwright's launch)."""
        script = folder / f"in-{self.name}-{Path(executable).name}"
        script.write_text(f'#!/bin/sh\nexec ip netns exec {self.name} {executable} "$@"\n')
        script.chmod(0o755)
        return str(script)


def namespace_problem() -> str | None:
    """Why this machine cannot make namespaces with loss, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install iproute2 iptables)"
    probe = f"duetprobe{os.getpid()}"
    try:
        _run("ip", "netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"ip netns add failed: {exc.stderr.strip()}"
    try:
        _run(
            "ip", "netns", "exec", probe, "iptables", "-A", "FORWARD", "-m", "statistic",
            "--mode", "random", "--probability", "0.5", "-j", "DROP",
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        return f"iptables' statistic match is not available: {exc.stderr.strip()}"
    finally:
        _run("ip", "netns", "del", probe)
    return None


@contextmanager
def network_namespace() -> Iterator[Namespace]:
    """Fresh namespaces and links on 10.213.N.0/29 (N from the process id), removed after."""
    pid = os.getpid()
    number = pid % 250 + 1
    prefix = f"10.213.{number}"
    namespace = Namespace(f"duet{pid}", f"duetr{pid}", f"{prefix}.1", f"{prefix}.6")
    host_link, router_up = f"dh{pid}"[:15], f"dru{pid}"[:15]
    router_down, inner_link = f"drd{pid}"[:15], f"dn{pid}"[:15]

    def inside(where: str, *args: str) -> None:
        _run("ip", "netns", "exec", where, *args)

    _run("ip", "netns", "add", namespace.router)
    try:
        _run("ip", "netns", "add", namespace.name)
        _run("ip", "link", "add", host_link, "type", "veth", "peer", "name", router_up)
        _run("ip", "link", "set", router_up, "netns", namespace.router)
        _run("ip", "addr", "add", f"{prefix}.1/30", "dev", host_link)
        _run("ip", "link", "set", host_link, "up")
        inside(namespace.router, "ip", "link", "add", router_down, "type", "veth", "peer",
               "name", inner_link)  # fmt: skip
        inside(namespace.router, "ip", "link", "set", inner_link, "netns", namespace.name)
        inside(namespace.router, "ip", "addr", "add", f"{prefix}.2/30", "dev", router_up)
        inside(namespace.router, "ip", "addr", "add", f"{prefix}.5/30", "dev", router_down)
        for link in (router_up, router_down, "lo"):
            inside(namespace.router, "ip", "link", "set", link, "up")
        inside(namespace.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        inside(namespace.name, "ip", "addr", "add", f"{prefix}.6/30", "dev", inner_link)
        inside(namespace.name, "ip", "link", "set", inner_link, "up")
        inside(namespace.name, "ip", "link", "set", "lo", "up")
        # Chromium gathers no ICE candidates without a default route; the router's has none
        # beyond the host's /30, so nothing goes further.
        inside(namespace.name, "ip", "route", "add", "default", "via", f"{prefix}.5")
        _run("ip", "route", "add", f"{prefix}.4/30", "via", f"{prefix}.2", "dev", host_link)
        yield namespace
    finally:
        subprocess.run(["ip", "link", "del", host_link], capture_output=True, timeout=20)
        for name in (namespace.name, namespace.router):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
