import asyncio
import ipaddress

import pytest

from mednet_notify.dispatch import FirmLanes
from mednet_notify.webhooks import refusal

REFUSED = ["127.0.0.1", "127.255.0.1", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1",
           "169.254.169.254", "100.64.0.1", "100.127.255.254", "fc00::1", "fd00:ec2::254", "fe80::1", "fec0::1",
           "224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1", "0.0.0.0", "::", "255.255.255.255", "240.0.0.1",
           "192.0.2.1", "198.18.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
           "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:c0a8:1::1", "2001:db8::1",
           "fe80::1%1", "::ffff:8.8.8.8", "64:ff9b::808:808"]
ALLOWED = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e"]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address):
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    assert refusal(ipaddress.ip_address(address)) is None


def test_loopback_is_allowed_only_by_the_local_setting_and_never_in_embedded_forms():
    assert refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal(ipaddress.ip_address("::1"), allow_loopback=True) is None
    assert refusal(ipaddress.ip_address("::ffff:127.0.0.1"), allow_loopback=True) is not None
    assert refusal(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) is not None


async def test_lanes_hand_out_firms_in_turn_and_at_most_per_firm_at_once():
    lanes = FirmLanes(per_firm=2)
    for n in range(4):
        lanes.put("slow", f"slow-{n}")
    lanes.put("calm", "calm-0")
    taken = [await lanes.get() for _ in range(3)]
    assert taken == [("slow", "slow-0"), ("calm", "calm-0"), ("slow", "slow-1")]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(lanes.get(), 0.05)
    lanes.done("slow")
    assert await asyncio.wait_for(lanes.get(), 1) == ("slow", "slow-2")
    assert lanes.running("slow") == 2 and lanes.drain() == ["slow-3"]
