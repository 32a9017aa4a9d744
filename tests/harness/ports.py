"""
tests/harness/ports.py — where the tests pick listener ports: outside the kernel's ephemeral
range (net.ipv4.ip_local_port_range), because a port the kernel can hand to any outgoing
connection may be taken between a test's check that it is free and the broker's bind.
"""


def ephemeral_range():
    """The kernel's (first, last) local port for outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def listener_range(n=1):
    """A (first, last) range for random.randrange(first, last) that leaves room for n
    consecutive ports outside the ephemeral range: below it from 12000, or above it when it
    starts too low."""
    lo, hi = ephemeral_range()
    if lo - 12000 >= n + 2:
        return 12000, lo - n - 1
    return hi + 1, 65535 - n
